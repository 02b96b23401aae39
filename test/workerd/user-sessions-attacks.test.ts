import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  session,
  type SessionInfo,
  type SessionOptions,
  type UserCustomStore as SessionStore,
} from "../../src/index.js";
import { Browser, MemoryLogger, SECRET, storeClients, type StoreKind } from "../support/workerd.js";

/*
 * The per-user session API against a thief and against stale copies (setUser, listSessions, revokeSession,
 * revokeAllSessions, regenerate, destroy, maxSessionsPerUser), on Redis (through the gateway) and on the
 * Durable Object store. Each "isolate" is a session() middleware of its own (its own memory tier) with its
 * own store client, on one shared store.
 */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `base`, whose changeIndex fails while `failing.index` is set (an index update that fails is only logged). */
function withFailingIndex(base: SessionStore) {
  const failing = { index: false };
  const store = new Proxy(base, {
    get(target, property) {
      if (property === "changeIndex" && failing.index) return () => Promise.reject(new Error("index down (test)"));
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, failing };
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
        const { user } = await c.req.json<{ user: string }>();
        await c.var.session.regenerate();
        await c.var.session.setUser(user);
        await c.var.session.set("user", user);
        return c.json({ ok: true });
      })
      // A login that signs every other device out: the "one session at a time" pattern.
      .post("/login-only-here", async (c) => {
        const { user } = await c.req.json<{ user: string }>();
        await c.var.session.regenerate();
        await c.var.session.setUser(user);
        await c.var.session.set("user", user);
        const revoked = await c.var.session.revokeAllSessions({ keepCurrent: true });
        return c.json({ revoked });
      })
      // Sign out everywhere else, from a request whose change cannot be saved: a BigInt, or a value too large.
      .post("/sign-out-others-with", async (c) => {
        const { bad, login } = await c.req.json<{ bad: "bigint" | "large"; login?: boolean }>();
        if (login === true) {
          await c.var.session.regenerate();
          await c.var.session.setUser("ada");
        }
        await c.var.session.set("note", bad === "bigint" ? 10n : "x".repeat(4_096));
        try {
          return c.json({ revoked: await c.var.session.revokeAllSessions({ keepCurrent: true }) });
        } catch (error) {
          return c.json({ error: (error as { code?: string }).code ?? String(error) });
        }
      })
      // Switching account: the user first, then a new id.
      .post("/switch", async (c) => {
        const { user } = await c.req.json<{ user: string }>();
        await c.var.session.setUser(user);
        await c.var.session.regenerate();
        return c.json({ ok: true });
      })
      .post("/tie", async (c) => {
        const { user } = await c.req.json<{ user: string }>();
        await c.var.session.setUser(user);
        await c.var.session.commit();
        return c.json({ ok: true });
      })
      .post("/logout", async (c) => {
        await c.var.session.destroy();
        return c.json({ ok: true });
      })
      .post("/regenerate", async (c) => {
        await c.var.session.regenerate();
        return c.json({ ok: true });
      })
      .get("/user", async (c) => c.json({ user: (await c.var.session.getUser()) ?? null }))
      .get("/sessions", async (c) => c.json(await c.var.session.listSessions(c.req.query("user"))))
      .post("/revoke", async (c) => {
        const { handle } = await c.req.json<{ handle: string }>();
        return c.json({ revoked: await c.var.session.revokeSession(handle) });
      })
      .post("/revoke-all", async (c) => {
        const { keepCurrent } = await c.req.json<{ keepCurrent?: boolean }>();
        return c.json({ revoked: await c.var.session.revokeAllSessions({ keepCurrent: keepCurrent === true }) });
      })
  );
}

describe.each<StoreKind>(["redis", "durable-object"])("per-user sessions on %s", (kind) => {
  it("a login that signs out every other device (revokeAllSessions keepCurrent) keeps its own data", async () => {
    const client = storeClients(kind, "users");
    const device = new Browser(isolate(client()));
    await device.fetch("/login-only-here", { method: "POST", json: { user: "ada" } });
    expect(await new Browser(isolate(client())).with(device.cookie).json("/read")).toEqual({ user: "ada" });
  });

  it("a second login that signs out every other device stays signed in itself", async () => {
    const client = storeClients(kind, "users");
    const app = isolate(client());
    const first = new Browser(app);
    await first.fetch("/login-only-here", { method: "POST", json: { user: "ada" } });
    await sleep(5);
    const second = new Browser(app);
    expect(await second.json("/login-only-here", { method: "POST", json: { user: "ada" } })).toEqual({ revoked: 1 });
    const fresh = () => new Browser(isolate(client()));
    expect(await fresh().with(first.cookie).json("/user")).toEqual({ user: null });
    expect(await fresh().with(second.cookie).json("/user")).toEqual({ user: "ada" });
  });

  it("sign out everywhere else goes on when the request's change cannot be saved (a BigInt), then reports it", async () => {
    const client = storeClients(kind, "users");
    const laptop = new Browser(isolate(client()));
    await laptop.fetch("/login", { method: "POST", json: { user: "ada" } });
    const phone = new Browser(isolate(client()));
    await phone.fetch("/login", { method: "POST", json: { user: "ada" } });
    expect(await phone.json("/sign-out-others-with", { method: "POST", json: { bad: "bigint" } })).toEqual({
      error: "ERR_SESSION_DATA",
    });
    const fresh = () => new Browser(isolate(client()));
    expect(await fresh().with(laptop.cookie).json("/user")).toEqual({ user: null }); // signed out all the same
    expect(await fresh().with(phone.cookie).json("/read")).toEqual({ user: "ada" }); // kept, without the BigInt
  });

  it("sign out everywhere else at sign-in keeps the new tie when the request's data is too large, then reports it", async () => {
    const client = storeClients(kind, "users");
    const options = { maxSessionBytes: 1_024 };
    const laptop = new Browser(isolate(client(), options));
    await laptop.fetch("/login", { method: "POST", json: { user: "ada" } });
    const phone = new Browser(isolate(client(), options));
    const json = { bad: "large", login: true };
    expect(await phone.json("/sign-out-others-with", { method: "POST", json })).toEqual({
      error: "ERR_SESSION_TOO_LARGE",
    });
    const fresh = () => new Browser(isolate(client(), options));
    expect(await fresh().with(laptop.cookie).json("/user")).toEqual({ user: null });
    expect(await fresh().with(phone.cookie).json("/user")).toEqual({ user: "ada" });
    expect(((await fresh().with(phone.cookie).json("/sessions")) as SessionInfo[]).map((s) => s.current)).toEqual([
      true,
    ]);
  });

  it("a logout through a copy that has not seen the login takes the session out of its user's index", async () => {
    const client = storeClients(kind, "users");
    const stale = isolate(client(), { maxStalenessMs: 60_000 });
    const other = isolate(client());
    const tab = new Browser(stale);
    await tab.fetch("/data", { method: "PUT", json: { cart: ["sku-1"] } }); // anonymous, held by `stale`
    // Another tab of the browser (before this one's next request) signs in on another isolate.
    await new Browser(other).with(tab.cookie).fetch("/tie", { method: "POST", json: { user: "ada" } });
    // This tab's logout reaches the isolate holding the copy from before the sign-in.
    await tab.fetch("/logout", { method: "POST" });
    expect(await new Browser(isolate(client())).with(tab.cookie).json("/read")).toEqual({});
    const phone = new Browser(other);
    await phone.fetch("/login", { method: "POST", json: { user: "ada" } });
    const listed = (await phone.json("/sessions")) as SessionInfo[];
    expect(listed.map((s) => s.current)).toEqual([true]); // the logged-out session is not listed
  });

  it("a regenerate through a copy that has not seen the login takes the old id out of its user's index", async () => {
    const client = storeClients(kind, "users");
    const stale = isolate(client(), { maxStalenessMs: 60_000 });
    const other = isolate(client());
    const tab = new Browser(stale);
    await tab.fetch("/data", { method: "PUT", json: { cart: ["sku-1"] } });
    await new Browser(other).with(tab.cookie).fetch("/tie", { method: "POST", json: { user: "ada" } });
    await tab.fetch("/regenerate", { method: "POST" }); // the new id carries the tie to ada
    expect(await new Browser(other).with(tab.cookie).json("/user")).toEqual({ user: "ada" });
    const listed = (await new Browser(other).with(tab.cookie).json("/sessions")) as SessionInfo[];
    expect(listed.map((s) => s.current)).toEqual([true]); // not the retired id as well
  });

  it("does not list a session past its absolute lifetime", async () => {
    const client = storeClients(kind, "users");
    const app = isolate(client(), { absoluteTimeoutMs: 1_000 });
    const old = new Browser(app);
    await old.fetch("/login", { method: "POST", json: { user: "ada" } });
    await sleep(1_100);
    expect(await old.json("/read")).toEqual({}); // ended by its absolute lifetime
    const now = new Browser(app);
    await now.fetch("/login", { method: "POST", json: { user: "ada" } });
    expect(((await now.json("/sessions")) as SessionInfo[]).map((s) => s.current)).toEqual([true]);
  });

  it("revokeSession(handle) does not end a session now tied to another user (a stale index entry)", async () => {
    const client = storeClients(kind, "users");
    const { store, failing } = withFailingIndex(client());
    const app = isolate(store);
    const shared = new Browser(app);
    await shared.fetch("/login", { method: "POST", json: { user: "ada" } });
    // The computer changes hands: the session is tied to bob, and the index update of that fails (logged).
    failing.index = true;
    await shared.fetch("/tie", { method: "POST", json: { user: "bob" } });
    failing.index = false;
    expect(await new Browser(isolate(client())).with(shared.cookie).json("/user")).toEqual({ user: "bob" });
    const adasPhone = new Browser(isolate(client()));
    await adasPhone.fetch("/login", { method: "POST", json: { user: "ada" } });
    const listed = (await adasPhone.json("/sessions")) as SessionInfo[];
    for (const { handle } of listed.filter((s) => !s.current))
      await adasPhone.fetch("/revoke", { method: "POST", json: { handle } });
    // Ada's "sign out that device" must not sign bob out.
    expect(await new Browser(isolate(client())).with(shared.cookie).json("/user")).toEqual({ user: "bob" });
  });

  it("maxSessionsPerUser counts live sessions: an expired one's entry does not make a login end a live one", async () => {
    const client = storeClients(kind, "users");
    // Idle timeout 2 s: an entry stays a refresh interval (0.5 s) past its session.
    const options = { idleTimeoutMs: 2_000, maxSessionsPerUser: 2, maxStalenessMs: 0 };
    const phone = new Browser(isolate(client(), options)); // signed in first, and in use all along
    await phone.fetch("/login", { method: "POST", json: { user: "ada" } });
    await sleep(10);
    const laptop = new Browser(isolate(client(), options)); // signed in next, then left
    await laptop.fetch("/login", { method: "POST", json: { user: "ada" } });
    for (let i = 0; i < 7; i++) {
      await sleep(300);
      expect(await phone.json("/user")).toEqual({ user: "ada" });
    }
    // 2.1 s on: the laptop's session expired; the phone's lives. A tablet signs in: two live sessions.
    expect(await new Browser(isolate(client())).with(laptop.cookie).json("/user")).toEqual({ user: null });
    const tablet = new Browser(isolate(client(), options));
    await tablet.fetch("/login", { method: "POST", json: { user: "ada" } });
    expect(await new Browser(isolate(client())).with(phone.cookie).json("/user")).toEqual({ user: "ada" });
  });

  it("signs a user with 200 sessions out everywhere in a bounded number of store calls", async () => {
    const client = storeClients(kind, "users");
    const options = { maxSessionsPerUser: 500 };
    const app = isolate(client(), options);
    const devices = Array.from({ length: 200 }, () => new Browser(app));
    for (let i = 0; i < devices.length; i += 20)
      await Promise.all(
        devices.slice(i, i + 20).map((d) => d.fetch("/login", { method: "POST", json: { user: "ada" } })),
      );
    const calls: string[] = [];
    const counted = new Proxy(client(), {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    const last = new Browser(isolate(counted, options)).with(devices[0]!.cookie);
    expect(((await last.json("/sessions")) as SessionInfo[]).length).toBe(200);
    calls.length = 0;
    expect(await last.json("/revoke-all", { method: "POST", json: { keepCurrent: true } })).toEqual({ revoked: 199 });
    console.log(
      `${kind}: revokeAllSessions({ keepCurrent }) over 200 sessions: ${calls.length} store calls: ${calls.join(", ")}`,
    );
    expect(calls.length).toBeLessThanOrEqual(10);
    expect(((await last.json("/sessions")) as SessionInfo[]).length).toBe(1);
    expect(await new Browser(isolate(client())).with(devices[1]!.cookie).json("/user")).toEqual({ user: null });
  }, 60_000);

  it("a logged-out cookie, on an isolate that has not heard of the logout yet, cannot sign the user out elsewhere", async () => {
    const client = storeClients(kind, "users");
    const a = isolate(client());
    const stale = isolate(client(), { maxStalenessMs: 60_000 });
    const laptop = new Browser(a);
    await laptop.fetch("/login", { method: "POST", json: { user: "ada" } });
    const thief = new Browser(stale).with(laptop.cookie);
    expect(await thief.json("/user")).toEqual({ user: "ada" });
    const phone = new Browser(a);
    await phone.fetch("/login", { method: "POST", json: { user: "ada" } });
    await laptop.fetch("/logout", { method: "POST" });
    // The stolen copy of the logged-out laptop's cookie: within the bound, its isolate still serves it.
    await thief.fetch("/revoke-all", { method: "POST", json: {} });
    expect(await new Browser(isolate(client())).with(phone.cookie).json("/user")).toEqual({ user: "ada" });
  });

  describe("a revoked session on an isolate that has not heard of the revocation yet", () => {
    async function revokedOnStaleIsolate() {
      const client = storeClients(kind, "users");
      const a = isolate(client());
      const stale = isolate(client(), { maxStalenessMs: 60_000 });
      const victim = new Browser(a);
      await victim.fetch("/login", { method: "POST", json: { user: "ada" } });
      const thief = new Browser(stale).with(victim.cookie);
      expect(await thief.json("/read")).toEqual({ user: "ada" });
      expect(await victim.json("/revoke-all", { method: "POST", json: {} })).toEqual({ revoked: 1 });
      await sleep(5);
      // The victim signs in again, after signing out everywhere.
      const again = new Browser(a);
      await again.fetch("/login", { method: "POST", json: { user: "ada" } });
      return { client, thief, again, fresh: (cookie?: string) => new Browser(isolate(client())).with(cookie) };
    }

    it("cannot sign the victim's new session out with sign out everywhere", async () => {
      const { thief, again, fresh } = await revokedOnStaleIsolate();
      await sleep(5);
      await thief.fetch("/revoke-all", { method: "POST", json: {} });
      expect(await fresh(again.cookie).json("/user")).toEqual({ user: "ada" });
    });

    it("cannot list the victim's new session, nor revoke it by its handle", async () => {
      const { thief, again, fresh } = await revokedOnStaleIsolate();
      const listed = (await thief.json("/sessions")) as SessionInfo[];
      expect(listed).toEqual([]);
      const handle = ((await fresh(again.cookie).json("/sessions")) as SessionInfo[])[0]!.handle;
      expect(await thief.json("/revoke", { method: "POST", json: { handle } })).toEqual({ revoked: false });
      expect(await fresh(again.cookie).json("/user")).toEqual({ user: "ada" });
    });

    it("cannot carry its data to a new tie by setUser() before regenerate()", async () => {
      const { thief, fresh } = await revokedOnStaleIsolate();
      await thief.fetch("/switch", { method: "POST", json: { user: "mallory" } });
      expect(await fresh(thief.cookie).json("/read")).toEqual({});
    });
  });
});
