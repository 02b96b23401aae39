import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { build } from "esbuild";
import Redis from "ioredis";
import { Miniflare } from "miniflare";
import { startGateway, type Gateway } from "../../tools/redis-rest/gateway.js";
import { startRedisServer, type RedisServer } from "../../tools/redis-rest/redis-server.js";

export const SECRET = "node-test-secret-".padEnd(80, "z");
export const COMPATIBILITY_DATE = "2026-04-01";

const bundles = new Map<string, Promise<string>>();
/** A worker (the reference one by default), bundled once per test process the way wrangler does. */
export function workerBundle(entry = "src/worker.ts"): Promise<string> {
  let bundled = bundles.get(entry);
  if (bundled === undefined) bundles.set(entry, (bundled = bundle(entry)));
  return bundled;
}

async function bundle(entry: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "hes-worker-"));
  const outfile = join(dir, "worker.js");
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    // These isolates use Redis: no custom store bundled.
    alias: { "hono-edge-session/custom-store": "./src/custom-store/none.ts" },
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

export async function startRedisStack(): Promise<RedisStack> {
  const redis = await startRedisServer();
  const gateway = await startGateway({ redisPort: redis.port, token: "node-token", recordCommands: true });
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

/** One isolate: a Miniflare instance running the bundled reference worker. Disposing it kills its memory tier. */
export class Isolate {
  readonly logs: string[] = [];
  private constructor(readonly mf: Miniflare) {}

  static async start(bindings: Record<string, string>, entry?: string): Promise<Isolate> {
    const scriptPath = await workerBundle(entry);
    const mf = new Miniflare({
      modules: true,
      scriptPath,
      modulesRoot: dirname(scriptPath),
      compatibilityDate: COMPATIBILITY_DATE,
      bindings,
    });
    await mf.ready;
    return new Isolate(mf);
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
    browser.take(res.headers.get("Set-Cookie"));
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

/** A browser's cookie, shared by every isolate it talks to (requests are not sticky). */
export class BrowserJar {
  cookie: string | undefined;
  /** This jar holding `cookie`: another tab of the same browser, or an attacker with a copied cookie. */
  with(cookie: string | undefined): this {
    this.cookie = cookie;
    return this;
  }
  take(setCookie: string | null): void {
    if (setCookie === null) return;
    this.cookie = /Max-Age=0/i.test(setCookie) ? undefined : setCookie.split(";")[0];
  }
  /** The version the cookie names. */
  get version(): number {
    return Number(/\.(\d+)\./.exec(this.cookie ?? "")?.[1] ?? 0);
  }
}

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
