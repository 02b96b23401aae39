// The benchmark worker: every contender behind the same routes, plus loops that run many requests inside
// the isolate so the driver (bench/run.ts) can take the per-request cost as (T(N) − T(1)) / (N − 1).
import { useSession } from "@hono/session";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { CookieStore, MemoryStore, sessionMiddleware } from "hono-sessions";
import { seal, unseal } from "../src/sealing/codec.js";
import { deriveKeys, KeyRing, type SessionKeys } from "../src/sealing/keys.js";
import { MemoryTier } from "../src/tiers/memory-tier.js";
import { Secret } from "../src/config/secret.js";
import { session, type SessionOptions } from "../src/index.js";
import { redisStore } from "../src/stores/redis/index.js";
import { savedEntry } from "../test/support/entries.js";
import { largeSession, smallSession } from "../test/support/sessions.js";

type Bindings = { BENCH_OPTIONS: string };
type Data = Record<string, unknown>;

/** The same session work for every contender: read three keys, or read them and change one. */
interface Adapter {
  middleware(env: Bindings): MiddlewareHandler;
  seed(c: Context, data: Data): Promise<void>;
  read(c: Context): Promise<unknown[]>;
  write(c: Context, key: string, value: unknown): Promise<void>;
}

const HONO_SESSIONS_KEY = "bench-encryption-key-at-least-32-characters-long!";
const HONO_SESSION_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const KEYS = ["user", "roles", "csrfToken"];

function ours(extra: SessionOptions = {}, instance = "bench"): Adapter {
  return {
    middleware: (env) => {
      const options = JSON.parse(env.BENCH_OPTIONS) as { secret: string; redis: { url: string; token: string } };
      return session({
        extSessionMgt: { instanceName: instance, storageType: "redis", sessionSecret: options.secret },
        redis: redisStore(options.redis),
        logger: { warn: () => {}, error: () => {} },
        ...extra,
      }) as unknown as MiddlewareHandler;
    },
    seed: async (c, data) => {
      for (const [key, value] of Object.entries(data)) await c.var.session.set(key, value);
    },
    read: async (c) => Promise.all(KEYS.map((key) => c.var.session.get(key))),
    write: async (c, key, value) => {
      await Promise.all(KEYS.map((k) => c.var.session.get(k)));
      await c.var.session.set(key, value);
    },
  };
}

function honoSessions(store: "cookie" | "memory"): Adapter {
  const shared = store === "memory" ? new MemoryStore() : undefined;
  return {
    middleware: () =>
      sessionMiddleware({
        store: shared ?? new CookieStore(),
        encryptionKey: HONO_SESSIONS_KEY,
        expireAfterSeconds: 900,
        cookieOptions: { sameSite: "Lax", path: "/", httpOnly: true, secure: true },
      }) as unknown as MiddlewareHandler,
    seed: async (c, data) => {
      const s = c.get("session" as never) as { set(k: string, v: unknown): void };
      for (const [key, value] of Object.entries(data)) s.set(key, value);
    },
    read: async (c) => {
      const s = c.get("session" as never) as { get(k: string): unknown };
      return KEYS.map((key) => s.get(key));
    },
    write: async (c, key, value) => {
      const s = c.get("session" as never) as { get(k: string): unknown; set(k: string, v: unknown): void };
      KEYS.forEach((k) => s.get(k));
      s.set(key, value);
    },
  };
}

const honoSession: Adapter = {
  middleware: () => useSession({ secret: HONO_SESSION_SECRET }) as unknown as MiddlewareHandler,
  seed: async (c, data) => {
    await (c.var as unknown as { session: { update(d: Data): Promise<void> } }).session.update(data);
  },
  read: async (c) => {
    const data = (await (c.var as unknown as { session: { get(): Promise<Data | null> } }).session.get()) ?? {};
    return KEYS.map((key) => data[key]);
  },
  write: async (c, key, value) => {
    const s = (c.var as unknown as { session: { get(): Promise<Data | null>; update(d: Data): Promise<void> } })
      .session;
    const data = (await s.get()) ?? {};
    KEYS.forEach((k) => data[k]);
    await s.update({ ...data, [key]: value });
  },
};

/** No session at all: the baseline. */
const bare: Adapter = {
  middleware: () => async (_c, next) => next(),
  seed: async () => {},
  read: async () => KEYS.map(() => null),
  write: async () => {},
};

export const CONTENDERS: Record<string, Adapter> = {
  bare,
  "hes-hit": ours({}, "bench-hit"),
  // A memory tier too small to keep anything: every request is a miss, read from the store.
  "hes-miss": ours({ memoryMaxBytes: 1 }, "bench-miss"),
  "hono-sessions-cookie": honoSessions("cookie"),
  "hono-sessions-memory": honoSessions("memory"),
  "hono-session-jwe": honoSession,
};

function contenderApp(adapter: Adapter, env: Bindings): Hono<{ Bindings: Bindings }> {
  const app = new Hono<{ Bindings: Bindings }>();
  app.use(adapter.middleware(env));
  app.post("/seed", async (c) => {
    await adapter.seed(c, await c.req.json());
    return c.json({ ok: true });
  });
  app.get("/read", async (c) => c.json({ present: (await adapter.read(c)).filter((v) => v != null).length }));
  app.post("/write", async (c) => {
    await adapter.write(c, "lastSeen", Number(c.req.query("i") ?? 0));
    return c.json({ ok: true });
  });
  return app;
}

/**
 * What a browser would send back after this response: the cookies it already had (`jar`) updated with every
 * cookie the response set (the last one of a name wins), as one Cookie header.
 */
function cookiesOf(res: Response, jar = ""): string | undefined {
  const headers = res.headers as unknown as { getSetCookie(): string[] };
  const set = headers.getSetCookie();
  if (set.length === 0) return undefined;
  const cookies = new Map(
    jar
      .split("; ")
      .filter(Boolean)
      .map((pair) => [pair.split("=")[0]!, pair] as const),
  );
  for (const header of set) {
    const pair = header.split(";")[0]!;
    cookies.set(pair.split("=")[0]!, pair);
  }
  return [...cookies.values()].join("; ");
}

const apps = new Map<string, Hono<{ Bindings: Bindings }>>();
function appFor(name: string, env: Bindings) {
  let app = apps.get(name);
  const adapter = CONTENDERS[name];
  if (app === undefined && adapter !== undefined) apps.set(name, (app = contenderApp(adapter, env)));
  return app;
}

let keys: Promise<SessionKeys> | undefined;
const ID = "A".repeat(24);
const data = (size: string) => (size === "large" ? largeSession() : smallSession());

const bench = new Hono<{ Bindings: Bindings }>();

/** One request to a contender, as a browser would send it. */
bench.all("/c/:contender/*", async (c) => {
  const app = appFor(c.req.param("contender"), c.env);
  if (app === undefined) return c.text("no such contender", 404);
  const url = new URL(c.req.url);
  url.pathname = url.pathname.replace(/^\/c\/[^/]+/, "");
  return app.fetch(new Request(url, c.req.raw), c.env, c.executionCtx);
});

/** Seeds a contender's session from inside the isolate; a cookie too large for a browser is reported, not sent. */
bench.post("/seed", async (c) => {
  const { contender, data } = await c.req.json<{ contender: string; data: Data }>();
  const res = await appFor(contender, c.env)!.fetch(
    new Request("https://bench.test/seed", { method: "POST", body: JSON.stringify(data) }),
    c.env,
    c.executionCtx,
  );
  const cookie = cookiesOf(res) ?? "";
  // Read it back: a contender that silently dropped the data has not done the workload.
  const check = await appFor(contender, c.env)!.fetch(
    new Request("https://bench.test/read", { headers: { Cookie: cookie } }),
    c.env,
    c.executionCtx,
  );
  const { present } = await check.json<{ present: number }>();
  const kept = contender === "bare" || present === KEYS.length;
  return c.json({
    status: res.status,
    cookieBytes: cookie.length,
    cookie: cookie.length <= 4096 && kept ? cookie : null,
    kept,
  });
});

/** `n` requests to a contender inside this isolate, carrying the cookie from one to the next. */
bench.post("/loop", async (c) => {
  const { contender, path, n, cookie } = await c.req.json<{
    contender: string;
    path: string;
    n: number;
    cookie: string;
  }>();
  const app = appFor(contender, c.env)!;
  let jar = cookie;
  const background: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => background.push(p), passThroughOnException() {}, props: {} };
  for (let i = 0; i < n; i++) {
    const res = await app.fetch(
      new Request(`https://bench.test${path}${path.includes("?") ? "&" : "?"}i=${i}`, {
        method: path.startsWith("/write") ? "POST" : "GET",
        headers: jar ? { Cookie: jar } : {},
      }),
      c.env,
      ctx as unknown as ExecutionContext,
    );
    jar = cookiesOf(res, jar) ?? jar;
    if (res.status !== 200) return c.json({ error: `status ${res.status}` }, 500);
    await res.arrayBuffer();
  }
  await Promise.all(background);
  return c.json({ ok: n });
});

/** `n` seals or unseals of the small or large session. */
bench.post("/codec", async (c) => {
  const { op, size, n } = await c.req.json<{ op: "seal" | "unseal"; size: string; n: number }>();
  const k = await (keys ??= deriveKeys(new Secret("bench-secret-".padEnd(70, "s"))));
  const json = JSON.stringify(data(size));
  const sealed = await seal(k, ID, 1, json);
  for (let i = 0; i < n; i++) {
    if (op === "seal") await seal(k, ID, 1, json);
    else await unseal(new KeyRing(k), ID, sealed);
  }
  return c.json({ ok: n });
});

/** Stored bytes: JSON, this project's sealed blob, and the application router's format (gzip, base64). */
bench.get("/sizes", async (c) => {
  const k = await (keys ??= deriveKeys(new Secret("bench-secret-".padEnd(70, "s"))));
  const result: Record<string, { json: number; sealed: number; approuter: number }> = {};
  for (const size of ["small", "large"]) {
    const json = JSON.stringify(data(size));
    const gzip = new Uint8Array(
      await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
    );
    let binary = "";
    for (const byte of gzip) binary += String.fromCharCode(byte);
    result[size] = {
      json: new TextEncoder().encode(json).length,
      sealed: (await seal(k, ID, 1, json)).length,
      approuter: btoa(binary).length,
    };
  }
  return c.json(result);
});

/** The memory tier's accounting for `count` small sessions, unbounded and at a bound. */
bench.get("/memory", (c) => {
  const count = Number(c.req.query("count") ?? 10_000);
  const bound = Number(c.req.query("bound") ?? 1024 * 1024);
  const json = JSON.stringify(smallSession());
  const fill = (maxBytes: number) => {
    const tier = new MemoryTier(maxBytes);
    for (let i = 0; i < count; i++) tier.set(`session-${String(i).padStart(16, "0")}`, savedEntry(json));
    return { bytes: tier.bytes, entries: tier.size, maxBytes };
  };
  return c.json({ sessionJsonBytes: json.length, unbounded: fill(Number.MAX_SAFE_INTEGER), bounded: fill(bound) });
});

export default bench;
