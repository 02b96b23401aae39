import { env } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, inject, it } from "vitest";
import {
  session,
  type SessionInfo,
  type SessionOptions,
  type UserCustomStore as SessionStore,
} from "../../src/index.js";
import { DurableObjectStore, type SessionStoreObject } from "../../src/stores/durable-object/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { Browser, MemoryLogger, SECRET, uniqueInstance } from "../support/workerd.js";

/*
 * The user index against requests racing on the same session, on Redis (through the gateway) and on the
 * Durable Object store: a login's index entry and a logout's removal of it, two sign-outs everywhere at once.
 * Each "isolate" is a session() middleware of its own (its own memory tier) with its own store client; the
 * races are ordered by a hook that runs when a compare-and-set has landed, before the store answers it.
 */
const binding = (env as unknown as { SESSION_STORE: DurableObjectNamespace<SessionStoreObject> }).SESSION_STORE;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type StoreKind = "redis" | "durable-object";

/** A factory of store clients on one fresh namespace: one client per isolate. */
function storeFactory(kind: StoreKind): () => SessionStore {
  const namespace = uniqueInstance(`races-${kind}`);
  if (kind === "redis") return () => new RedisStore({ ...inject("redisRest"), namespace });
  return () => new DurableObjectStore(binding, { namespace });
}

/** `base`, which runs the hook set in `landed.next` once, when a compare-and-set has landed and before it answers. */
function landingHook(base: SessionStore) {
  const landed: { next?: () => Promise<void> } = {};
  const store = new Proxy(base, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== "function") return value;
      if (property !== "setIfVersion") return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const answer = (await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args)) as unknown;
        const hook = landed.next;
        if (answer === null && hook !== undefined) {
          landed.next = undefined;
          await hook();
        }
        return answer;
      };
    },
  });
  return { store, landed };
}

function isolate(store: SessionStore, extra: SessionOptions = {}) {
  return (
    new Hono()
      .use(session({ secret: SECRET, store, logger: new MemoryLogger(), ...extra }))
      .get("/read", async (c) => c.json(await c.var.session.get()))
      .put("/data", async (c) => {
        for (const [key, value] of Object.entries(await c.req.json<Record<string, unknown>>()))
          await c.var.session.set(key, value);
        return c.json({ ok: true });
      })
      .post("/login", async (c) => {
        await c.var.session.regenerate();
        await c.var.session.setUser("ada");
        return c.json({ ok: true });
      })
      // A sign-in that ties the session it has: written before the response (commit), or after it.
      .post("/tie", async (c) => {
        await c.var.session.setUser("ada");
        if (c.req.query("later") === undefined) await c.var.session.commit();
        return c.json({ ok: true });
      })
      .post("/logout", async (c) => {
        await c.var.session.destroy();
        return c.json({ ok: true });
      })
      .get("/user", async (c) => c.json({ user: (await c.var.session.getUser()) ?? null }))
      .get("/sessions", async (c) => c.json(await c.var.session.listSessions()))
      .post("/revoke", async (c) => {
        const { handle } = await c.req.json<{ handle: string }>();
        return c.json({ revoked: await c.var.session.revokeSession(handle) });
      })
  );
}

describe.each<StoreKind>(["redis", "durable-object"])("the user index on %s", (kind) => {
  /** Ada's sessions as a phone she signs in on afterwards lists them: `true` for the phone's own. */
  async function listedOnNewPhone(client: () => SessionStore): Promise<boolean[]> {
    const phone = new Browser(isolate(client()));
    await phone.fetch("/login", { method: "POST" });
    return ((await phone.json("/sessions")) as SessionInfo[]).map((s) => s.current);
  }

  it("a logout on another isolate between a sign-in's write and its index entry does not leave the session listed", async () => {
    const client = storeFactory(kind);
    const { store, landed } = landingHook(client());
    const tab = new Browser(isolate(store));
    await tab.fetch("/data", { method: "PUT", json: { cart: ["sku-1"] } }); // anonymous, stored
    // The sign-in's write lands; before its index entry is put, another tab logs out on another isolate
    // (its copy is the store's: tied to ada), and takes the (not yet put) entry out.
    landed.next = async () => {
      await new Browser(isolate(client())).with(tab.cookie).fetch("/logout", { method: "POST" });
    };
    await tab.fetch("/tie", { method: "POST" });
    expect(landed.next).toBeUndefined(); // the hook ran
    expect(await new Browser(isolate(client())).with(tab.cookie).json("/user")).toEqual({ user: null });
    expect(await listedOnNewPhone(client)).toEqual([true]); // not the logged-out session as well
  });

  it("a logout on the same isolate while the sign-in is written after the response does not leave it listed", async () => {
    const client = storeFactory(kind);
    const { store, landed } = landingHook(client());
    const app = isolate(store);
    const tab = new Browser(app);
    await tab.fetch("/data", { method: "PUT", json: { cart: ["sku-1"] } });
    landed.next = async () => {
      await new Browser(app).with(tab.cookie).fetch("/logout", { method: "POST" });
    };
    await tab.fetch("/tie?later", { method: "POST" }); // the tie is written in waitUntil, which the hook runs in
    expect(landed.next).toBeUndefined();
    expect(await new Browser(isolate(client())).with(tab.cookie).json("/user")).toEqual({ user: null });
    expect(await listedOnNewPhone(client)).toEqual([true]);
  });

  it("revokeSession between a write's store write and its entry put again does not leave the session listed", async () => {
    const client = storeFactory(kind);
    // Idle timeout 2 s: an entry is put again by a write once per refresh interval (0.5 s).
    const options = { idleTimeoutMs: 2_000 };
    const { store, landed } = landingHook(client());
    const laptop = new Browser(isolate(store, options));
    await laptop.fetch("/login", { method: "POST" });
    const phone = new Browser(isolate(client(), options));
    await phone.fetch("/login", { method: "POST" });
    const [other] = ((await phone.json("/sessions")) as SessionInfo[]).filter((s) => !s.current);
    await sleep(600); // past the refresh interval: the laptop's next write puts its entry again
    // From the phone, Ada signs the laptop out, between its write and that put.
    landed.next = async () => {
      expect(await phone.json("/revoke", { method: "POST", json: { handle: other!.handle } })).toEqual({
        revoked: true,
      });
    };
    await laptop.fetch("/data", { method: "PUT", json: { seen: 1 } });
    expect(landed.next).toBeUndefined();
    expect(await new Browser(isolate(client())).with(laptop.cookie).json("/user")).toEqual({ user: null });
    expect(((await phone.json("/sessions")) as SessionInfo[]).map((s) => s.current)).toEqual([true]);
  });
});
