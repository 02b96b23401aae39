import { Hono } from "hono";
import { describe, expect, inject, it } from "vitest";
import {
  MemoryStore,
  session,
  SessionIndexUnsupportedError,
  type SessionOptions,
  type UserCustomStore,
} from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { SyncMemoryStore } from "../support/sync-memory-store.js";
import { Browser, MemoryLogger, SECRET } from "../support/workerd.js";

/*
 * "Your sessions" and "sign out everywhere" against the rules a thief would try to bend: a revoked session
 * on an isolate that has not heard yet cannot keep itself or change its tie; a login past
 * maxSessionsPerUser ends the oldest; without a user index every call says so.
 */
function isolate(store: UserCustomStore, extra: SessionOptions = {}) {
  return new Hono()
    .use(session({ secret: SECRET, store, logger: new MemoryLogger(), ...extra }))
    .get("/read", async (c) => c.json(await c.var.session.get()))
    .post("/login", async (c) => {
      const { user } = await c.req.json<{ user: string }>();
      await c.var.session.regenerate();
      await c.var.session.setUser(user);
      await c.var.session.set("user", user);
      return c.json({ ok: true });
    })
    .post("/tie", async (c) => {
      const { user } = await c.req.json<{ user: string }>();
      await c.var.session.setUser(user);
      return c.json({ ok: true });
    })
    .get("/sessions", async (c) => c.json(await c.var.session.listSessions()))
    .post("/revoke-all", async (c) => {
      const { keepCurrent } = await c.req.json<{ keepCurrent?: boolean }>();
      return c.json({ revoked: await c.var.session.revokeAllSessions({ keepCurrent: keepCurrent === true }) });
    });
}

describe("a revoked session on an isolate that has not heard of the revocation yet", () => {
  async function revokedOnStaleIsolate() {
    const store = new MemoryStore();
    const a = isolate(store);
    const stale = isolate(store, { maxStalenessMs: 60_000 }); // holds its copy, and the cut-off it read, for a minute
    const victim = new Browser(a);
    await victim.fetch("/login", { method: "POST", json: { user: "ada" } });
    const thief = new Browser(stale).with(victim.cookie);
    expect(await thief.json("/read")).toEqual({ user: "ada" });
    // The victim signs out everywhere; the stale isolate still serves its copy (within its bound).
    expect(await victim.json("/revoke-all", { method: "POST", json: {} })).toEqual({ revoked: 1 });
    return { store, thief, fresh: () => new Browser(isolate(store)).with(thief.cookie) };
  }

  it("cannot keep itself with sign out everywhere (keepCurrent): it ends with the others", async () => {
    const { thief, fresh } = await revokedOnStaleIsolate();
    await thief.fetch("/revoke-all", { method: "POST", json: { keepCurrent: true } });
    expect(await fresh().json("/read")).toEqual({});
  });

  it("cannot take itself out of reach by changing its tie: the write is refused", async () => {
    const { thief, fresh } = await revokedOnStaleIsolate();
    await thief.fetch("/tie", { method: "POST", json: { user: "mallory" } });
    expect(await fresh().json("/read")).toEqual({});
  });
});

describe("maxSessionsPerUser", () => {
  it("ends the user's session tied longest ago when a login passes it", async () => {
    const store = new MemoryStore();
    const app = isolate(store, { maxSessionsPerUser: 2 });
    const devices = [new Browser(app), new Browser(app), new Browser(app)];
    for (const device of devices) {
      await device.fetch("/login", { method: "POST", json: { user: "ada" } });
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct tie times
    }
    // A fresh isolate (no copy in memory) reads the store and the cut-off the eviction raised.
    const reader = isolate(store);
    expect(await new Browser(reader).with(devices[0]!.cookie).json("/read")).toEqual({});
    expect(await new Browser(reader).with(devices[2]!.cookie).json("/read")).toEqual({ user: "ada" });
    expect(await new Browser(reader).with(devices[2]!.cookie).json("/sessions")).toHaveLength(2);
  });
});

describe("a session kept alive by reads alone", () => {
  const ROTATED = "rotated-secret-".padEnd(80, "r");
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * Logs in on one isolate, then only reads the session on another for twice the idle timeout (1 s), every
   * 200 ms: the session lives on, and must stay listed (and counted by maxSessionsPerUser).
   */
  async function readFor2s(reader: SessionOptions, store: UserCustomStore = new MemoryStore(), readerStore = store) {
    const victim = new Browser(isolate(store, { idleTimeoutMs: 1000 }));
    await victim.fetch("/login", { method: "POST", json: { user: "ada" } });
    const reading = new Browser(isolate(readerStore, { idleTimeoutMs: 1000, ...reader })).with(victim.cookie);
    for (let i = 0; i < 10; i++) {
      expect(await reading.json("/read")).toEqual({ user: "ada" });
      await sleep(200);
    }
    return { store, reading, sessions: (await reading.json("/sessions")) as unknown[] };
  }

  it("stays listed when every read is confirmed with the store (the expiry pushed in the read)", async () => {
    // Before, the read pushed the session's expiry but not its entry in the index: listed as [] after 1 s.
    expect((await readFor2s({ maxStalenessMs: 0 })).sessions).toHaveLength(1);
  });

  it("stays listed after a secret rotation: its entry, under the old secret, is pushed forward too", async () => {
    // Served from memory (refreshes run after the response); the entry was made under the old secret.
    const reader = { secret: ROTATED, previousSecrets: [SECRET], maxStalenessMs: 60_000 };
    expect((await readFor2s(reader)).sessions).toHaveLength(1);
  });

  it("stays listed on Redis too (the real client, through the gateway; each isolate its own client)", async () => {
    const options = { ...inject("redisRest"), namespace: `kept-alive-${crypto.randomUUID()}` };
    const reader = { secret: ROTATED, previousSecrets: [SECRET], maxStalenessMs: 0 };
    const { sessions } = await readFor2s(reader, new RedisStore(options), new RedisStore(options));
    expect(sessions).toHaveLength(1);
  });

  it("is still counted by maxSessionsPerUser: a login past it ends this one", async () => {
    const { store, reading } = await readFor2s({ maxStalenessMs: 0 });
    const other = new Browser(isolate(store, { idleTimeoutMs: 1000, maxSessionsPerUser: 1 }));
    await other.fetch("/login", { method: "POST", json: { user: "ada" } });
    expect(await new Browser(isolate(store)).with(reading.cookie).json("/read")).toEqual({});
  });
});

describe("a store without a user index", () => {
  it("answers every user call with SessionIndexUnsupportedError, with or without a user tied", async () => {
    const seen: string[] = [];
    const app = new Hono()
      .use(session({ secret: SECRET, store: new SyncMemoryStore("no-index"), logger: new MemoryLogger() }))
      .post("/try", async (c) => {
        const { tie } = await c.req.json<{ tie: boolean }>();
        if (tie) await c.var.session.setUser("ada");
        for (const call of [
          () => c.var.session.listSessions(),
          () => c.var.session.revokeSession("handle"),
          () => c.var.session.revokeAllSessions(),
        ]) {
          await call().then(
            () => seen.push("answered"),
            (error: unknown) => seen.push(error instanceof SessionIndexUnsupportedError ? error.code : "other"),
          );
        }
        return c.json({ ok: true });
      });
    const browser = new Browser(app);
    await browser.fetch("/try", { method: "POST", json: { tie: false } });
    await browser.fetch("/try", { method: "POST", json: { tie: true } });
    expect(seen).toEqual(Array(6).fill("ERR_SESSION_INDEX_UNSUPPORTED"));
  });
});

describe("a store with a user index under versionedWrites: false", () => {
  it("says that the option turned the index off, not that the store has none", async () => {
    let message = "";
    const app = new Hono()
      .use(session({ secret: SECRET, store: new MemoryStore(), logger: new MemoryLogger(), versionedWrites: false }))
      .get("/sessions", async (c) => {
        await c.var.session.listSessions().catch((error: unknown) => void (message = (error as Error).message));
        return c.json({ ok: true });
      });
    await new Browser(app).fetch("/sessions");
    // MemoryStore keeps user indexes: "this store keeps no user index" alone sends the reader to the wrong fix.
    expect(message).toMatch(/versionedWrites: false/);
  });
});
