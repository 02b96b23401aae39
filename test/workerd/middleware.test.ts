import { Hono } from "hono";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import { session, type SessionOptions } from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { FlakyStore } from "../support/flaky-store.js";
import { SyncMemoryStore } from "../support/sync-memory-store.js";
import { Browser, commandsFor, MemoryLogger, names, redisOptions, SECRET, uniqueInstance } from "../support/workerd.js";

type Data = { user?: string; n?: number; cart?: string[] };

function app(options: SessionOptions) {
  return new Hono()
    .use(session<Data>(options))
    .get("/read", async (c) => c.json(await c.var.session.get()))
    .post("/login", async (c) => {
      await c.var.session.regenerate();
      await c.var.session.set("user", "alice");
      await c.var.session.commit();
      return c.json({ ok: true });
    })
    .post("/logout", async (c) => {
      await c.var.session.destroy();
      return c.body(null, 204);
    })
    .post("/inc", async (c) => {
      await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
      return c.json(await c.var.session.get());
    })
    .post("/cart", async (c) => {
      const data = await c.var.session.get();
      (data.cart ??= []).push("shoe"); // nested, in-place mutation must be saved too
      return c.json(data);
    })
    .post("/bigint", async (c) => {
      await c.var.session.set("n", 1n as unknown as number);
      return c.text("ok");
    });
}

/** A Redis-backed app whose store can be switched off, and its logger. */
function flakyApp(label: string, extra: SessionOptions = {}) {
  const instance = uniqueInstance(label);
  const { url, token } = inject("redisRest");
  const store = new FlakyStore(new RedisStore({ url, token, namespace: instance }));
  const logger = new MemoryLogger();
  return {
    instance,
    store,
    logger,
    app: app(redisOptions(instance, { store, logger, storeTimeoutMs: 300, ...extra })),
  };
}

describe("cookie", () => {
  it("is HttpOnly, Secure, SameSite=Lax, Path=/ and signed", async () => {
    const browser = new Browser(app(redisOptions(uniqueInstance("attrs"))));
    const res = await browser.fetch("/inc", { method: "POST" });
    const header = res.headers.get("Set-Cookie")!;
    expect(header).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{24}\.1\.[A-Za-z0-9%]+/);
    expect(header).toMatch(/HttpOnly/);
    expect(header).toMatch(/Secure/);
    expect(header).toMatch(/SameSite=Lax/);
    expect(header).toMatch(/Path=\//);
  });

  it("uses the configured name and attributes", async () => {
    const browser = new Browser(
      app(
        redisOptions(uniqueInstance("name"), { cookieName: "sid", cookie: { sameSite: "Strict", domain: "app.test" } }),
      ),
    );
    const header = (await browser.fetch("/inc", { method: "POST" })).headers.get("Set-Cookie")!;
    expect(header).toMatch(/^sid=/);
    expect(header).toMatch(/SameSite=Strict/);
    expect(header).toMatch(/Domain=app.test/);
  });

  it.each([
    ["garbage", "JSESSIONID=%%%garbage"],
    ["unsigned id", `JSESSIONID=${"A".repeat(24)}.1`],
    ["forged signature", `JSESSIONID=${"A".repeat(24)}.1.${"A".repeat(43)}%3D`],
    ["oversized", `JSESSIONID=${"x".repeat(8000)}`],
    ["empty", "JSESSIONID="],
  ])("a %s cookie gets a new, empty session and never a 5xx", async (_, cookie) => {
    const instance = uniqueInstance("forged");
    const browser = new Browser(app(redisOptions(instance)));
    browser.cookie = cookie;
    const res = await browser.fetch("/read");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(await commandsFor(instance)).toEqual([]);
    expect((await browser.fetch("/inc", { method: "POST" })).status).toBe(200);
    expect(browser.cookie).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{24}\.1\./);
  });

  it("a valid signature over another session's id with a higher version is just a miss, not a crash", async () => {
    const instance = uniqueInstance("tamper-version");
    const browser = new Browser(app(redisOptions(instance)));
    await browser.fetch("/inc", { method: "POST" });
    // Changing the version invalidates the signature: the cookie is ignored.
    browser.cookie = browser.cookie!.replace(/\.1\./, ".9.");
    expect(await browser.json("/read")).toEqual({});
  });
});

describe("write path", () => {
  it("saves nested in-place mutations", async () => {
    const browser = new Browser(app(redisOptions(uniqueInstance("nested"))));
    await browser.fetch("/cart", { method: "POST" });
    expect(await browser.json("/cart", { method: "POST" })).toEqual({ cart: ["shoe", "shoe"] });
    expect(browser.cookie).toMatch(/\.2\./);
  });

  it("logs and does not save data JSON cannot hold, without failing the response", async () => {
    const { app: a, logger, instance } = flakyApp("bigint");
    const browser = new Browser(a);
    expect((await browser.fetch("/bigint", { method: "POST" })).status).toBe(200);
    expect(logger.lines.join("\n")).toMatch(/not JSON-serialisable/);
    expect(await commandsFor(instance)).toEqual([]);
  });

  it("regenerate gives a new id, keeps the data, and retires the old id after its grace window", async () => {
    const instance = uniqueInstance("regen");
    const options = redisOptions(instance, { regenerateGraceSeconds: 0.3 });
    const browser = new Browser(app(options));
    await browser.fetch("/inc", { method: "POST" });
    const before = browser.cookie!;
    await browser.fetch("/login", { method: "POST" });
    expect(browser.cookie).not.toBe(before);
    expect(await browser.json("/read")).toEqual({ n: 1, user: "alice" });
    const writes = (await commandsFor(instance)).filter((c) => !c.error);
    expect(names(writes)).toEqual(["CAS", "CAS", "CAS"]);
    const key = (i: number) => writes[i]!.args[2];
    expect(key(1)).not.toBe(key(0)); // the new id
    expect(key(2)).toBe(key(0)); // the old id, now a redirect that expires with the grace window
    expect(writes[2]!.args.at(-1)).toBe("300");
    // Within the grace window the old cookie (a request already in flight) reaches the new session.
    const inFlight = new Browser(app(options));
    inFlight.cookie = before;
    expect(await inFlight.json("/read")).toEqual({ n: 1, user: "alice" });
    expect(inFlight.cookie).toBe(browser.cookie);
    // After it, the old id finds nothing.
    await new Promise((r) => setTimeout(r, 400));
    const late = new Browser(app(options));
    late.cookie = before;
    expect(await late.json("/read")).toEqual({});
  });

  it("destroy removes the session from both tiers and clears the cookie", async () => {
    const instance = uniqueInstance("destroy");
    const a = app(redisOptions(instance));
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const stolen = browser.cookie;
    const res = await browser.fetch("/logout", { method: "POST" });
    expect(res.headers.get("Set-Cookie")).toMatch(/Max-Age=0/);
    expect(browser.cookie).toBeUndefined();
    expect(names(await commandsFor(instance))).toEqual(["CAS", "CAS"]); // the session, then its tombstone
    const replay = new Browser(a);
    replay.cookie = stolen;
    expect(await replay.json("/read")).toEqual({});
  });

  it("commit() has the store hold the session before the response", async () => {
    const instance = uniqueInstance("commit");
    const { url, token } = inject("redisRest");
    const store = new RedisStore({ url, token, namespace: instance });
    const a = app(redisOptions(instance, { store }));
    // No waitOnExecutionContext here: only commit() can have put it in the store already.
    const res = await a.fetch(new Request("https://app.test/login", { method: "POST" }), {});
    expect(res.status).toBe(200);
    expect(await store.length()).toBe(1);
  });
});

describe("TTL refresh", () => {
  it("refreshes an unchanged session's store expiry at most once per refresh interval", async () => {
    const instance = uniqueInstance("ttl");
    // 0.01 min = 600 ms timeout; refresh at most every 0.5 × 600 = 300 ms.
    const browser = new Browser(app(redisOptions(instance, { timeout: 0.01, ttlRefreshFraction: 0.5 })));
    await browser.fetch("/inc", { method: "POST" });
    for (let i = 0; i < 5; i++) await browser.fetch("/read");
    expect(names(await commandsFor(instance))).toEqual(["CAS"]);
    await new Promise((r) => setTimeout(r, 350));
    for (let i = 0; i < 5; i++) await browser.fetch("/read");
    expect(names(await commandsFor(instance))).toEqual(["CAS", "PEXPIRE"]);
  });
});

describe("a store that fails", () => {
  it("does not fail a write: the session stays in memory and the backup is retried on the next request", async () => {
    const { app: a, store, logger } = flakyApp("backup-retry");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    store.down = true;
    const res = await browser.fetch("/inc", { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ n: 2 });
    expect(logger.lines.join("\n")).toMatch(/store write failed/);
    expect(await browser.json("/read")).toEqual({ n: 2 });
    store.down = false;
    store.calls = [];
    expect(await browser.json("/read")).toEqual({ n: 2 });
    expect(store.calls).toEqual(["setIfVersion"]);
    // Another isolate now finds version 2 in the store.
    const other = new Browser(app(redisOptions(flakyApp("x").instance, { store: store.inner })));
    other.cookie = browser.cookie;
    expect(await other.json("/read")).toEqual({ n: 2 });
  });

  it("answers 503 and keeps the cookie when a miss cannot read the store", async () => {
    const { app: a, store } = flakyApp("miss-down");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app(redisOptions(uniqueInstance("y"), { store, storeTimeoutMs: 300 })));
    other.cookie = browser.cookie;
    store.down = true;
    const res = await other.fetch("/read");
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(res.headers.get("Set-Cookie")).toBeNull();
    store.down = false;
    expect(await other.json("/read")).toEqual({ n: 1 });
  });

  it("does not hang a request when the store never answers", async () => {
    const { app: a, store } = flakyApp("hang");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app(redisOptions(uniqueInstance("z"), { store, storeTimeoutMs: 200 })));
    other.cookie = browser.cookie;
    store.down = true;
    store.hang = true;
    expect((await other.fetch("/read")).status).toBe(503);
  });

  it("with onStoreUnavailable: new-session, carries on with a new session and leaves the stored one alone", async () => {
    const { app: a, store } = flakyApp("policy");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const original = browser.cookie;
    const other = new Browser(
      app(redisOptions(uniqueInstance("w"), { store, storeTimeoutMs: 300, onStoreUnavailable: "new-session" })),
    );
    other.cookie = original;
    store.down = true;
    expect(await other.json("/read")).toEqual({});
    store.down = false;
    const third = new Browser(app(redisOptions(uniqueInstance("v"), { store })));
    third.cookie = original;
    expect(await third.json("/read")).toEqual({ n: 1 });
  });

  it("turns a tampered blob in the store into a new session and clears the dead cookie", async () => {
    const { app: a, store, logger } = flakyApp("tampered");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(
      app(redisOptions(uniqueInstance("u"), { store: new TamperingStore(store.inner), logger })),
    );
    other.cookie = browser.cookie;
    const res = await other.fetch("/read");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(res.headers.get("Set-Cookie")).toMatch(/Max-Age=0/);
    expect(logger.lines.join("\n")).toMatch(/stored session rejected/);
    expect(logger.lines.join("\n")).not.toContain(SECRET);
  });
});

describe("configuration errors", () => {
  it("answer 500 with a generic body and log the rule, never the secret", async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      const broken = app({ extSessionMgt: { instanceName: "x", storageType: "redis", sessionSecret: "short-secret" } });
      const res = await broken.fetch(new Request("https://app.test/read"), {});
      expect(res.status).toBe(500);
      expect(await res.text()).toBe("Internal Server Error");
      expect(errors.join("\n")).toMatch(/EXT_SESSION_MGT\.sessionSecret: .*at least 64 characters/);
      expect(errors.join("\n")).not.toContain("short-secret");
    } finally {
      console.error = original;
    }
  });
});

/** Hands back the stored blob with one character changed, as an attacker with store access could. */
class TamperingStore extends FlakyStore {
  override get(id: string) {
    return Promise.resolve(this.inner.get(id)).then((blob) =>
      blob === null ? null : blob.slice(0, 40) + (blob[40] === "A" ? "B" : "A") + blob.slice(41),
    );
  }
}

describe("update(fn)", () => {
  function updateApp(options: SessionOptions) {
    return new Hono()
      .use(session<Data>(options))
      .post("/both", async (c) => {
        await c.var.session.set("user", "grace"); // a pending change made before the update
        const saved = await c.var.session.update((data) => ({ ...data, n: (data.n ?? 0) + 10 }));
        return c.json({ saved, now: await c.var.session.get() });
      })
      .post("/login-and-count", async (c) => {
        await c.var.session.regenerate();
        return c.json(await c.var.session.update((data) => void (data.n = (data.n ?? 0) + 1)));
      })
      .get("/read", async (c) => c.json(await c.var.session.get()));
  }

  it("saves fn's result at once and keeps the request's other changes on top", async () => {
    const instance = uniqueInstance("update");
    const browser = new Browser(updateApp(redisOptions(instance)));
    expect(await browser.json("/both", { method: "POST" })).toEqual({
      saved: { n: 10 },
      now: { n: 10, user: "grace" },
    });
    expect(await browser.json("/both", { method: "POST" })).toEqual({
      saved: { n: 20, user: "grace" },
      now: { n: 20, user: "grace" },
    });
    const other = new Browser(updateApp(redisOptions(instance)));
    other.cookie = browser.cookie;
    expect(await other.json("/read")).toEqual({ n: 20, user: "grace" });
  });

  it("after regenerate, lands on the new id", async () => {
    const instance = uniqueInstance("update-regen");
    const browser = new Browser(updateApp(redisOptions(instance)));
    await browser.fetch("/both", { method: "POST" });
    const before = browser.cookie;
    expect(await browser.json("/login-and-count", { method: "POST" })).toEqual({ n: 11, user: "grace" });
    expect(browser.cookie?.split(".")[0]).not.toBe(before?.split(".")[0]);
    const other = new Browser(updateApp(redisOptions(instance)));
    other.cookie = browser.cookie;
    expect(await other.json("/read")).toEqual({ n: 11, user: "grace" });
  });

  it("works on a store without compare-and-set (last writer wins)", async () => {
    const store = new SyncMemoryStore(uniqueInstance("update-plain"));
    const browser = new Browser(
      updateApp({ extSessionMgt: { instanceName: "p", storageType: "custom", sessionSecret: SECRET }, store }),
    );
    await browser.fetch("/both", { method: "POST" });
    expect(await browser.json("/both", { method: "POST" })).toEqual({
      saved: { n: 20, user: "grace" },
      now: { n: 20, user: "grace" },
    });
    expect(await store.length()).toBe(1);
  });
});

describe("read-only requests", () => {
  it("hand out copies: mutating a value got with get(key) is saved, and never leaks into the cached copy", async () => {
    const instance = uniqueInstance("copies");
    const a = new Hono()
      .use(session<{ cart?: string[]; n?: number }>(redisOptions(instance)))
      .post("/seed", async (c) => {
        await c.var.session.set("cart", ["a"]);
        await c.var.session.set("n", 1);
        return c.text("ok");
      })
      .post("/push", async (c) => {
        (await c.var.session.get("cart"))!.push("b");
        return c.text("ok");
      })
      .post("/push-and-undo", async (c) => {
        const cart = (await c.var.session.get("cart"))!;
        cart.push("tmp");
        cart.pop();
        return c.text("ok");
      })
      .get("/read", async (c) => c.json(await c.var.session.get()));
    const browser = new Browser(a);
    await browser.fetch("/seed", { method: "POST" });
    await browser.fetch("/push", { method: "POST" });
    expect(await browser.json("/read")).toEqual({ cart: ["a", "b"], n: 1 });
    expect(browser.cookie).toMatch(/\.2\./);
    await browser.fetch("/push-and-undo", { method: "POST" });
    expect(browser.cookie).toMatch(/\.2\./); // no net change, no write
    expect(names(await commandsFor(instance))).toEqual(["CAS", "CAS"]);
  });
});
