import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { serializeSigned } from "hono/utils/cookie";
import { inject } from "vitest";
import { describe, expect, it } from "vitest";
import {
  session,
  SessionNotSavedError,
  type Session,
  type SessionEvent,
  type SessionOptions,
} from "../../src/index.js";
import { RedisStore } from "../../src/stores/redis/index.js";
import { Secret } from "../../src/config/secret.js";
import { deriveKeys } from "../../src/sealing/keys.js";
import { FlakyStore } from "../support/flaky-store.js";
import { SyncMemoryStore } from "../support/sync-memory-store.js";
import { setCookies } from "../support/cookie-jar.js";
import { Browser, commandsFor, MemoryLogger, names, redisOptions, SECRET, uniqueInstance } from "../support/workerd.js";

type Data = { user?: string; n?: number; cart?: string[]; toJSON?: () => unknown };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function app(options: SessionOptions) {
  return (
    new Hono()
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
      })
      // A top-level toJSON makes JSON serialise what it returns instead of the data: here, no object at all.
      .post("/tojson", async (c) => {
        await c.var.session.set("toJSON", () => "text");
        return c.text("ok");
      })
  );
}

/** A Redis-backed app whose store can be switched off or slowed down, its logger and its events. */
function flakyApp(label: string, extra: SessionOptions = {}) {
  const instance = uniqueInstance(label);
  const { url, token } = inject("redisRest");
  const store = new FlakyStore(new RedisStore({ url, token, namespace: instance }));
  const logger = new MemoryLogger();
  const events: SessionEvent[] = [];
  const options = redisOptions(instance, {
    store,
    logger,
    storeTimeoutMs: 300,
    onEvent: (event) => events.push(event),
    ...extra,
  });
  return { instance, store, logger, events, options, app: app(options) };
}

describe("options.onEvent", () => {
  it("that throws is logged and ignored: the session's calls, the response and the write go on", async () => {
    const instance = uniqueInstance("throwing-observer");
    const logger = new MemoryLogger();
    const seen: string[] = [];
    const onEvent = (event: SessionEvent) => {
      seen.push(event.type);
      throw new Error(`metrics backend down (${event.type})`);
    };
    const browser = new Browser(app(redisOptions(instance, { logger, onEvent })));
    expect(await browser.json("/inc", { method: "POST" })).toEqual({ n: 1 });
    expect(await browser.json("/inc", { method: "POST" })).toEqual({ n: 2 });
    expect(seen).toContain("hit");
    expect(seen).toContain("write");
    // Logged, once a minute at most: a hook that fails fails on every request.
    const logged = logger.lines.filter((line) => line.includes("options.onEvent threw"));
    expect(logged).toEqual([
      `error: hono-edge-session: options.onEvent threw on a "${seen[0]}" event (ignored): Error: metrics backend down (${seen[0]})`,
    ]);
    // Written to the store: another isolate (a new middleware, its memory empty) reads it there.
    const other = new Browser(app(redisOptions(instance))).with(browser.cookie!);
    expect(await other.json("/read")).toEqual({ n: 2 });
  });
});

describe("destroy() and then a write, in one request", () => {
  it("starts a new session under a new id: the write is kept there, the old id stays dead, nothing is dropped", async () => {
    const instance = uniqueInstance("destroy-then-set");
    const logger = new MemoryLogger();
    const events: SessionEvent[] = [];
    const routes = app(redisOptions(instance, { logger, onEvent: (event) => events.push(event) })).post(
      "/switch",
      async (c) => {
        await c.var.session.destroy();
        await c.var.session.set("user", "bob");
        return c.json(await c.var.session.get());
      },
    );
    const browser = new Browser(routes);
    await browser.fetch("/login", { method: "POST" });
    const stolen = browser.cookie!;
    const oldId = browser.id;
    expect(await browser.json("/switch", { method: "POST" })).toEqual({ user: "bob" });
    expect(browser.id).toBeDefined();
    expect(browser.id).not.toBe(oldId);
    expect(events.filter((event) => event.type === "write-dropped")).toEqual([]);
    expect(logger.lines.filter((line) => line.includes("dropped"))).toEqual([]);
    // Another isolate (its memory empty) reads the new session from the store; the old cookie finds nothing.
    const other = () => new Browser(app(redisOptions(instance)));
    expect(await other().with(browser.cookie).json("/read")).toEqual({ user: "bob" });
    expect(await other().with(stolen).json("/read")).toEqual({});
  });
});

describe("c.var.session", () => {
  it("shows the session's methods and nothing else: no state, no way to the engine", async () => {
    const seen = await new Hono()
      .use(session<Data>(redisOptions(uniqueInstance("surface"))))
      .get("/", (c) => {
        const api = c.var.session as unknown as object;
        const proto = Object.getPrototypeOf(api) as object;
        return c.json({
          own: Object.keys(api),
          methods: Object.getOwnPropertyNames(proto).filter((name) => name !== "constructor"),
          statics: Object.getOwnPropertyNames(proto.constructor).sort(),
        });
      })
      .request("/");
    const { own, methods, statics } = await seen.json<{ own: string[]; methods: string[]; statics: string[] }>();
    expect(own).toEqual([]);
    expect(statics).toEqual(["length", "name", "prototype"]);
    expect(methods.sort()).toEqual(
      [
        "get",
        "set",
        "delete",
        "regenerate",
        "destroy",
        "commit",
        "update",
        "setUser",
        "getUser",
        "listSessions",
        "revokeSession",
        "revokeAllSessions",
      ].sort(),
    );
  });
  it("says what went wrong when a method is taken off the session", async () => {
    const res = await new Hono()
      .use(session<Data>(redisOptions(uniqueInstance("detached"))))
      .get("/", async (c) => {
        const { get } = c.var.session;
        try {
          await get("user");
          return c.text("no error");
        } catch (error) {
          return c.text(error instanceof TypeError ? error.message : "another error");
        }
      })
      .request("/");
    expect(await res.text()).toMatch(/call the session's methods on the session/);
  });
});

describe("cookies", () => {
  it("are a signed id cookie and a signed version cookie, HttpOnly, Secure, SameSite=Lax, Path=/", async () => {
    const browser = new Browser(app(redisOptions(uniqueInstance("attrs"))));
    const res = await browser.fetch("/inc", { method: "POST" });
    const [id, version] = setCookies(res);
    expect(id).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{24}\.[A-Za-z0-9%]{40,}; /);
    expect(version).toMatch(
      /^JSESSIONID_v=[A-Za-z0-9_-]{24}\.1\.[A-Za-z0-9_-]{8}\.[0-9a-z]{6,11}\.[A-Za-z0-9%]{40,}; /,
    );
    expect(version!.slice(13, 37)).toBe(id!.slice(11, 35)); // both name the same session
    for (const header of [id!, version!]) {
      expect(header).toMatch(/HttpOnly/);
      expect(header).toMatch(/Secure/);
      expect(header).toMatch(/SameSite=Lax/);
      expect(header).toMatch(/Path=\//);
    }
  });

  it("use the configured name and attributes", async () => {
    const browser = new Browser(
      app(
        redisOptions(uniqueInstance("name"), { cookieName: "sid", cookie: { sameSite: "Strict", domain: "app.test" } }),
      ),
    );
    const headers = setCookies(await browser.fetch("/inc", { method: "POST" }));
    expect(headers.map((h) => h.split("=")[0])).toEqual(["sid", "sid_v"]);
    for (const header of headers) {
      expect(header).toMatch(/SameSite=Strict/);
      expect(header).toMatch(/Domain=app.test/);
    }
  });

  it("only the version cookie changes while the session keeps its id", async () => {
    const browser = new Browser(app(redisOptions(uniqueInstance("version-only"))));
    await browser.fetch("/inc", { method: "POST" });
    const res = await browser.fetch("/inc", { method: "POST" });
    expect(setCookies(res).map((h) => h.split("=")[0])).toEqual(["JSESSIONID_v"]);
    expect(browser.version).toBe(2);
    // A read with an up-to-date cookie sends no cookie at all.
    expect(setCookies(await browser.fetch("/read"))).toEqual([]);
  });

  it.each([
    ["garbage", "JSESSIONID=%%%garbage"],
    ["unsigned id", `JSESSIONID=${"A".repeat(24)}`],
    ["forged signature", `JSESSIONID=${"A".repeat(24)}.${"A".repeat(43)}%3D`],
    ["oversized", `JSESSIONID=${"x".repeat(8000)}`],
    ["empty", "JSESSIONID="],
    ["version cookie only", `JSESSIONID_v=${"A".repeat(24)}.5.AAAAAAAA.${"A".repeat(43)}%3D`],
  ])("a %s cookie gets a new, empty session and never a 5xx", async (_, cookie) => {
    const instance = uniqueInstance("forged");
    const browser = new Browser(app(redisOptions(instance)));
    browser.cookie = cookie;
    const res = await browser.fetch("/read");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(await commandsFor(instance)).toEqual([]);
    expect((await browser.fetch("/inc", { method: "POST" })).status).toBe(200);
    expect(browser.version).toBe(1);
  });

  it("an altered version cookie is ignored: the id cookie alone still opens the session, from the store", async () => {
    const instance = uniqueInstance("tamper-version");
    const browser = new Browser(app(redisOptions(instance)));
    await browser.fetch("/inc", { method: "POST" });
    const id = browser.get("JSESSIONID")!;
    const version = browser.get("JSESSIONID_v")!;
    // Claiming version 9 breaks the signature, so it claims nothing.
    const other = new Browser(app(redisOptions(instance)));
    other.cookie = `JSESSIONID=${id}; JSESSIONID_v=${version.replace(/\.1\./, ".9.")}`;
    expect(await other.json("/read")).toEqual({ n: 1 });
    expect(other.version).toBe(1); // and it gets the true version back
  });

  it("a version cookie signed past half the version range claims nothing: the session still saves, logs out and regenerates", async () => {
    // Each write adds one, so no real cookie gets there; a signed one that did (the fuzz signs it with the
    // test secret) once moved the next version past uint32, where no write could be sealed: logout was a 500.
    const { cookie: key } = await deriveKeys(new Secret(SECRET));
    for (const [version, route, status] of [
      ["4294967295", "/logout", 204],
      ["4294967294", "/logout", 204],
      ["2147483648", "/login", 200],
    ] as const) {
      const instance = uniqueInstance("version-range");
      const browser = new Browser(app(redisOptions(instance)));
      await browser.fetch("/inc", { method: "POST" });
      const signed = await serializeSigned("JSESSIONID_v", `${browser.id}.${version}.AAAAAAAA`, key);
      browser.cookie = `JSESSIONID=${browser.get("JSESSIONID")}; ${signed}`;
      expect(await browser.json("/inc", { method: "POST" })).toEqual({ n: 2 });
      expect(browser.version).toBe(2);
      expect((await browser.fetch(route, { method: "POST" })).status).toBe(status);
      expect(await browser.json("/read")).toEqual(route === "/logout" ? {} : { n: 2, user: "alice" });
    }
  });

  it("an id cookie altered to another id is a new session", async () => {
    const browser = new Browser(app(redisOptions(uniqueInstance("tamper-id"))));
    await browser.fetch("/inc", { method: "POST" });
    const id = browser.get("JSESSIONID")!;
    browser.cookie = `JSESSIONID=${(id[0] === "A" ? "B" : "A") + id.slice(1)}`;
    expect(await browser.json("/read")).toEqual({});
  });
});

describe("write path", () => {
  it("saves nested in-place mutations", async () => {
    const browser = new Browser(app(redisOptions(uniqueInstance("nested"))));
    await browser.fetch("/cart", { method: "POST" });
    expect(await browser.json("/cart", { method: "POST" })).toEqual({ cart: ["shoe", "shoe"] });
    expect(browser.version).toBe(2);
  });

  it("logs and does not save data JSON cannot hold, without failing the response", async () => {
    const { app: a, logger, instance } = flakyApp("bigint");
    const browser = new Browser(a);
    expect((await browser.fetch("/bigint", { method: "POST" })).status).toBe(200);
    expect(logger.lines.join("\n")).toMatch(/session data cannot be saved as JSON/);
    expect(await commandsFor(instance)).toEqual([]);
  });

  it("logs and does not save data with a top-level toJSON function, without failing the response", async () => {
    const { app: a, logger, instance } = flakyApp("tojson");
    const browser = new Browser(a);
    await browser.json("/inc", { method: "POST" });
    const before = await commandsFor(instance);
    expect((await browser.fetch("/tojson", { method: "POST" })).status).toBe(200);
    expect(logger.lines.join("\n")).toMatch(/session data cannot be saved as JSON/);
    expect(await commandsFor(instance)).toEqual(before);
    expect(await browser.json("/inc", { method: "POST" })).toEqual({ n: 2 });
  });

  it("writes a changed session after the response, and the store holds it once that work is done", async () => {
    const { app: a, store, instance } = flakyApp("deferred");
    store.writeDelayMs = 150;
    const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
    const ctx = createExecutionContext();
    const res = await a.fetch(new Request("https://app.test/inc", { method: "POST" }), {}, ctx);
    expect(await res.json()).toEqual({ n: 1 });
    expect(setCookies(res)).toHaveLength(2); // the cookie names the change already
    expect(await store.inner.length()).toBe(0); // the write is still on its way
    await waitOnExecutionContext(ctx);
    expect(await store.inner.length()).toBe(1);
    expect(names(await commandsFor(instance)).filter((name) => name !== "SCAN")).toEqual(["CAS"]);
  });

  it("with awaitWrites, the store holds a changed session before the response", async () => {
    const { app: a, store } = flakyApp("awaited", { awaitWrites: true });
    store.writeDelayMs = 100;
    const res = await a.fetch(new Request("https://app.test/inc", { method: "POST" }), {});
    expect(await res.json()).toEqual({ n: 1 });
    expect(await store.inner.length()).toBe(1);
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

  it("destroy removes the session from both tiers, leaves a tombstone and clears both cookies", async () => {
    const instance = uniqueInstance("destroy");
    const a = app(redisOptions(instance));
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const stolen = browser.cookie;
    const res = await browser.fetch("/logout", { method: "POST" });
    expect(setCookies(res)).toHaveLength(2);
    for (const header of setCookies(res)) expect(header).toMatch(/Max-Age=0/);
    expect(browser.cookie).toBeUndefined();
    expect(names(await commandsFor(instance))).toEqual(["CAS", "CAS"]); // the session, then its tombstone
    for (const isolate of [a, app(redisOptions(instance))]) {
      const replay = new Browser(isolate).with(stolen);
      expect(await replay.json("/read")).toEqual({});
      // Nor can a write through any isolate bring it back.
      await replay.with(stolen).fetch("/inc", { method: "POST" });
      expect(replay.id).not.toBe(new Browser(a).with(stolen).id);
    }
  });
});

describe("regenerate", () => {
  it("moves the data to a new id and never tells a request with only the old id about it", async () => {
    const { options, events, instance } = flakyApp("regen");
    const a = app(options);
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const before = browser.cookie!;
    const oldId = browser.id!;
    await browser.fetch("/login", { method: "POST" });
    expect(browser.id).not.toBe(oldId);
    const newId = browser.id!;
    expect(await browser.json("/read")).toEqual({ n: 1, user: "alice" });
    // The session, the new id and the retired old id (in either order), then the login's own write.
    expect(names(await commandsFor(instance))).toEqual(["CAS", "CAS", "CAS", "CAS"]);

    // Within the grace window a request with the old cookie is served the session as it was, read only,
    // with no cookie at all; its writes are dropped.
    for (const isolate of [a, app(options)]) {
      const old = new Browser(isolate).with(before);
      const res = await old.fetch("/inc", { method: "POST" });
      expect(res.status).toBe(200);
      expect(setCookies(res)).toEqual([]);
      expect(JSON.stringify(await res.json())).not.toContain("alice");
    }
    expect(events).toContainEqual({ type: "write-dropped", reason: "regenerated" });
    expect(await browser.json("/read")).toEqual({ n: 1, user: "alice" });

    // After it, the old id opens nothing, and never the new session.
    await sleep(450);
    for (const isolate of [a, app(options)]) {
      const late = new Browser(isolate).with(before);
      expect(await late.json("/read")).toEqual({});
      expect(late.cookie ?? "").not.toContain(newId);
    }
  });
});

describe("bounded staleness", () => {
  it("serves a memory hit without a store call within the bound, and confirms it with one read after", async () => {
    const instance = uniqueInstance("bound");
    const browser = new Browser(app(redisOptions(instance, { maxStalenessMs: 200 })));
    await browser.fetch("/inc", { method: "POST" });
    for (let i = 0; i < 3; i++) await browser.fetch("/read");
    expect(names(await commandsFor(instance))).toEqual(["CAS"]);
    await sleep(220);
    for (let i = 0; i < 3; i++) await browser.fetch("/read");
    expect(names(await commandsFor(instance))).toEqual(["CAS", "READ"]);
  });

  it("shows another isolate's write and destroy within the bound", async () => {
    const instance = uniqueInstance("bound-two");
    const options = redisOptions(instance, { maxStalenessMs: 200 });
    const a = new Browser(app(options));
    const b = new Browser(app(options));
    await a.fetch("/inc", { method: "POST" });
    b.cookie = a.cookie;
    expect(await b.json("/read")).toEqual({ n: 1 });
    // A tab with the same cookie writes through isolate a; b's copy is confirmed again after the bound.
    const tab = new Browser(a.app).with(a.cookie);
    await tab.fetch("/inc", { method: "POST" });
    const oldCookie = new Browser(b.app).with(a.cookie);
    await sleep(220);
    expect(await oldCookie.json("/read")).toEqual({ n: 2 });
    await tab.fetch("/logout", { method: "POST" });
    await sleep(220);
    expect(await new Browser(b.app).with(a.cookie).json("/read")).toEqual({});
  });

  it("pushes the store expiry forward at most once per refresh interval, in the confirming read", async () => {
    const instance = uniqueInstance("ttl");
    // 0.01 min = 600 ms timeout; refresh at most every 0.5 × 600 = 300 ms; confirm on every request.
    const browser = new Browser(
      app(redisOptions(instance, { idleTimeoutMs: 600, ttlRefreshFraction: 0.5, maxStalenessMs: 0 })),
    );
    await browser.fetch("/inc", { method: "POST" });
    for (let i = 0; i < 4; i++) await browser.fetch("/read");
    await sleep(320);
    for (let i = 0; i < 4; i++) await browser.fetch("/read");
    const reads = (await commandsFor(instance)).filter((c) => names([c])[0] === "READ");
    expect(reads).toHaveLength(8);
    expect(reads.filter((c) => c.args.at(-1) !== "").map((c) => c.args.at(-1))).toEqual(["600"]);
    // The session lives on past its first timeout because it was used.
    await sleep(350);
    expect(await browser.json("/read")).toEqual({ n: 1 });
  });
});

describe("a store that fails", () => {
  it("does not fail a write: the change stays in memory and is written again on the next request", async () => {
    const { app: a, store, logger, options } = flakyApp("backup-retry");
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
    const other = new Browser(app({ ...options, store: store.inner }));
    other.cookie = browser.cookie;
    expect(await other.json("/read")).toEqual({ n: 2 });
  });

  it("answers 503 and keeps the cookie when a miss cannot read the store", async () => {
    const { app: a, store, options } = flakyApp("miss-down");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app(options)).with(browser.cookie);
    store.down = true;
    const res = await other.fetch("/read");
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(setCookies(res)).toEqual([]);
    store.down = false;
    expect(await other.json("/read")).toEqual({ n: 1 });
  });

  it("does not hang a request when the store never answers", async () => {
    const { app: a, store, options } = flakyApp("hang", { storeTimeoutMs: 200 });
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app(options)).with(browser.cookie);
    store.down = true;
    store.hang = true;
    expect((await other.fetch("/read")).status).toBe(503);
  });

  it("with onStoreUnavailable: new-session, carries on with a new session and leaves the stored one alone", async () => {
    const { app: a, store, options } = flakyApp("policy");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const original = browser.cookie;
    const other = new Browser(app({ ...options, onStoreUnavailable: "new-session" })).with(original);
    store.down = true;
    expect(await other.json("/read")).toEqual({});
    store.down = false;
    expect(await new Browser(app(options)).with(original).json("/read")).toEqual({ n: 1 });
  });

  it("turns a tampered blob in the store into a new session and clears the dead cookie", async () => {
    const { app: a, store, logger, options } = flakyApp("tampered");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app({ ...options, store: new TamperingStore(store.inner) })).with(browser.cookie);
    const res = await other.fetch("/read");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    for (const header of setCookies(res)) expect(header).toMatch(/Max-Age=0/);
    expect(logger.lines.join("\n")).toMatch(/stored session rejected/);
    expect(logger.lines.join("\n")).not.toContain(SECRET);
  });

  it("never trusts a stored version that disagrees with the sealed one, and never loops on it", async () => {
    const { app: a, store, logger, options, events } = flakyApp("version-lie");
    const browser = new Browser(a);
    await browser.fetch("/inc", { method: "POST" });
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app({ ...options, store: new VersionLyingStore(store.inner) })).with(browser.cookie);
    const res = await other.fetch("/inc", { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ n: 1 }); // a new session: the old one is not trusted
    expect(logger.lines.join("\n")).toMatch(/the store's version 7 is not the sealed version 2/);
    expect(events.filter((e) => e.type === "write-conflict")).toEqual([]);
  });
});

describe("configuration errors", () => {
  it("go to options.logger, where the app's errors go, not only to the console", async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    const logger = new MemoryLogger();
    try {
      const res = await app({
        secret: "short-secret",
        store: new SyncMemoryStore(uniqueInstance("config-logger")),
        logger,
      }).fetch(new Request("https://app.test/read"), {});
      expect(res.status).toBe(500);
    } finally {
      console.error = original;
    }
    expect(logger.lines.join("\n")).toMatch(/error: hono-edge-session: options\.secret: .*at least 64 characters/);
    expect(logger.lines.join("\n")).not.toContain("short-secret");
  });

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
  override getIfChanged(id: string, known: number, refresh?: number) {
    return this.inner.getIfChanged(id, known, refresh).then((stored) =>
      stored?.session == null
        ? stored
        : {
            ...stored,
            session: stored.session.slice(0, 40) + (stored.session[40] === "A" ? "B" : "A") + stored.session.slice(41),
          },
    );
  }
}

/** Claims version 7 beside the sealed value, as an attacker who rewrote the version prefix could. */
class VersionLyingStore extends FlakyStore {
  override getIfChanged(id: string, known: number, refresh?: number) {
    return this.inner
      .getIfChanged(id, known, refresh)
      .then((stored) => (stored?.session ? { ...stored, version: 7 } : stored));
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
    const other = new Browser(updateApp(redisOptions(instance))).with(browser.cookie);
    expect(await other.json("/read")).toEqual({ n: 20, user: "grace" });
  });

  it("after regenerate, lands on the new id", async () => {
    const instance = uniqueInstance("update-regen");
    const browser = new Browser(updateApp(redisOptions(instance)));
    await browser.fetch("/both", { method: "POST" });
    const before = browser.id;
    expect(await browser.json("/login-and-count", { method: "POST" })).toEqual({ n: 11, user: "grace" });
    expect(browser.id).not.toBe(before);
    const other = new Browser(updateApp(redisOptions(instance))).with(browser.cookie);
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
    expect(browser.version).toBe(2);
    await browser.fetch("/push-and-undo", { method: "POST" });
    expect(browser.version).toBe(2); // no net change, no write
    expect(names(await commandsFor(instance))).toEqual(["CAS", "CAS"]);
  });
});

describe("observability", () => {
  it("adds Server-Timing to responses that used the session, saying which tier served it, without ids or data", async () => {
    const { options } = flakyApp("timing", { serverTiming: true });
    const a = app(options);
    const browser = new Browser(a);
    expect((await browser.fetch("/inc", { method: "POST" })).headers.get("Server-Timing")).toBe(
      'session;desc="new", session-store;dur=0;desc="0 round trips", session-seal;dur=0, session-unseal;dur=0, session-write;desc="deferred"',
    );
    const hit = (await browser.fetch("/read")).headers.get("Server-Timing")!;
    expect(hit).toMatch(/^session;desc="hit", session-store;dur=0;desc="0 round trips"/);
    const miss = (await new Browser(app(options)).with(browser.cookie).fetch("/read")).headers.get("Server-Timing")!;
    expect(miss).toMatch(/^session;desc="miss", session-store;dur=[\d.]+;desc="1 round trip",/);
    for (const header of [hit, miss]) {
      expect(header).not.toContain(browser.id);
      expect(header).not.toContain('"n"');
    }
    // A response that never used the session says nothing; nor does an app that did not ask for it.
    const untouched = new Hono().use(session(options)).get("/", (c) => c.text("ok"));
    const plain = await untouched.fetch(new Request("https://app.test/"));
    expect(plain.status).toBe(200);
    expect(plain.headers.get("Server-Timing")).toBeNull();
    expect(
      (await new Browser(app({ ...options, serverTiming: false })).fetch("/read")).headers.get("Server-Timing"),
    ).toBeNull();
  });

  it("reports hits, misses, revalidations and writes with their durations through onEvent", async () => {
    const { options, events } = flakyApp("events", { maxStalenessMs: 100 });
    const browser = new Browser(app(options));
    await browser.fetch("/inc", { method: "POST" });
    await browser.fetch("/read");
    await sleep(120);
    await browser.fetch("/read");
    await new Browser(app(options)).with(browser.cookie).fetch("/read");
    const types = events.map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(["write", "hit", "revalidated", "miss"]));
    const write = events.find((e) => e.type === "write")!;
    expect(write).toMatchObject({ deferred: true, attempts: 1, merges: 0 });
    expect(events.find((e) => e.type === "revalidated")).toMatchObject({ changed: false });
    for (const event of events) expect(JSON.stringify(event)).not.toContain(browser.id);
  });
});

describe("the middleware mounted twice for one cookie (on the app and again on a sub-app)", () => {
  it("sets each cookie once, and loses no change made through either mounting", async () => {
    for (const twice of ["the same middleware", "two middlewares of one configuration"]) {
      const instance = uniqueInstance("mounted-twice");
      const outer = session<Data>(redisOptions(instance));
      const api = new Hono()
        .use(twice === "the same middleware" ? outer : session<Data>(redisOptions(instance)))
        .post("/inc", async (c) => {
          await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
          return c.text("ok");
        })
        .get("/read", async (c) => c.json(await c.var.session.get()));
      const root = new Hono().use(outer).use("/api/*", async (c, next) => {
        // An app-wide middleware that uses the session before the sub-app's routes (a visit counter, a guard).
        await c.var.session.set("user", "visitor");
        await next();
      });
      root.route("/api", api);
      const browser = new Browser(root);
      const first = await browser.fetch("/api/inc", { method: "POST" });
      expect(
        setCookies(first).map((h) => h.split("=")[0]),
        twice,
      ).toEqual(["JSESSIONID", "JSESSIONID_v"]);
      const second = await browser.fetch("/api/inc", { method: "POST" });
      expect(
        setCookies(second).map((h) => h.split("=")[0]),
        twice,
      ).toEqual(["JSESSIONID_v"]);
      expect(await browser.json("/api/read"), twice).toEqual({ user: "visitor", n: 2 });
    }
  });
});

describe("a change made after the response was made (in a streamed response)", () => {
  function streamingApp(options: SessionOptions, late: (session: Session<Data>) => Promise<unknown>) {
    return new Hono()
      .use(session<Data>(options))
      .post("/inc", async (c) => {
        await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
        return c.text("ok");
      })
      .get("/read", async (c) => c.json(await c.var.session.get()))
      .post("/stream", (c) =>
        streamSSE(c, async (stream) => {
          await stream.writeSSE({ data: "started" }); // the headers are out: the middleware has saved
          try {
            await late(c.var.session);
            await stream.writeSSE({ data: "done" });
          } catch (error) {
            await stream.writeSSE({ data: error instanceof SessionNotSavedError ? "not saved" : String(error) });
          }
        }),
      );
  }
  const events = async (res: Response) => (await res.text()).match(/(?<=data: ).*/g);

  it("is saved when the browser holds the session, as express-session saves what a streaming handler changes", async () => {
    const instance = uniqueInstance("stream-set");
    const browser = new Browser(streamingApp(redisOptions(instance), (s) => s.set("user", "streamed")));
    await browser.fetch("/inc", { method: "POST" });
    expect(await events(await browser.fetch("/stream", { method: "POST" }))).toEqual(["started", "done"]);
    // Another isolate (its memory empty) finds it in the store.
    const other = new Browser(streamingApp(redisOptions(instance), async () => {})).with(browser.cookie);
    expect(await other.json("/read")).toEqual({ n: 1, user: "streamed" });
  });

  it("is refused, never silently lost nor written under an id the browser never gets, for a new session", async () => {
    const instance = uniqueInstance("stream-new");
    for (const late of [
      (s: Session<Data>) => s.set("user", "streamed"),
      (s: Session<Data>) => s.update((d) => void (d.user = "streamed")),
    ]) {
      const browser = new Browser(streamingApp(redisOptions(instance), late));
      expect(await events(await browser.fetch("/stream", { method: "POST" }))).toEqual(["started", "not saved"]);
      expect(browser.cookie).toBeUndefined();
    }
    expect(names(await commandsFor(instance))).toEqual([]);
  });

  it("regenerate() is refused and leaves the session alone: it never retires the id the browser still holds", async () => {
    const instance = uniqueInstance("stream-regen");
    const browser = new Browser(streamingApp(redisOptions(instance), (s) => s.regenerate()));
    await browser.fetch("/inc", { method: "POST" });
    expect(await events(await browser.fetch("/stream", { method: "POST" }))).toEqual(["started", "not saved"]);
    expect(await browser.json("/read")).toEqual({ n: 1 });
    const other = new Browser(streamingApp(redisOptions(instance), async () => {})).with(browser.cookie);
    expect(await other.json("/read")).toEqual({ n: 1 });
  });
});
