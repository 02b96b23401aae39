import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import Redis from "ioredis";
import { Miniflare } from "miniflare";
import type { SessionEvent } from "../../src/index.js";
import { CookieJar } from "./cookie-jar.js";
import { startGateway, type Gateway } from "../../tools/redis-rest/gateway.js";
import { startRedisServer, type RedisServer } from "../../tools/redis-rest/redis-server.js";

export const SECRET = "node-test-secret-".padEnd(80, "z");
export const COMPATIBILITY_DATE = "2026-04-01";

const bundles = new Map<string, Promise<string>>();
/** The module "hono-edge-session/custom-store" resolves to when no custom store is bundled. */
const NO_CUSTOM_STORE = "./src/custom-store/none.ts";

/**
 * A worker (the reference one by default), bundled once per test process the way wrangler does, with
 * `customStore` as the module wrangler's [alias] would put behind "hono-edge-session/custom-store".
 */
export function workerBundle(entry = "app/worker.ts", customStore = NO_CUSTOM_STORE): Promise<string> {
  const key = `${entry}\0${customStore}`;
  let bundled = bundles.get(key);
  if (bundled === undefined) bundles.set(key, (bundled = bundle(entry, customStore)));
  return bundled;
}

async function bundle(entry: string, customStore: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hes-worker-"));
  return bundleWorker({ root: process.cwd(), entry, customStore, outfile: join(dir, "worker.js") });
}

/** Bundles `entry` of the checkout at `root` as wrangler bundles a deploy, into `outfile`. */
export async function bundleWorker(options: {
  root: string;
  entry: string;
  customStore?: string;
  outfile: string;
}): Promise<string> {
  const { root, entry, customStore = NO_CUSTOM_STORE, outfile } = options;
  await build({
    absWorkingDir: root,
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    // As wrangler builds a worker (its `keep_names` is on by default): every named function expression is
    // renamed when it is made, a cost the benchmark must see as a deploy pays it.
    keepNames: true,
    alias: { "hono-edge-session/custom-store": customStore },
    outfile,
    logLevel: "silent",
  });
  return outfile;
}

/** redis-server + REST gateway owned by one test file, so it can stop and start Redis at will. */
export interface RedisStack {
  redis: RedisServer;
  gateway: Gateway;
  client: Redis;
  stop(): Promise<void>;
}

/** `recordCommands: false` for long runs (the fuzz): the gateway's log of commands would grow with every request. */
export async function startRedisStack({ recordCommands = true } = {}): Promise<RedisStack> {
  const redis = await startRedisServer();
  const gateway = await startGateway({ redisPort: redis.port, token: "node-token", recordCommands });
  const client = new Redis({ port: redis.port, host: "127.0.0.1", maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on("error", () => {});
  return {
    redis,
    gateway,
    client,
    async stop() {
      client.disconnect();
      await gateway.stop();
      await redis.stop();
    },
  };
}

export interface RequestOptions {
  method?: string;
  json?: unknown;
  headers?: Record<string, string>;
}

export interface IsolateOptions {
  /** The worker's entry module; default the reference worker. */
  entry?: string;
  /** What "hono-edge-session/custom-store" resolves to in the bundle; default: no custom store. */
  customStore?: string;
  /** Bind the package's Durable Object store class as SESSION_STORE. */
  durableObjectStore?: boolean;
  /** Keep Durable Object storage in this directory, so a later isolate started on it finds it again. */
  persistTo?: string;
  /** Also listen on a free port of 127.0.0.1 (for a real browser): its address is the isolate's `url`. */
  listen?: boolean;
  /** Open workerd's inspector (Chrome DevTools protocol) on this port (0: a free one, which `mf.getInspectorURL()` names). */
  inspectorPort?: number;
}

/**
 * One isolate: a Miniflare instance running the bundled reference worker. Every request is a separate
 * `dispatchFetch`, as on Workers. Disposing it kills its memory tier. What the worker prints is in `logs`.
 */
export class Isolate {
  private constructor(
    readonly mf: Miniflare,
    /** Lines the worker printed (console.log/warn/error, uncaught errors), filled as the runtime sends them. */
    readonly logs: string[],
    /** Where it listens, with `listen`. */
    readonly url: URL | undefined,
  ) {}

  static async start(bindings: Record<string, string>, options: IsolateOptions | string = {}): Promise<Isolate> {
    const { entry, customStore, durableObjectStore, persistTo, listen, inspectorPort } =
      typeof options === "string" ? { entry: options } : options;
    const scriptPath = await workerBundle(entry, customStore);
    const logs: string[] = [];
    const mf = new Miniflare({
      modules: true,
      scriptPath,
      modulesRoot: dirname(scriptPath),
      compatibilityDate: COMPATIBILITY_DATE,
      bindings,
      ...(durableObjectStore
        ? { durableObjects: { SESSION_STORE: { className: "SessionStoreObject", useSQLite: true } } }
        : {}),
      ...(persistTo !== undefined ? { durableObjectsPersist: persistTo } : {}),
      ...(listen === true ? { port: 0, host: "127.0.0.1" } : {}),
      ...(inspectorPort !== undefined ? { inspectorPort } : {}),
      handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
        const keep = (chunk: Buffer) =>
          logs.push(
            ...chunk
              .toString()
              .split("\n")
              .filter((line) => line.trim() !== ""),
          );
        stdout.on("data", keep);
        stderr.on("data", keep);
      },
    });
    const url = await mf.ready;
    return new Isolate(mf, logs, listen === true ? url : undefined);
  }

  async fetch(browser: BrowserJar, path: string, init: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (browser.cookie !== undefined) headers.Cookie = browser.cookie;
    if (init.json !== undefined) headers["Content-Type"] = "application/json";
    const res = (await this.mf.dispatchFetch(`https://app.test${path}`, {
      method: init.method ?? "GET",
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    })) as unknown as Response;
    browser.take(res);
    return res;
  }

  async json(browser: BrowserJar, path: string, init: RequestOptions = {}): Promise<unknown> {
    const res = await this.fetch(browser, path, init);
    if (!res.ok) throw new Error(`${init.method ?? "GET"} ${path} answered ${res.status}: ${await res.text()}`);
    return await res.json();
  }

  dispose(): Promise<void> {
    return this.mf.dispose();
  }
}

/** A browser's cookies (see CookieJar). */
export class BrowserJar extends CookieJar {}

export function bindingsFor(
  instanceName: string,
  gateway: Gateway,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    EXT_SESSION_MGT: JSON.stringify({ instanceName, storageType: "redis", sessionSecret: SECRET }),
    UPSTASH_REDIS_REST_URL: gateway.url,
    UPSTASH_REDIS_REST_TOKEN: gateway.token,
    ...extra,
  };
}

/** Backups run after the response (waitUntil), which dispatchFetch does not wait for: poll Redis instead. */
/** The session events the test worker (test/fixtures/concurrency-worker.ts) has recorded so far. */
export async function eventsOf(isolate: Isolate): Promise<SessionEvent[]> {
  return (await isolate.json(new BrowserJar(), "/events")) as SessionEvent[];
}

export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves once the namespace's only key holds a value other than `previous`; returns it. */
export async function waitForStoredChange(client: Redis, namespace: string, previous: string | null): Promise<string> {
  let value: string | null = null;
  await waitFor(async () => {
    const keys = await client.keys(`${namespace}:*`);
    value = keys.length === 1 ? await client.get(keys[0]!) : null;
    return value !== null && value !== previous;
  }, `a new backup in ${namespace}`);
  return value!;
}
