import { execFile, spawn } from "node:child_process";
import { connect } from "node:net";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../tools/redis-rest/redis-server.js";
import { SECRET, startRedisStack, waitFor, type RedisStack } from "../support/node.js";

/*
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh project outside this
 * repository, used there the way the README says. Dependency versions are the ones this repository
 * tests with (so the npm cache serves them).
 */
const run = promisify(execFile);
const root = resolve(".");
const versionOf = (name: string) =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

let project: string;
let stack: RedisStack;

const ext = (storageType: string, externalStoreFilePath?: string) =>
  JSON.stringify({ instanceName: "install-test", storageType, sessionSecret: SECRET, externalStoreFilePath });

async function files(entries: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(entries)) {
    await mkdir(join(project, path, ".."), { recursive: true });
    await writeFile(join(project, path), text);
  }
}

async function inProject(command: string, args: string[], env: Record<string, string> = {}) {
  return await run(command, args, {
    cwd: project,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

beforeAll(async () => {
  stack = await startRedisStack();
  const dir = await mkdtemp(join(tmpdir(), "hes-install-"));
  await run("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: root });
  const { version } = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as { version: string };
  project = join(dir, "app");
  await files({
    "package.json": JSON.stringify({
      private: true,
      type: "module",
      dependencies: {
        "hono-edge-session": `file:../hono-edge-session-${version}.tgz`,
        hono: versionOf("hono"),
        "@hono/node-server": versionOf("@hono/node-server"),
        "@upstash/redis": versionOf("@upstash/redis"),
        wrangler: versionOf("wrangler"),
        typescript: versionOf("typescript"),
        "@cloudflare/workers-types": versionOf("@cloudflare/workers-types"),
        "@types/node": versionOf("@types/node"),
      },
    }),
  });
  await inProject("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]);
}, 300_000);

afterAll(async () => {
  await stack?.stop();
  if (project !== undefined) await rm(join(project, ".."), { recursive: true, force: true });
});

/** The app of the README, on Redis. */
const REDIS_APP = `import { Hono } from "hono";
import { session, type SessionEnv } from "hono-edge-session";
import { redisStore } from "hono-edge-session/redis";

type Data = { user?: string; cart?: string[] };
const app = new Hono<SessionEnv<Data>>();
app.use(session<Data>({ redis: redisStore() }));
app.post("/cart", async (c) => c.json(await c.var.session.update((data) => void (data.cart = [...(data.cart ?? []), "sku-1"]))));
export default app;
`;

/** The same app on the Durable Object store, configured the application router's way. */
const DURABLE_OBJECT_APP = `import { Hono } from "hono";
import { session, type SessionEnv } from "hono-edge-session";

type Data = { user?: string };
const app = new Hono<SessionEnv<Data>>();
app.use(session<Data>());
app.get("/", async (c) => c.json(await c.var.session.get()));
export default app;
export { SessionStoreObject } from "hono-edge-session/durable-object";
`;

/** Whether something listens on the port (a refused connection is a port nobody holds). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Bytes of a bundle, as uploaded and as gzipped. */
async function bundleSize(path: string): Promise<{ kib: number; gzipKib: number }> {
  const bytes = await readFile(path);
  const kib = (n: number) => Math.round((n / 1024) * 10) / 10;
  return { kib: kib((await stat(path)).size), gzipKib: kib(gzipSync(bytes).length) };
}

describe("the package, installed from its tarball in a fresh project", () => {
  it("builds a Redis app and a Durable Object app with wrangler deploy --dry-run, shipping Redis only to the first", async () => {
    await files({
      "src/redis.ts": REDIS_APP,
      "src/durable-object.ts": DURABLE_OBJECT_APP,
      "wrangler.redis.toml": ['name = "redis-app"', 'main = "src/redis.ts"', 'compatibility_date = "2026-04-01"'].join(
        "\n",
      ),
      "wrangler.durable-object.toml": [
        'name = "do-app"',
        'main = "src/durable-object.ts"',
        'compatibility_date = "2026-04-01"',
        "[build]",
        'command = "npx hono-edge-session-store"',
        "[alias]",
        '"hono-edge-session/custom-store" = "./.hono-edge-session/custom-store.js"',
        "[[durable_objects.bindings]]",
        'name = "SESSION_STORE"',
        'class_name = "SessionStoreObject"',
        "[[migrations]]",
        'tag = "v1"',
        'new_sqlite_classes = ["SessionStoreObject"]',
      ].join("\n"),
      ".dev.vars": `EXT_SESSION_MGT=${ext("durable-object", "hono-edge-session/durable-object")}\n`,
    });
    const wrangler = join(project, "node_modules/wrangler/bin/wrangler.js");
    for (const name of ["redis", "durable-object"]) {
      await inProject(process.execPath, [
        wrangler,
        "deploy",
        "--dry-run",
        "--outdir",
        `dist-${name}`,
        "-c",
        `wrangler.${name}.toml`,
      ]);
    }
    const redisBundle = await readFile(join(project, "dist-redis/redis.js"), "utf8");
    const doBundle = await readFile(join(project, "dist-durable-object/durable-object.js"), "utf8");
    expect(redisBundle).toContain("upstash-sync-token"); // the Redis client is in
    expect(doBundle).not.toContain("upstash-sync-token"); // and not here
    expect(doBundle).toContain("CREATE TABLE IF NOT EXISTS sessions");
    const sizes = {
      redis: await bundleSize(join(project, "dist-redis/redis.js")),
      durableObject: await bundleSize(join(project, "dist-durable-object/durable-object.js")),
    };
    console.log(`bundle sizes (wrangler deploy --dry-run): ${JSON.stringify(sizes)}`);
    expect(sizes.durableObject.kib).toBeLessThan(sizes.redis.kib);
  }, 120_000);

  it("keeps a session on the Redis store across two requests in a plain Node server", async () => {
    const port = await freePort();
    await files({
      "server.mjs": `import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { session } from "hono-edge-session";
import { redisStore } from "hono-edge-session/redis";

const app = new Hono()
  .use(session({ redis: redisStore({ url: process.env.REST_URL, token: process.env.REST_TOKEN }), cookie: { secure: false } }))
  .get("/visits", async (c) => c.json(await c.var.session.update((data) => void (data.visits = (data.visits ?? 0) + 1))));
serve({ fetch: app.fetch, port: Number(process.env.PORT) }, () => console.log("listening"));
`,
    });
    const server = spawn(process.execPath, ["server.mjs"], {
      cwd: project,
      env: {
        ...process.env,
        PORT: String(port),
        REST_URL: stack.gateway.url,
        REST_TOKEN: stack.gateway.token,
        EXT_SESSION_MGT: ext("redis"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    server.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    server.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(async () => output.includes("listening") || server.exitCode !== null, "the server", 15_000);
      expect(output).toContain("listening");
      const first = await fetch(`http://127.0.0.1:${port}/visits`);
      expect(await first.json()).toEqual({ visits: 1 });
      const cookie = first.headers
        .getSetCookie()
        .map((header) => header.split(";")[0])
        .join("; ");
      const second = await fetch(`http://127.0.0.1:${port}/visits`, { headers: { cookie } });
      expect(await second.json()).toEqual({ visits: 2 });
      expect(await stack.client.keys("install-test:*")).toHaveLength(1);
    } finally {
      server.kill();
    }
  }, 60_000);

  it("runs the hono-edge-session-redis-rest command for the real @upstash/redis client, and stops it with its redis-server on Ctrl-C", async () => {
    const port = await freePort();
    const token = "install-test-token";
    // The link npm made: runs only if the built file kept its shebang and was made executable.
    const command = spawn(
      join(project, "node_modules/.bin/hono-edge-session-redis-rest"),
      ["--port", String(port), "--token", token],
      {
        cwd: project,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    command.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    command.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    let spawnFailed = false;
    command.once("error", (error) => {
      spawnFailed = true;
      output += String(error);
    });
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      command.once("exit", (code, signal) => resolve([code, signal])),
    );
    try {
      await waitFor(
        async () => output.includes("Ctrl-C stops it.") || command.exitCode !== null || spawnFailed,
        "the command to be ready",
        15_000,
      );
      const ready = /private redis-server on 127\.0\.0\.1:(\d+); Upstash REST API on (\S+)/.exec(output);
      expect(ready, output).not.toBeNull();
      const [, redisPort, url] = ready!;
      expect(url).toBe(`http://127.0.0.1:${port}`);

      await files({
        "upstash-client.mjs": `import { Redis } from "@upstash/redis";

const redis = new Redis({ url: process.env.REST_URL, token: process.env.REST_TOKEN, enableTelemetry: false });
const set = await redis.set("greeting", "héllo ✓");
const get = await redis.get("greeting");
const hset = await redis.hset("user:1", { name: "ada", visits: 7 });
const hgetall = await redis.hgetall("user:1");
console.log(JSON.stringify({ set, get, hset, hgetall }));
`,
      });
      const { stdout } = await inProject(process.execPath, ["upstash-client.mjs"], {
        REST_URL: url!,
        REST_TOKEN: token,
      });
      expect(JSON.parse(stdout)).toEqual({ set: "OK", get: "héllo ✓", hset: 2, hgetall: { name: "ada", visits: 7 } });

      command.kill("SIGINT");
      expect(await exited).toEqual([0, null]);
      expect(await accepts(Number(redisPort))).toBe(false); // its private redis-server went with it
      expect(await accepts(port)).toBe(false);
    } finally {
      // SIGTERM, not SIGKILL: the command stops its redis-server on the way out.
      if (command.exitCode === null && command.signalCode === null) command.kill("SIGTERM");
    }
  }, 60_000);

  it("type-checks under strict settings with a Node-only lib", async () => {
    await files({
      "check/app.ts": REDIS_APP.replace(
        "export default app;",
        `import { MemoryStore, SessionConfigError, type SessionEvent, type UserCustomStore } from "hono-edge-session";
const store: UserCustomStore = new MemoryStore();
const seen: SessionEvent[] = [];
export const other = session({ secret: "x".repeat(64), store, onEvent: (event) => void seen.push(event) });
export const isConfigError = (error: unknown) => error instanceof SessionConfigError;
export default app;`,
      ),
      "check/tsconfig.json": JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          lib: ["ES2022"],
          types: ["node"],
          strict: true,
          exactOptionalPropertyTypes: true,
          noPropertyAccessFromIndexSignature: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          noEmit: true,
        },
        include: ["app.ts"],
      }),
    });
    const tsc = join(project, "node_modules/typescript/bin/tsc");
    const result = await inProject(process.execPath, [tsc, "-p", "check"]).catch((error: { stdout: string }) => error);
    expect(result.stdout).toBe("");
  }, 60_000);
});
