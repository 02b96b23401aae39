// The benchmark worker: every contender behind the same routes, plus loops that run many requests inside
// the isolate and time them there (bench/run.ts drives them). workerd's clock moves in whole milliseconds,
// so a loop is timed as a whole (or as a sum of segments that start at random points of a millisecond) and
// divided by its requests. Work a request hands to `waitUntil` is collected and awaited outside the timed
// segments, and timed on its own.
import { useSession } from "@hono/session";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { CookieStore, MemoryStore as HonoSessionsMemoryStore, sessionMiddleware } from "hono-sessions";
import { getCookie, setCookie } from "hono/cookie";
import { parse, parseSigned, serialize, serializeSigned } from "hono/utils/cookie";
import { findCookie, sentCookie } from "../src/request/cookie-header.js";
import { seal, unseal } from "../src/sealing/codec.js";
import { importCookieKey, signCookieValue, verifyCookieValue } from "../src/sealing/cookie-signature.js";
import { deriveKeys, KeyRing, type SessionKeys } from "../src/sealing/keys.js";
import type { Held } from "../src/protocol/types.js";
import { MemoryTier } from "../src/tiers/memory-tier.js";
import { Secret } from "../src/config/secret.js";
import { MemoryStore, session, type SessionEvent, type SessionOptions } from "../src/index.js";
import { redisStore } from "../src/stores/redis/index.js";
import { largeSession, smallSession } from "../test/support/sessions.js";
import { withBrowserCookies } from "./browser-cookies.js";

type Bindings = { BENCH_OPTIONS: string };
type Data = Record<string, unknown>;

/** The same session work for every contender: read three keys, or read them and change one. */
interface Adapter {
  middleware(env: Bindings): MiddlewareHandler;
  seed(c: Context, data: Data): Promise<void>;
  read(c: Context): Promise<unknown[]>;
  write(c: Context, key: string, value: unknown): Promise<void>;
  /** The session events this contender reported (this project's contenders only). */
  events?: EventLog;
}

/**
 * Counts of the session events by type, and the events other than hits and writes themselves (a few: misses,
 * revalidations, stale reads, conflicts), so that counting them does not grow the heap request by request.
 */
class EventLog {
  counts: Record<string, number> = {};
  details: SessionEvent[] = [];

  add(event: SessionEvent): void {
    const key = event.type === "write" ? (event.deferred ? "write (after the response)" : "write") : event.type;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    if (event.type !== "hit" && event.type !== "write" && this.details.length < 10_000) this.details.push(event);
  }
}

const HONO_SESSIONS_KEY = "bench-encryption-key-at-least-32-characters-long!";
const HONO_SESSION_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const KEYS = ["user", "roles", "csrfToken"];

/**
 * This project's middleware, default options unless `extra` says otherwise, on the bench's Redis (behind the
 * gateway) unless `inIsolateStore`: then on a `MemoryStore` in this isolate, so that store calls cost no
 * network and what a write costs is CPU only.
 */
/** A build of this layer: this checkout's, or another tree's (`npm run bench:compare` puts both in one isolate). */
interface Build {
  session: typeof session;
  MemoryStore: typeof MemoryStore;
}
const THIS_BUILD: Build = { session, MemoryStore };

function ours(
  extra: SessionOptions = {},
  instance = "bench",
  inIsolateStore = false,
  withUser = false,
  build: Build = THIS_BUILD,
): Adapter {
  const events = new EventLog();
  return {
    events,
    middleware: (env) => {
      const options = JSON.parse(env.BENCH_OPTIONS) as { secret: string; redis: { url: string; token: string } };
      return build.session({
        extSessionMgt: { instanceName: instance, storageType: "redis", sessionSecret: options.secret },
        redis: redisStore(options.redis),
        ...(inIsolateStore ? { store: new build.MemoryStore() } : {}),
        logger: { warn: () => {}, error: () => {} },
        onEvent: (event) => events.add(event),
        ...extra,
      }) as unknown as MiddlewareHandler;
    },
    seed: async (c, data) => {
      for (const [key, value] of Object.entries(data)) await c.var.session.set(key, value);
      // Tied to a user (as after a login): every write then also rewrites the user's index entry.
      if (withUser) await c.var.session.setUser(String((data.user as { id?: unknown } | undefined)?.id ?? "user"));
    },
    read: async (c) => Promise.all(KEYS.map((key) => c.var.session.get(key))),
    write: async (c, key, value) => {
      await Promise.all(KEYS.map((k) => c.var.session.get(k)));
      await c.var.session.set(key, value);
    },
  };
}

function honoSessions(store: "cookie" | "memory"): Adapter {
  const shared = store === "memory" ? new HonoSessionsMemoryStore() : undefined;
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

/**
 * The floor: the least a session kept in memory can cost as a Hono middleware. Its cookie found by name, a
 * `Map` lookup, the data set on the context; a change sets the cookie again (as a layer that tells other
 * isolates about a change must) and hands a promise to `waitUntil`. No signature, no encryption, no store, no
 * staleness bound: not a session layer, only what any of them pays before its own work.
 */
function floor(): Adapter {
  type Entry = { data: Data; changed: boolean };
  const sessions = new Map<string, Entry>();
  const entry = (c: Context) => c.get("session" as never) as Entry;
  return {
    middleware: () => async (c, next) => {
      let id = getCookie(c, "floor");
      let s = id === undefined ? undefined : sessions.get(id);
      if (s === undefined) sessions.set((id = crypto.randomUUID()), (s = { data: {}, changed: false }));
      c.set("session" as never, s as never);
      await next();
      if (!s.changed) return;
      s.changed = false;
      setCookie(c, "floor", id!, { path: "/", httpOnly: true, secure: true, sameSite: "Lax" });
      c.executionCtx.waitUntil(Promise.resolve());
    },
    seed: async (c, data) => {
      Object.assign(entry(c).data, data);
      entry(c).changed = true;
    },
    read: async (c) => KEYS.map((key) => entry(c).data[key]),
    write: async (c, key, value) => {
      const s = entry(c);
      KEYS.forEach((k) => s.data[k]);
      s.data[key] = value;
      s.changed = true;
    },
  };
}

export const CONTENDERS: Record<string, Adapter> = {
  bare,
  floor: floor(),
  // Default options: a memory-tier hit within the staleness bound; a change written after the response.
  "hes-hit": ours({}, "bench-hit"),
  // A memory tier too small to keep anything: every request is a miss, read from the store and unsealed.
  "hes-miss": ours({ memoryMaxBytes: 1 }, "bench-miss"),
  // A staleness bound of 0: every request confirms its memory entry with one conditional read (as a session
  // used less often than every maxStalenessMs does).
  "hes-revalidate": ours({ maxStalenessMs: 0 }, "bench-revalidate"),
  // awaitWrites: the compare-and-set write before the response.
  "hes-await": ours({ awaitWrites: true }, "bench-await"),
  // Default options on a store inside the isolate: what the work moved to waitUntil costs in CPU.
  "hes-cpu": ours({}, "bench-cpu", true),
  // The same, the session tied to a user (setUser): each write also rewrites its entry in the user's index.
  "hes-cpu-user": ours({}, "bench-cpu-user", true, true),
  // On Redis, tied to a user: what a session and its index entry hold in the store (bytes at rest).
  "hes-user": ours({}, "bench-user", false, true),
  "hono-sessions-cookie": honoSessions("cookie"),
  "hono-sessions-memory": honoSessions("memory"),
  "hono-session-jwe": honoSession,
};

/**
 * Another tree's build as the contender "ref-cpu" (as "hes-cpu": default options, a MemoryStore in the isolate),
 * for `npm run bench:compare`, which bundles the two into one worker: side by side in one isolate, the machine's
 * noise falls on both alike.
 */
export function addReference(reference: Build): void {
  CONTENDERS["ref-cpu"] = ours({}, "bench-ref-cpu", true, false, reference);
}

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
const data = (size: string, seed = 1) => (size === "large" ? largeSession(seed) : smallSession(seed));

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

/**
 * One request to a contender's app from inside the isolate, as a browser would send it: its cookies (`jar`)
 * amid the other cookies a browser sends to a real site (bench/browser-cookies.ts), for every contender alike.
 */
function requestTo(app: Hono<{ Bindings: Bindings }>, path: string, jar: string, env: Bindings, ctx: ExecutionContext) {
  return app.fetch(
    new Request(`https://bench.test${path}`, {
      method: path.startsWith("/write") || path.startsWith("/seed") ? "POST" : "GET",
      headers: { Cookie: withBrowserCookies(jar) },
    }),
    env,
    ctx,
  );
}

/** An execution context whose `waitUntil` collects the promises (and notes which settle, and when). */
function collectingContext() {
  const pending: Array<{ promise: Promise<unknown>; settled: boolean }> = [];
  const ctx = {
    waitUntil(promise: Promise<unknown>) {
      const item = { promise, settled: false };
      promise.then(
        () => (item.settled = true),
        () => (item.settled = true),
      );
      pending.push(item);
    },
    passThroughOnException() {},
    props: {},
  };
  return { pending, ctx: ctx as unknown as ExecutionContext };
}

let counter = 0;

/**
 * `rounds` rounds; in each, one request per session (`cookies`, one jar each, carried from one request to the
 * next). Each round is timed inside the isolate; then the round's `waitUntil` promises are awaited, timed
 * apart ("drain"), so no background work of one round runs inside the timed part of the next. Response bodies
 * are not read: reading one lets workerd run queued I/O work (a background write's compression, its fetch),
 * which would put background work inside the timed part. With one session and one request per round, each
 * write runs alone ("settle"): the drain is then the time from the response until the write has landed.
 */
bench.post("/loop", async (c) => {
  const { contender, path, rounds, cookies } = await c.req.json<{
    contender: string;
    path: string;
    rounds: number;
    cookies: string[];
  }>();
  const adapter = CONTENDERS[contender]!;
  const app = appFor(contender, c.env)!;
  const jars = [...cookies];
  const countsBefore = { ...adapter.events?.counts };
  let critMs = 0;
  let drainMs = 0;
  let background = 0;
  let settledEarly = 0;
  for (let round = 0; round < rounds; round++) {
    const { pending, ctx } = collectingContext();
    const responses: Response[] = [];
    const started = performance.now();
    for (let j = 0; j < jars.length; j++) {
      const res = await requestTo(app, `${path}?i=${++counter}`, jars[j]!, c.env, ctx);
      if (res.status !== 200) return c.json({ error: `status ${res.status}: ${await res.text()}` }, 500);
      responses.push(res);
    }
    const ended = performance.now();
    critMs += ended - started;
    if (pending.length > 0) {
      settledEarly += pending.filter((p) => p.settled).length;
      background += pending.length;
      await Promise.all(pending.map((p) => p.promise));
      drainMs += performance.now() - ended;
    }
    // The browser's side, outside the timed part: each jar takes the cookies its response set (a round sends
    // one request per jar, so the next round sends them).
    responses.forEach((res, j) => (jars[j] = cookiesOf(res, jars[j]) ?? jars[j]!));
  }
  const events: Record<string, number> = {};
  for (const [type, count] of Object.entries(adapter.events?.counts ?? {})) {
    if (count > (countsBefore[type] ?? 0)) events[type] = count - (countsBefore[type] ?? 0);
  }
  return c.json({ requests: rounds * jars.length, critMs, drainMs, background, settledEarly, events, cookies: jars });
});

/** Seeds `count` sessions of a contender (each write awaited), and answers their cookies. */
bench.post("/seed-many", async (c) => {
  const { contender, size, count } = await c.req.json<{ contender: string; size: string; count: number }>();
  const app = appFor(contender, c.env)!;
  const cookies: string[] = [];
  for (let i = 0; i < count; i++) {
    const { pending, ctx } = collectingContext();
    const res = await app.fetch(
      new Request("https://bench.test/seed", { method: "POST", body: JSON.stringify(data(size, i + 1)) }),
      c.env,
      ctx,
    );
    await Promise.all(pending.map((p) => p.promise));
    const cookie = cookiesOf(res);
    if (res.status !== 200 || cookie === undefined) return c.json({ error: `seed answered ${res.status}` }, 500);
    cookies.push(cookie);
  }
  return c.json({ cookies });
});

/** The session events other than hits and writes a contender of this isolate reported since the last call. */
bench.get("/events", (c) => {
  const events = CONTENDERS[c.req.query("contender") ?? ""]?.events;
  return c.json(events?.details.splice(0, events.details.length) ?? []);
});

/** Drops every contender's app: the next request builds its middleware anew (an empty memory tier). */
bench.post("/reset", (c) => {
  apps.clear();
  return c.json({ ok: true });
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

/*
 * One step of the cookies' and the sealing's work, done the way it was done before and the way it is done now,
 * `n` times (bench/run.ts times them from outside, side by side). Before: hono's cookie helpers (the whole
 * Cookie header parsed; the HMAC key imported again for each signature made or checked) and a deflate through
 * a Blob's stream piped into the CompressionStream; now: the two cookies found by name, a key imported once,
 * and the stream written to directly.
 */
const COOKIE_VALUE = `${"A".repeat(24)}.17.abcdEFGH`;
let micro:
  { header: string; raw: Uint8Array<ArrayBuffer>; key: CryptoKey; idValue: string; versionValue: string } | undefined;
async function microState() {
  if (micro !== undefined) return micro;
  const k = await (keys ??= deriveKeys(new Secret("bench-secret-".padEnd(70, "s"))));
  const key = await importCookieKey(k.cookie);
  const idValue = await signCookieValue(key, "A".repeat(24));
  const versionValue = await signCookieValue(key, COOKIE_VALUE);
  const own = `JSESSIONID=${encodeURIComponent(idValue)}; JSESSIONID_v=${encodeURIComponent(versionValue)}`;
  return (micro = { header: withBrowserCookies(own), raw: k.cookie, key, idValue, versionValue });
}
const ATTRIBUTES = { path: "/", httpOnly: true, secure: true, sameSite: "Lax" } as const;
const smallBytes = new TextEncoder().encode(JSON.stringify(smallSession())) as Uint8Array<ArrayBuffer>;
const largeBytes = new TextEncoder().encode(JSON.stringify(largeSession())) as Uint8Array<ArrayBuffer>;

/** Deflate as the codec did before: the input as a Blob's stream, piped through the CompressionStream. */
async function deflateThroughBlob(input: Uint8Array<ArrayBuffer>) {
  const output = new Blob([input]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(output).arrayBuffer());
}
/** Deflate as the codec does now (src/sealing/codec.ts): the input written to the stream directly. */
async function deflateWritten(input: Uint8Array<ArrayBuffer>) {
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  writer.write(input).catch(() => {});
  writer.close().catch(() => {});
  return new Uint8Array(await new Response(stream.readable).arrayBuffer());
}

export const MICRO_OPS: Record<string, (m: Awaited<ReturnType<typeof microState>>) => unknown> = {
  "find both cookies: hono's getCookie(c), the whole header parsed (before)": (m) => {
    const all = parse(m.header);
    return [all["JSESSIONID"], all["JSESSIONID_v"]];
  },
  "find both cookies: hono's getCookie(c, name), each by name": (m) => [
    parse(m.header, "JSESSIONID")["JSESSIONID"],
    parse(m.header, "JSESSIONID_v")["JSESSIONID_v"],
  ],
  "find both cookies: findCookie, each by name, read as hono reads it (a value not seen before)": (m) => [
    findCookie(m.header, "JSESSIONID"),
    findCookie(m.header, "JSESSIONID_v"),
  ],
  "find both cookies: sentCookie, each by name as sent, a value verified before known by its text (now)": (m) => [
    sentCookie(m.header, "JSESSIONID"),
    sentCookie(m.header, "JSESSIONID_v"),
  ],
  "check a version cookie not seen before: hono's getSignedCookie (key imported per call; before)": (m) =>
    parseSigned(m.header, m.raw, "JSESSIONID_v"),
  "check a version cookie not seen before: the key imported once (now)": (m) =>
    verifyCookieValue(m.key, m.versionValue),
  "sign the version cookie: hono's setSignedCookie (key imported per call; before)": (m) =>
    serializeSigned("JSESSIONID_v", COOKIE_VALUE, m.raw, ATTRIBUTES),
  "sign the version cookie: the key imported once (now)": async (m) =>
    serialize("JSESSIONID_v", await signCookieValue(m.key, COOKIE_VALUE), ATTRIBUTES),
  "deflate small: through a Blob's stream (before)": () => deflateThroughBlob(smallBytes),
  "deflate small: written to the stream (now)": () => deflateWritten(smallBytes),
  "deflate large: through a Blob's stream (before)": () => deflateThroughBlob(largeBytes),
  "deflate large: written to the stream (now)": () => deflateWritten(largeBytes),
};

bench.get("/micro-ops", (c) => c.json(Object.keys(MICRO_OPS)));

bench.post("/micro", async (c) => {
  const { op, n } = await c.req.json<{ op: string; n: number }>();
  const run = MICRO_OPS[op];
  if (run === undefined) return c.json({ error: `no such operation: ${op}` }, 404);
  const m = await microState();
  for (let i = 0; i < n; i++) await run(m);
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
    const tier = new MemoryTier(maxBytes, Date.now);
    for (let i = 0; i < count; i++) tier.set(`session-${String(i).padStart(16, "0")}`, savedHeld(json));
    return { bytes: tier.bytes, entries: tier.size, maxBytes };
  };
  return c.json({ sessionJsonBytes: json.length, unbounded: fill(Number.MAX_SAFE_INTEGER), bounded: fill(bound) });
});

export default bench;

/** A memory-tier entry of a stored session of this JSON, as a hit finds it. */
function savedHeld(json: string): Held {
  const now = Date.now();
  const base = {
    version: 1,
    tags: ["tag00001"],
    json,
    createdAt: now,
    user: undefined,
    since: now,
    expiresAt: now + 3_600_000,
  };
  return {
    kind: "live",
    base,
    changes: [],
    view: { json, user: undefined, since: now, createdAt: now, tags: base.tags },
    confirmedAt: now,
    refreshedAt: now,
    expiresAt: base.expiresAt,
    floor: 1,
    settled: [],
  };
}
