// `npm start`: the reference worker on `wrangler dev`, on the embedded default (the Durable Object store).
// On first run it writes .dev.vars (git-ignored, mode 600) with a freshly generated session secret. Then it
// runs `wrangler dev` (extra arguments are passed on), without the Request.cf lookup: the reference worker
// does not read request.cf, and offline the lookup only prints a failed DNS query as an error.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

if (existsSync(".dev.vars")) {
  console.log("start: using the existing .dev.vars");
} else {
  const ext = {
    instanceName: "local-sessions",
    storageType: "durable-object",
    sessionSecret: randomBytes(64).toString("base64url"),
    externalStoreFilePath: "./src/stores/durable-object/index.ts",
  };
  writeFileSync(
    ".dev.vars",
    "# Written by `npm start` for local development only; never commit or reuse this secret.\n" +
      `EXT_SESSION_MGT=${JSON.stringify(ext)}\n`,
    { mode: 0o600 },
  );
  console.log("start: wrote .dev.vars with a new local session secret and the Durable Object store");
}

const wrangler = createRequire(import.meta.url).resolve("wrangler/bin/wrangler.js");
const child = spawn(process.execPath, [wrangler, "dev", ...process.argv.slice(2)], {
  stdio: "inherit",
  env: { CLOUDFLARE_CF_FETCH_ENABLED: "false", ...process.env },
});
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
