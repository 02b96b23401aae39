import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../tools/redis-rest/redis-server.js";
import { BrowserJar, waitFor } from "../support/node.js";
import { block, devVarsOf, packagesOf, readQuickStarts } from "../support/quick-starts.js";

/*
 * The package as a user gets it: `npm pack`, installed from the tarball into a fresh project outside this
 * repository, and used as the README says. Each quick start is built from the README's own blocks
 * (test/support/quick-starts.ts), with the packages its install block names, as a deploying CI would:
 * `wrangler deploy --dry-run`, with no .dev.vars and no EXT_SESSION_MGT in the environment. The built worker
 * then runs in Miniflare (the bindings wrangler would give it, from its wrangler.toml) with the
 * configuration only as a binding, from the README's .dev.vars block. The three apps share one
 * node_modules (one install); dependency versions are the ones this repository tests with (so the npm
 * cache serves them).
 */
const run = promisify(execFile);
const root = resolve(".");
const versionOf = (name: string) =>
  (JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
const quickStarts = readQuickStarts(join(root, "README.md"));

let project: string;
let wrangler: string;
let secret: string;
const running: Miniflare[] = [];

/** Runs in the project (or one of its apps) as a CI job would: nothing of the session configuration in its environment. */
async function inProject(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
) {
  const { EXT_SESSION_MGT: _configuration, ...environment } = process.env;
  return await run(command, args, {
    cwd: options.cwd ?? project,
    env: { ...environment, WRANGLER_SEND_METRICS: "false", CI: "true", ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The output of a command that must fail. */
async function failureOf(command: Promise<unknown>): Promise<string> {
  const error = await command.then(
    () => undefined,
    (error: { stdout?: string; stderr?: string }) => error,
  );
  expect(error, "the command succeeded").toBeDefined();
  return `${error!.stdout ?? ""}${error!.stderr ?? ""}`;
}

/** The packages the README's install blocks name, at the versions this repository tests with. */
function dependencies(...setUps: string[]): Record<string, string> {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const tarball = `file:../hono-edge-session-${version}.tgz`;
  const deps: Record<string, string> = {};
  for (const setUp of setUps) {
    for (const [name, spec] of packagesOf(block(quickStarts, setUp, "install"))) {
      if (name !== "hono-edge-session") expect(versionOf(name).startsWith(spec), `${name}@${spec}`).toBe(true);
      deps[name] = name === "hono-edge-session" ? tarball : versionOf(name);
    }
  }
  return deps;
}

/** An app directory holding a quick start's files, as the README gives them (never its .dev.vars). */
async function writeApp(name: string, setUp: string, files: Record<string, string> = {}): Promise<string> {
  const app = join(project, "apps", name);
  const quickStart = quickStarts.get(setUp);
  if (quickStart === undefined) throw new Error(`README: no quick start "${setUp}"`);
  const entries = [...quickStart].filter(([file]) => file.includes(".") && file !== ".dev.vars");
  for (const [file, text] of [...entries, ...Object.entries(files)]) {
    await mkdir(dirname(join(app, file)), { recursive: true });
    await writeFile(join(app, file), text);
  }
  return app;
}

/** `wrangler deploy --dry-run --outdir dist`, with neither .dev.vars nor .env (nor EXT_SESSION_MGT) around. */
function build(app: string) {
  for (const file of [".dev.vars", ".env"]) expect(existsSync(join(app, file)), file).toBe(false);
  return inProject(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", "dist"], { cwd: app });
}

const built = new Map<string, Promise<string>>();
/** A quick start's app, built once. */
function builtApp(setUp: string): Promise<string> {
  let app = built.get(setUp);
  if (app === undefined) {
    app = writeApp(setUp, setUp).then(async (dir) => (await build(dir), dir));
    built.set(setUp, app);
  }
  return app;
}

/** The configuration of a quick start's .dev.vars block, with a real secret (and `replace` applied). */
function configurationOf(setUp: string, replace: Record<string, string> = {}): Record<string, string> {
  const vars = devVarsOf(block(quickStarts, setUp, ".dev.vars"));
  expect(vars["EXT_SESSION_MGT"]).toContain("<your secret>");
  vars["EXT_SESSION_MGT"] = vars["EXT_SESSION_MGT"]!.replace("<your secret>", secret);
  for (const [name, value] of Object.entries(replace)) vars[name] = value;
  return vars;
}

/** The built worker in Miniflare, with the bindings wrangler gives it from its wrangler.toml, and `bindings`. */
async function workerOptions(app: string, bindings: Record<string, string>, logs: string[]): Promise<MiniflareOptions> {
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(app, "wrangler.toml"));
  return {
    ...(workerOptions as object),
    modules: true,
    scriptPath: join(app, "dist/index.js"),
    modulesRoot: join(app, "dist"),
    bindings,
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      stdout.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
      stderr.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
    },
  } as MiniflareOptions;
}

async function startWorker(app: string, bindings: Record<string, string>): Promise<Miniflare> {
  const mf = new Miniflare(await workerOptions(app, bindings, []));
  running.push(mf);
  await mf.ready;
  return mf;
}

/** What the worker printed when it refused to start (it must refuse). */
async function startFailure(app: string, bindings: Record<string, string>): Promise<string> {
  const logs: string[] = [];
  const mf = new Miniflare(await workerOptions(app, bindings, logs));
  await expect(mf.ready).rejects.toThrow(/failed to start/);
  await mf.dispose().catch(() => {});
  await waitFor(async () => logs.join("").includes("Uncaught"), "the start-up error in the log");
  return logs.join("");
}

/** The quick starts' routes, as a browser uses them: log in, read, log in again (regenerate), log out. */
async function loginToLogout(mf: Miniflare, afterLogin: () => Promise<void> = async () => {}): Promise<void> {
  const browser = new BrowserJar();
  const send = async (path: string, method = "GET", json?: unknown) => {
    const res = await mf.dispatchFetch(`https://app.test${path}`, {
      method,
      headers: {
        ...(browser.cookie !== undefined ? { Cookie: browser.cookie } : {}),
        ...(json !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: json === undefined ? null : JSON.stringify(json),
    });
    browser.take(res);
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
  };
  expect(await send("/login", "POST", { user: "ada" })).toEqual({ status: 200, body: { user: "ada" } });
  const firstId = browser.id;
  expect(firstId).toBeDefined();
  await afterLogin();
  expect(await send("/me")).toEqual({ status: 200, body: { user: "ada" } });
  expect(await send("/login", "POST", { user: "grace" })).toEqual({ status: 200, body: { user: "grace" } });
  expect(browser.id).toBeDefined();
  expect(browser.id).not.toBe(firstId); // regenerated
  expect(await send("/me")).toEqual({ status: 200, body: { user: "grace" } });
  expect(await send("/logout", "POST")).toEqual({ status: 204, body: null });
  expect(await send("/me")).toEqual({ status: 200, body: {} });
}

/** Every directory named `name` (a package) anywhere under node_modules, nested ones included. */
async function installed(dir: string, name: string): Promise<string[]> {
  const found: string[] = [];
  const [scope, base] = name.includes("/") ? name.split("/") : [undefined, name];
  const walk = async (modules: string): Promise<void> => {
    const entries = await readdir(modules, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.filter((e) => e.isDirectory())) {
      const path = join(modules, entry.name);
      if (entry.name.startsWith("@")) {
        for (const inner of await readdir(path, { withFileTypes: true })) {
          if (entry.name === scope && inner.name === base) found.push(join(path, inner.name));
          await walk(join(path, inner.name, "node_modules"));
        }
      } else {
        if (scope === undefined && entry.name === base) found.push(path);
        await walk(join(path, "node_modules"));
      }
    }
  };
  await walk(join(dir, "node_modules"));
  return found;
}

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

/** The package's gateway command, started from the project as the README says; resolves once it serves. */
async function startGatewayCommand(args: string[]): Promise<{ command: ChildProcess; output: () => string }> {
  // The link npm made: runs only if the built file kept its shebang and was made executable.
  const command = spawn(join(project, "node_modules/.bin/hono-edge-session-redis-rest"), args, {
    cwd: project,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  command.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  command.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  let spawnFailed = false;
  command.once("error", (error) => {
    spawnFailed = true;
    output += String(error);
  });
  await waitFor(
    async () => output.includes("Ctrl-C stops it.") || command.exitCode !== null || spawnFailed,
    "the gateway command to be ready",
    15_000,
  );
  expect(output).toContain("Ctrl-C stops it.");
  return { command, output: () => output };
}

function stopCommand(command: ChildProcess | undefined): void {
  // SIGINT, as Ctrl-C: the command stops its redis-server on the way out.
  if (command !== undefined && command.exitCode === null && command.signalCode === null) command.kill("SIGINT");
}

/** Bytes of a bundle, as uploaded and as gzipped. */
async function bundleSize(path: string): Promise<{ kib: number; gzipKib: number }> {
  const kib = (n: number) => Math.round((n / 1024) * 10) / 10;
  return { kib: kib((await stat(path)).size), gzipKib: kib(gzipSync(await readFile(path)).length) };
}

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), "hes-install-"));
  await run("npm", ["pack", "--pack-destination", dir, "--silent"], { cwd: root });
  project = join(dir, "app");
  wrangler = join(project, "node_modules/wrangler/bin/wrangler.js");
  await mkdir(project);
  // What the Durable Object and own-store quick starts install; the type checks add TypeScript and types.
  await writeFile(
    join(project, "package.json"),
    JSON.stringify({
      private: true,
      type: "module",
      dependencies: {
        ...dependencies("durable-object", "own-store"),
        typescript: versionOf("typescript"),
        "@cloudflare/workers-types": versionOf("@cloudflare/workers-types"),
        "@types/node": versionOf("@types/node"),
      },
    }),
  );
  await inProject("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"]);
  // The README's command for a session secret.
  secret = (await run("sh", ["-c", block(quickStarts, "all", "secret")])).stdout.trim();
  expect(secret).toMatch(/^[\w-]{64,}$/);
}, 300_000);

afterAll(async () => {
  await Promise.all(running.splice(0).map((mf) => mf.dispose().catch(() => {})));
  if (project !== undefined) await rm(join(project, ".."), { recursive: true, force: true });
});

describe("the README's quick starts, installed from the tarball and built as a CI would", () => {
  it("installs nothing of Redis into a Durable Object app: no @upstash/redis, no redis-parser", async () => {
    expect(await installed(project, "hono-edge-session")).toHaveLength(1); // the walk finds packages
    expect(await installed(project, "@upstash/redis")).toEqual([]);
    expect(await installed(project, "redis-parser")).toEqual([]);
  });

  it("runs the Durable Object quick start (no build step) from login to logout", async () => {
    const app = await builtApp("durable-object");
    await loginToLogout(await startWorker(app, configurationOf("durable-object")));
  });

  it("runs the own-store quick start (its module bundled by the build command) from login to logout", async () => {
    const app = await builtApp("own-store");
    expect(await readFile(join(app, "dist/index.js"), "utf8")).toContain("// src/session-store.js"); // bundled
    await loginToLogout(await startWorker(app, configurationOf("own-store")));
  });

  it("does not start a worker whose bundled store and configuration disagree, and names both", async () => {
    const ownStore = await builtApp("own-store");
    const ext = (fields: Record<string, string>) => ({
      EXT_SESSION_MGT: JSON.stringify({ instanceName: "sessions", sessionSecret: secret, ...fields }),
    });

    const other = await startFailure(
      ownStore,
      ext({ storageType: "custom", externalStoreFilePath: "./src/other-store.js" }),
    );
    expect(other).toContain('EXT_SESSION_MGT.externalStoreFilePath: names "./src/other-store.js"');
    expect(other).toContain('bundles the custom store "./src/session-store.js"');

    const none = await startFailure(ownStore, ext({ storageType: "redis" }));
    expect(none).toContain("EXT_SESSION_MGT.externalStoreFilePath: is not set");
    expect(none).toContain('"./src/session-store.js"');

    // Configuration naming a store module that no build step bundled (here, the Durable Object app).
    const unbundled = await startFailure(
      await builtApp("durable-object"),
      ext({ storageType: "custom", externalStoreFilePath: "./src/session-store.js" }),
    );
    expect(unbundled).toContain('names "./src/session-store.js", but this build bundles no custom store');
    expect(unbundled).toContain('command = "npx hono-edge-session-store ./src/session-store.js"');

    expect(other + none + unbundled).not.toContain(secret);
  });

  it("bundles a package's store module too: the Durable Object store named in EXT_SESSION_MGT", async () => {
    // The application router's way: the Durable Object quick start, with the store named in the
    // configuration and bundled by the build command instead of given in code.
    const doToml = block(quickStarts, "durable-object", "wrangler.toml");
    const buildStep = block(quickStarts, "own-store", "wrangler.toml").slice(
      block(quickStarts, "own-store", "wrangler.toml").indexOf("[build]"),
    );
    const app = await writeApp("durable-object-by-configuration", "own-store", {
      "wrangler.toml": `${doToml}\n${buildStep.replace("./src/session-store.js", "hono-edge-session/durable-object")}`,
      "src/index.ts": `${block(quickStarts, "own-store", "src/index.ts")}export { SessionStoreObject } from "hono-edge-session/durable-object";\n`,
    });
    await build(app);
    const configuration = configurationOf("durable-object");
    const ext = JSON.parse(configuration["EXT_SESSION_MGT"]!) as Record<string, string>;
    configuration["EXT_SESSION_MGT"] = JSON.stringify({
      ...ext,
      externalStoreFilePath: "hono-edge-session/durable-object",
    });
    await loginToLogout(await startWorker(app, configuration));
  });

  it("fails the build of an own store whose build command names no module, saying what to add", async () => {
    const app = await writeApp("own-store-no-argument", "own-store");
    const toml = await readFile(join(app, "wrangler.toml"), "utf8");
    expect(toml).toContain('command = "npx hono-edge-session-store ./src/session-store.js"');
    await writeFile(join(app, "wrangler.toml"), toml.replace(" ./src/session-store.js", ""));
    const output = await failureOf(build(app));
    expect(output).toContain("hono-edge-session-store: no store module named");
    expect(output).toContain('command = "npx hono-edge-session-store ./src/session-store.js"');
    expect(existsSync(join(app, "dist/index.js"))).toBe(false);
  });

  it("takes a CommonJS store in a type: module app as .cjs, and refuses it as .js saying so", async () => {
    // The own-store quick start's store in the application router's CommonJS form.
    const esm = block(quickStarts, "own-store", "src/session-store.js");
    const commonJs = esm.replace(
      "export const getStore = () => (store ??= new MapStore());",
      "module.exports.getStore = () => (store ??= new MapStore());",
    );
    expect(commonJs).not.toBe(esm);
    const app = await writeApp("own-store-cjs", "own-store", { "src/session-store.js": commonJs });
    expect(await failureOf(build(app))).toContain("rename it to .cjs");

    await rename(join(app, "src/session-store.js"), join(app, "src/session-store.cjs"));
    const toml = await readFile(join(app, "wrangler.toml"), "utf8");
    await writeFile(join(app, "wrangler.toml"), toml.replace("session-store.js", "session-store.cjs"));
    await build(app);
    const configuration = configurationOf("own-store");
    configuration["EXT_SESSION_MGT"] = configuration["EXT_SESSION_MGT"]!.replace(
      "session-store.js",
      "session-store.cjs",
    );
    await loginToLogout(await startWorker(app, configuration));
  });

  it("stops the Redis quick start's build at the missing optional peer @upstash/redis, naming it", async () => {
    const app = await writeApp("redis-without-client", "redis");
    expect(await failureOf(build(app))).toContain('Could not resolve "@upstash/redis/cloudflare"');
  });

  it("type-checks the quick starts under strict settings, with bundler and node16 resolution, and catches a binding's typo", async () => {
    await Promise.all(["durable-object", "redis", "own-store"].map((setUp) => writeApp(`typed-${setUp}`, setUp)));
    await writeFile(
      join(project, "typed-env.ts"),
      `import { Hono } from "hono";
import { session, type SessionEnv } from "hono-edge-session";
import { DurableObjectStore, type SessionStoreObject } from "hono-edge-session/durable-object";

// Env as \`wrangler types\` writes it; Data given alone: the store's env is typed by its annotation.
interface Env {
  SESSION_STORE: DurableObjectNamespace<SessionStoreObject>;
  EXT_SESSION_MGT: string;
}
type Data = { cart?: string[] };
export const app = new Hono<SessionEnv<Data> & { Bindings: Env }>();
app.use(session<Data>({ store: (env: Env) => new DurableObjectStore(env.SESSION_STORE) }));
app.get("/", async (c) => c.json((await c.var.session.get()).cart ?? []));

// A binding's name mistyped is an error (and @ts-expect-error fails the check if it is not).
// @ts-expect-error SESSION_STOR is not a binding of Env
export const typo = session<Data, Env>({ store: (env) => new DurableObjectStore(env.SESSION_STOR) });
`,
    );
    // The README's tsconfig.json, made stricter still.
    const readme = JSON.parse(block(quickStarts, "all", "tsconfig.json")) as { compilerOptions: object };
    const strict = { ...readme.compilerOptions, noPropertyAccessFromIndexSignature: true, skipLibCheck: false };
    const include = ["apps/typed-*/src/*.ts", "typed-env.ts"];
    await writeFile(
      join(project, "tsconfig.bundler.json"),
      JSON.stringify({ compilerOptions: { ...strict, module: "ESNext", moduleResolution: "Bundler" }, include }),
    );
    // The package's declarations are checked in the first run; this one checks node16's resolution of them.
    await writeFile(
      join(project, "tsconfig.node16.json"),
      JSON.stringify({
        compilerOptions: { ...strict, skipLibCheck: true, module: "Node16", moduleResolution: "Node16" },
        include,
      }),
    );
    // The main entry and the Redis one with Node's types only (no Workers types): a Node app.
    await writeFile(
      join(project, "node-app.ts"),
      `${block(quickStarts, "redis", "src/index.ts")}
import { MemoryStore, SessionConfigError, type SessionEvent, type UserCustomStore } from "hono-edge-session";
const store: UserCustomStore = new MemoryStore();
const seen: SessionEvent[] = [];
export const other = session({ secret: "x".repeat(64), store, onEvent: (event) => void seen.push(event) });
export const isConfigError = (error: unknown) => error instanceof SessionConfigError;
`,
    );
    await writeFile(
      join(project, "tsconfig.node.json"),
      JSON.stringify({
        compilerOptions: { ...strict, types: ["node"], module: "NodeNext", moduleResolution: "NodeNext" },
        include: ["node-app.ts"],
      }),
    );
    const tsc = join(project, "node_modules/typescript/bin/tsc");
    const results = await Promise.all(
      ["tsconfig.bundler.json", "tsconfig.node16.json", "tsconfig.node.json"].map((config) =>
        inProject(process.execPath, [tsc, "-p", config]).catch((error: { stdout: string }) => error),
      ),
    );
    expect(results.map((result) => result.stdout)).toEqual(["", "", ""]);
  }, 120_000);

  describe("with the Redis quick start's packages installed too", () => {
    let gateway: ChildProcess | undefined;
    let gatewayUrl: string;
    const TOKEN = "local-dev-token"; // the command's default, as in the README's .dev.vars

    beforeAll(async () => {
      const extra = Object.entries(dependencies("redis")).filter(([name]) => name === "@upstash/redis");
      expect(extra).toHaveLength(1);
      await inProject("npm", [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        "--loglevel=error",
        ...extra.map(([name, version]) => `${name}@${version}`),
        `@hono/node-server@${versionOf("@hono/node-server")}`,
      ]);
      // `npx hono-edge-session-redis-rest`, on a free port instead of 8079.
      const port = await freePort();
      const started = await startGatewayCommand(["--port", String(port)]);
      gateway = started.command;
      gatewayUrl = `http://127.0.0.1:${port}`;
      expect(started.output()).toContain(`Upstash REST API on ${gatewayUrl}`);
    }, 120_000);

    afterAll(() => stopCommand(gateway));

    async function redis(...command: string[]): Promise<unknown> {
      const res = await fetch(gatewayUrl, {
        method: "POST",
        headers: { Authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(command),
      });
      return ((await res.json()) as { result: unknown }).result;
    }

    it("runs the Upstash quick start against the package's local gateway from login to logout", async () => {
      const app = await builtApp("redis");
      const configuration = configurationOf("redis");
      expect(configuration["UPSTASH_REDIS_REST_URL"]).toBe("http://127.0.0.1:8079");
      expect(configuration["UPSTASH_REDIS_REST_TOKEN"]).toBe(TOKEN);
      configuration["UPSTASH_REDIS_REST_URL"] = gatewayUrl;
      await loginToLogout(await startWorker(app, configuration), async () => {
        expect(((await redis("KEYS", "sessions:*")) as string[]).length).toBeGreaterThan(0);
      });
    });

    it("ships the Redis client only to the Redis app, and measures both bundles", async () => {
      const redisBundle = join(await builtApp("redis"), "dist/index.js");
      const doBundle = join(await builtApp("durable-object"), "dist/index.js");
      expect(await readFile(redisBundle, "utf8")).toContain("upstash-sync-token"); // the Redis client is in
      const durableObject = await readFile(doBundle, "utf8");
      expect(durableObject).not.toContain("upstash-sync-token"); // and not here
      expect(durableObject).toContain("CREATE TABLE IF NOT EXISTS sessions");
      const sizes = { redis: await bundleSize(redisBundle), durableObject: await bundleSize(doBundle) };
      console.log(`bundle sizes (wrangler deploy --dry-run): ${JSON.stringify(sizes)}`);
      expect(sizes.durableObject.kib).toBeLessThan(sizes.redis.kib);
    });

    it("keeps a session on Redis in a plain Node server, configured from process.env", async () => {
      const port = await freePort();
      await writeFile(
        join(project, "server.mjs"),
        `import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { session } from "hono-edge-session";
import { redisStore } from "hono-edge-session/redis";

// EXT_SESSION_MGT and UPSTASH_REDIS_REST_URL / _TOKEN come from the environment.
const app = new Hono()
  .use(session({ redis: redisStore(), cookie: { secure: false } }))
  .get("/visits", async (c) => c.json(await c.var.session.update((data) => void (data.visits = (data.visits ?? 0) + 1))));
serve({ fetch: app.fetch, port: Number(process.env.PORT) }, () => console.log("listening"));
`,
      );
      const server = spawn(process.execPath, ["server.mjs"], {
        cwd: project,
        env: {
          ...process.env,
          PORT: String(port),
          EXT_SESSION_MGT: JSON.stringify({ instanceName: "node-app", storageType: "redis", sessionSecret: secret }),
          UPSTASH_REDIS_REST_URL: gatewayUrl,
          UPSTASH_REDIS_REST_TOKEN: TOKEN,
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
        expect(await redis("KEYS", "node-app:*")).toHaveLength(1);
      } finally {
        server.kill();
      }
    });

    it("runs the gateway command for the real @upstash/redis client, and stops it with its redis-server on Ctrl-C", async () => {
      const port = await freePort();
      const token = "install-test-token";
      const { command, output } = await startGatewayCommand(["--port", String(port), "--token", token]);
      const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
        command.once("exit", (code, signal) => resolve([code, signal])),
      );
      try {
        const ready = /private redis-server on 127\.0\.0\.1:(\d+); Upstash REST API on (\S+)/.exec(output());
        expect(ready, output()).not.toBeNull();
        const [, redisPort, url] = ready!;
        expect(url).toBe(`http://127.0.0.1:${port}`);
        await writeFile(
          join(project, "upstash-client.mjs"),
          `import { Redis } from "@upstash/redis";

const redis = new Redis({ url: process.env.REST_URL, token: process.env.REST_TOKEN, enableTelemetry: false });
const set = await redis.set("greeting", "héllo ✓");
const get = await redis.get("greeting");
const hset = await redis.hset("user:1", { name: "ada", visits: 7 });
const hgetall = await redis.hgetall("user:1");
console.log(JSON.stringify({ set, get, hset, hgetall }));
`,
        );
        const { stdout } = await inProject(process.execPath, ["upstash-client.mjs"], {
          env: { REST_URL: url!, REST_TOKEN: token },
        });
        expect(JSON.parse(stdout)).toEqual({ set: "OK", get: "héllo ✓", hset: 2, hgetall: { name: "ada", visits: 7 } });

        command.kill("SIGINT");
        expect(await exited).toEqual([0, null]);
        expect(await accepts(Number(redisPort))).toBe(false); // its private redis-server went with it
        expect(await accepts(port)).toBe(false);
      } finally {
        stopCommand(command);
      }
    });
  });
});
