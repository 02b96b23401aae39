import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserJar, COMPATIBILITY_DATE, SECRET, startRedisStack, waitFor, type RedisStack } from "../support/node.js";

const run = promisify(execFile);
const root = resolve(".");
const project = resolve(`test/.tmp/seed-store-${process.pid}`);
const STORE_PATH = "./storage/my-special-storage";
const ext = (path: string) =>
  JSON.stringify({ instanceName: "seed", storageType: "custom", sessionSecret: SECRET, externalStoreFilePath: path });

let stack: RedisStack;
let bundle: string;
const running: Miniflare[] = [];

/** A user's project: the reference worker, and the seed-sample store bundled by `wrangler deploy --dry-run`. */
beforeAll(async () => {
  stack = await startRedisStack();
  await mkdir(join(project, "storage"), { recursive: true });
  await copyFile("test/fixtures/seed-store/my-special-storage.js", join(project, "storage/my-special-storage.js"));
  // A CommonJS project, as the application router's users have.
  await writeFile(join(project, "package.json"), JSON.stringify({ private: true, type: "commonjs" }));
  await writeFile(
    join(project, "storage/store-config.json"),
    JSON.stringify({ url: stack.gateway.url, token: stack.gateway.token, namespace: "bundle-test" }),
  );
  const up = relative(project, root);
  await writeFile(
    join(project, "wrangler.toml"),
    [
      'name = "seed-store-app"',
      `main = "${up}/app/worker.ts"`,
      `compatibility_date = "${COMPATIBILITY_DATE}"`,
      "[build]",
      `command = "node ${up}/bin/hono-edge-session-store.mjs ${STORE_PATH}"`,
      "[alias]",
      '"hono-edge-session/custom-store" = "./.hono-edge-session/custom-store.js"',
    ].join("\n"),
  );
  // As a deploying CI would: the build command names the store; EXT_SESSION_MGT is nowhere in the build.
  const { EXT_SESSION_MGT: _configuration, ...environment } = process.env;
  await run(
    process.execPath,
    [join(root, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", "dist"],
    { cwd: project, env: { ...environment, WRANGLER_SEND_METRICS: "false", CI: "true" } },
  );
  bundle = join(project, "dist/worker.js");
}, 120_000);

afterAll(async () => {
  await Promise.all(running.splice(0).map((mf) => mf.dispose()));
  await stack?.stop();
  await rm(project, { recursive: true, force: true });
});

function miniflare(path: string, logs: string[]): Miniflare {
  return new Miniflare({
    modules: true,
    scriptPath: bundle,
    modulesRoot: join(project, "dist"),
    compatibilityDate: COMPATIBILITY_DATE,
    bindings: { EXT_SESSION_MGT: ext(path) },
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      stdout.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
      stderr.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
    },
  });
}

async function isolate(path: string, logs: string[] = []): Promise<Miniflare> {
  const mf = miniflare(path, logs);
  await mf.ready;
  running.push(mf);
  return mf;
}

async function send(mf: Miniflare, browser: BrowserJar, path: string, method = "GET", json?: unknown) {
  const res = await mf.dispatchFetch(`https://app.test${path}`, {
    method,
    headers: {
      ...(browser.cookie ? { Cookie: browser.cookie } : {}),
      ...(json ? { "Content-Type": "application/json" } : {}),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  browser.take(res);
  return res;
}

describe("a custom store bundled at build time", () => {
  it("is in the bundle wrangler produced", async () => {
    const text = await readFile(bundle, "utf8");
    expect(text).toContain("seed-sample-custom-store");
    expect(text).toContain("SessionStoreObject");
  });

  it("receives only sealed sessions, and carries a session across the loss of an isolate", async () => {
    const browser = new BrowserJar();
    const first = await isolate(STORE_PATH);
    const res = await send(first, browser, "/session", "PUT", { user: "grace", secretNote: "plaintext-must-not-leak" });
    expect(res.status).toBe(200);
    let keys: string[] = [];
    await waitFor(
      async () => (keys = await stack.client.keys("seed-sample-custom-store:bundle-test:*")).length === 1,
      "the backup",
    );
    const stored = (await stack.client.get(keys[0]!))!;
    expect(stored).toMatch(/^AQ[A-Za-z0-9_-]+$/); // format version 1, base64url: the sealed form
    expect(stored).not.toContain("grace");
    expect(stored).not.toContain("plaintext-must-not-leak");

    await first.dispose();
    running.splice(running.indexOf(first), 1);
    const second = await isolate(STORE_PATH);
    const again = await send(second, browser, "/session");
    expect(await again.json()).toEqual({ user: "grace", secretNote: "plaintext-must-not-leak" });
  });

  it("does not start when the configuration names another module, naming both", async () => {
    const logs: string[] = [];
    const mf = miniflare("./storage/other-storage", logs);
    await expect(mf.ready).rejects.toThrow(/failed to start/);
    await mf.dispose().catch(() => {});
    await waitFor(async () => logs.join("").includes("other-storage"), "the error log");
    const log = logs.join("");
    expect(log).toContain('"./storage/other-storage"');
    expect(log).toContain(`"${STORE_PATH}"`);
    expect(log).not.toContain(SECRET);
  });
});
