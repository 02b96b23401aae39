// The fleet benchmark's worker (bench/fleet.ts runs several of it, each its own isolate): the real session
// middleware behind a small app (pages, a write, an update(), login with regenerate() and setUser(), logout,
// "log out everywhere"), on Redis through the gateway or on the Durable Object store, and the counts the
// benchmark reads: session events by type, and for the Durable Object store every call to an object.
import { Hono, type MiddlewareHandler } from "hono";
import { session, type SessionEnv, type SessionEvent, type SessionOptions } from "../src/index.js";
import { DurableObjectStore, SessionStoreObject } from "../src/stores/durable-object/index.js";
import { redisStore } from "../src/stores/redis/index.js";
import { smallSession } from "../test/support/sessions.js";
import type { FleetOptions } from "./fleet-options.js";

/** The object class, for the store worker that hosts the objects (the app workers bind to it by scriptName). */
export { SessionStoreObject };

type Bindings = { FLEET_OPTIONS: string; SESSION_STORE?: DurableObjectNamespace<SessionStoreObject> };
type Data = { n?: number; lastSeen?: number } & Record<string, unknown>;
type Env = { Bindings: Bindings } & SessionEnv<Data>;

/** The simulated distance to the Durable Object store (set by the benchmark: near while it logs in). */
let distanceMs = 0;
const stats = { events: {} as Record<string, number>, objectCalls: 0, byMethod: {} as Record<string, number> };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function countEvent(event: SessionEvent): void {
  const key = event.type === "write" ? (event.deferred ? "write (after the response)" : "write") : event.type;
  stats.events[key] = (stats.events[key] ?? 0) + 1;
}

/**
 * The namespace as the store sees it, but every call on one of its stubs counted (each is one request to a
 * Durable Object, as billed) and delayed by the simulated distance: half before, half after.
 */
function countedNamespace<T extends object>(namespace: T): T {
  const counted = (stub: object) =>
    new Proxy(stub, {
      get(target, name) {
        if (typeof name !== "string" || name === "then") return Reflect.get(target, name);
        // Called as a method of the stub: an RPC method's own `apply` would be taken for a remote call.
        return async (...args: unknown[]) => {
          const half = Math.floor(distanceMs / 2);
          stats.objectCalls++;
          stats.byMethod[name] = (stats.byMethod[name] ?? 0) + 1;
          if (half > 0) await sleep(half);
          try {
            return await (target as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...args);
          } finally {
            if (distanceMs - half > 0) await sleep(distanceMs - half);
          }
        };
      },
    });
  return new Proxy(namespace, {
    get(target, name) {
      const value: unknown = Reflect.get(target, name);
      if (typeof value !== "function") return value;
      const method = value as (...a: unknown[]) => unknown;
      if (name === "get" || name === "getByName")
        return (...args: unknown[]) => counted(method.apply(target, args) as object);
      return method.bind(target);
    },
  });
}

let middleware: MiddlewareHandler<Env> | undefined;
function sessionFor(env: Bindings): MiddlewareHandler<Env> {
  if (middleware !== undefined) return middleware;
  const options = JSON.parse(env.FLEET_OPTIONS) as FleetOptions;
  const storeOptions: SessionOptions =
    options.store === "redis"
      ? { redis: redisStore(options.redis!) }
      : { store: new DurableObjectStore(countedNamespace(env.SESSION_STORE!)) };
  return (middleware = session<Data>({
    extSessionMgt: { instanceName: options.instanceName, storageType: "redis", sessionSecret: options.secret },
    ...storeOptions,
    ...(options.baseline ? { memoryMaxBytes: 1 } : {}),
    logger: { warn: () => {}, error: () => {} },
    onEvent: countEvent,
  }) as unknown as MiddlewareHandler<Env>);
}

const app = new Hono<Env>();
// The time the session work added (the handlers do nothing else): workerd's clock moves on I/O only, so
// this is the waiting (store round trips), in whole milliseconds.
app.use("/s/*", async (c, next) => {
  const started = performance.now();
  await sessionFor(c.env)(c, next);
  c.res.headers.set("x-session-ms", String(performance.now() - started));
});

/** What every answer says: whose session it is (none: logged out) and its counter. */
async function state(c: { var: { session: SessionEnv<Data>["Variables"]["session"] } }) {
  const s = c.var.session;
  return { user: (await s.getUser()) ?? null, n: (await s.get("n")) ?? 0 };
}

app.get("/s/page", async (c) => {
  await Promise.all(["user", "roles", "csrfToken"].map((key) => c.var.session.get(key)));
  return c.json(await state(c));
});
app.post("/s/write", async (c) => {
  await c.var.session.set("lastSeen", Number(c.req.query("i") ?? 0));
  return c.json(await state(c));
});
app.post("/s/update", async (c) => {
  await c.var.session.update((data) => void (data.n = (data.n ?? 0) + 1));
  return c.json(await state(c));
});
app.post("/s/login", async (c) => {
  const { user } = await c.req.json<{ user: string }>();
  await c.var.session.regenerate();
  await c.var.session.setUser(user);
  const data = await c.var.session.get();
  Object.assign(data, smallSession(Number(user.replace(/\D/g, "")) || 1), { n: 0 });
  return c.json({ user, n: 0 });
});
app.post("/s/logout", async (c) => {
  await c.var.session.destroy();
  return c.json({ user: null, n: 0 });
});
app.post("/s/logout-everywhere", async (c) => {
  const revoked = await c.var.session.revokeAllSessions();
  return c.json({ user: null, n: 0, revoked });
});

app.get("/debug/stats", (c) => c.json(stats));
app.post("/debug/distance", (c) => {
  distanceMs = Number(c.req.query("ms") ?? 0);
  return c.json({ distanceMs });
});
app.post("/debug/reset", (c) => {
  stats.events = {};
  stats.objectCalls = 0;
  stats.byMethod = {};
  return c.json({ ok: true });
});

export default app;
