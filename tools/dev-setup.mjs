// `npm start` runs this before `wrangler dev`: on first run it writes .dev.vars (git-ignored) with a freshly
// generated session secret and the Durable Object store, so the reference worker needs no external service.
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";

if (existsSync(".dev.vars")) {
  console.log("dev-setup: using the existing .dev.vars");
} else {
  const ext = {
    instanceName: "local-sessions",
    storageType: "durable-object",
    sessionSecret: randomBytes(64).toString("base64url"),
    externalStoreFilePath: "./src/stores/durable-object/store-module.ts",
  };
  writeFileSync(
    ".dev.vars",
    "# Written by tools/dev-setup.mjs for local development only; never commit or reuse this secret.\n" +
      `EXT_SESSION_MGT=${JSON.stringify(ext)}\n`,
    { mode: 0o600 },
  );
  console.log("dev-setup: wrote .dev.vars with a new local session secret and the Durable Object store");
}
