import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session, type SessionEvent, type SessionOptions } from "../../src/index.js";
import { setCookies } from "../support/cookie-jar.js";
import { Browser, MemoryLogger } from "../support/workerd.js";

const SECRET = "review-secret-".padEnd(72, "r");
const OLD = "old-secret-".padEnd(70, "o");
const NEW = "new-secret-".padEnd(70, "n");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/*
 * Races and edge cases found by a review, each a regression test: regenerate, revoke and rotation against
 * copies in memory, the write queue against merges, and data that is not what it seems.
 */

/** A view of `base` whose compare-and-set is overridden (every other call goes to `base` itself). */
function overriding(
  base: MemoryStore,
  overrides: Partial<Pick<MemoryStore, "setIfVersion" | "readIndex">>,
): MemoryStore {
  return new Proxy(base, {
    get(target, property) {
      const own = (overrides as Record<PropertyKey, unknown>)[property];
      if (own !== undefined) return own;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * `base` whose compare-and-set takes `delayMs` (a store that far away) and, after a write lands, runs the
 * hook set in `landed.next` once, before it answers.
 */
function landingHook(base: MemoryStore, delayMs = 0) {
  const landed: { next?: () => Promise<void> } = {};
  const store = overriding(base, {
    setIfVersion: async (...args) => {
      if (delayMs > 0) await sleep(delayMs);
      const result = await base.setIfVersion(...args);
      const hook = landed.next;
      if (result === null && hook !== undefined) {
        landed.next = undefined;
        await hook();
      }
      return result;
    },
  });
  return { store, landed };
}

type Data = Record<string, unknown>;

/** One isolate of an app on a shared store. */
function isolate(store: MemoryStore, extra: SessionOptions = {}) {
  const events: SessionEvent[] = [];
  const logger = new MemoryLogger();
  const app = new Hono()
    .use(session<Data>({ secret: SECRET, store, logger, onEvent: (e) => events.push(e), ...extra }))
    .get("/read", async (c) => c.json(await c.var.session.get()))
    .post("/set", async (c) => {
      const body = await c.req.json<Record<string, unknown>>();
      for (const [key, value] of Object.entries(body)) await c.var.session.set(key, value);
      return c.json(await c.var.session.get());
    })
    .post("/set-commit", async (c) => {
      const body = await c.req.json<Record<string, unknown>>();
      for (const [key, value] of Object.entries(body)) await c.var.session.set(key, value);
      try {
        await c.var.session.commit();
        return c.json({ committed: true });
      } catch {
        return c.json({ committed: false });
      }
    })
    .post("/login", async (c) => {
      await c.var.session.regenerate();
      await c.var.session.setUser("ada");
      await c.var.session.commit();
      return c.json({ ok: true });
    })
    .post("/count", async (c) => {
      await c.var.session.update((data) => ({ ...data, n: Number(data["n"] ?? 0) + 1 }));
      return c.json(await c.var.session.get());
    })
    .post("/user", async (c) => {
      await c.var.session.setUser("ada");
      return c.json({ ok: true });
    })
    .post("/logout-everywhere", async (c) =>
      c.json({ ended: await c.var.session.revokeAllSessions({ userId: "ada" }) }),
    )
    .get("/sessions", async (c) => c.json(await c.var.session.listSessions("ada")));
  return { app, events, logger };
}

describe("commit() on a retired id", () => {
  it("rejects, as nothing was saved: the write of a retired id is dropped", async () => {
    const store = new MemoryStore();
    const { app, events } = isolate(store);
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST", json: { a: 1 } });
    const old = browser.cookie;
    await browser.fetch("/login", { method: "POST" });
    // A request with the old id, after the regenerate: read only.
    const tab = new Browser(app).with(old);
    const res = await tab.fetch("/set-commit", { method: "POST", json: { paid: true } });
    expect(events).toContainEqual({ type: "write-dropped", reason: "regenerated" }); // the write was dropped …
    expect(await res.json()).toEqual({ committed: false }); // … so commit() must not have said yes
  });
});

describe("regenerate() by a request arriving with the old id", () => {
  it("starts afresh, never a 500 (a login form sent twice, the second with the old cookie)", async () => {
    const store = new MemoryStore();
    const { app } = isolate(store);
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST", json: { a: 1 } });
    const old = browser.cookie;
    await browser.fetch("/login", { method: "POST" });
    const second = await new Browser(app).with(old).fetch("/login", { method: "POST" });
    expect(second.status).not.toBe(500);
  });
});

describe("an in-flight request with the old id answers after the regenerate", () => {
  /**
   * A slow request loads the session with the old cookies; meanwhile the browser logs in (regenerate, then a
   * write), and then the slow request writes and answers.
   */
  async function slowRequestAcrossLogin() {
    const store = new MemoryStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const app = new Hono()
      .use(session<Data>({ secret: SECRET, store, logger: new MemoryLogger() }))
      .post("/set", async (c) => {
        await c.var.session.set("a", 1);
        return c.json({});
      })
      .post("/slow", async (c) => {
        await c.var.session.get(); // loaded before the regenerate
        await gate;
        await c.var.session.set("cart", ["x"]);
        return c.json({});
      })
      .post("/login", async (c) => {
        await c.var.session.regenerate();
        await c.var.session.set("user", "ada"); // written after the response
        return c.json({});
      });
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST" });
    // The slow request starts with the old cookies.
    const headers = new Headers({ Cookie: browser.cookie! });
    const ctx = createExecutionContext();
    const slow = app.fetch(new Request("https://app.test/slow", { method: "POST", headers }), {}, ctx);
    await sleep(10);
    await browser.fetch("/login", { method: "POST" });
    const versionAfterLogin = browser.version;
    release();
    const slowResponse = await slow;
    await waitOnExecutionContext(ctx);
    return { browser, versionAfterLogin, slowResponse };
  }

  it("sends no Set-Cookie at all when this isolate did the regenerate", async () => {
    const { versionAfterLogin, slowResponse } = await slowRequestAcrossLogin();
    expect(versionAfterLogin).toBe(2); // the new id, version 2 (regenerate = 1, the user write = 2)
    // README: in-flight requests with the old id finish "with no Set-Cookie at all".
    expect(setCookies(slowResponse)).toEqual([]);
  });

  it("leaves the browser's version cookie naming its new id", async () => {
    const { browser, slowResponse } = await slowRequestAcrossLogin();
    browser.take(slowResponse);
    expect(browser.version).toBe(2); // read-your-writes: the browser should still name version 2 of its new id
  });
});

describe("log out everywhere after a secret rotation", () => {
  it("ends a session not written since the rotation, on an isolate that holds it, within the bound", async () => {
    const store = new MemoryStore();
    // Before the rotation: a session of user ada, written under the old secret.
    const before = isolate(store, { secret: OLD });
    const victim = new Browser(before.app);
    await victim.fetch("/set", { method: "POST", json: { secret: "s3cr3t" } });
    await victim.fetch("/user", { method: "POST" });
    const stolen = victim.cookie;

    // After the rotation: isolate B holds the session in memory (read, not written: it stays under the old key).
    const b = isolate(store, { secret: NEW, previousSecrets: [OLD], maxStalenessMs: 50 });
    const thief = new Browser(b.app).with(stolen);
    expect(await thief.json("/read")).toEqual({ secret: "s3cr3t" });

    // The user logs out everywhere from another isolate.
    const a = isolate(store, { secret: NEW, previousSecrets: [OLD] });
    const admin = new Browser(a.app);
    expect(await admin.json("/logout-everywhere", { method: "POST" })).toEqual({ ended: 1 });

    // A fresh isolate refuses the stolen cookie …
    expect(
      await new Browser(isolate(store, { secret: NEW, previousSecrets: [OLD] }).app).with(stolen).json("/read"),
    ).toEqual({});
    // … and so must isolate B once its 50 ms bound has passed (it still serves it, and the list still shows it).
    await sleep(120);
    const late = await new Browser(b.app).with(stolen).json("/read");
    await sleep(120);
    const later = await new Browser(b.app).with(stolen).json("/read");
    const listed = ((await admin.json("/sessions")) as unknown[]).length;
    expect({ late, later, listed }).toEqual({ late: {}, later: {}, listed: 0 });
  });
});

describe("configuration", () => {
  it("calls the store factory once, however many requests come first", async () => {
    const store = new MemoryStore();
    let built = 0;
    const app = new Hono()
      .use(
        session<Data>({
          secret: SECRET,
          store: () => (built++, store),
          logger: new MemoryLogger(),
        }),
      )
      .get("/read", async (c) => c.json(await c.var.session.get()));
    await Promise.all([1, 2, 3].map(() => app.request("/read")));
    expect(built).toBe(1); // README: "called once, on the isolate's first request"
  });
});

describe("sign out everywhere, and sign out everywhere else from another session of the user, at once", () => {
  it("ends the session the second keeps when the first's cut-off lands while it is being tied anew", async () => {
    const base = new MemoryStore();
    // The first sign-out's isolate: its index read waits at a gate (its cut-off time is already taken).
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let hold = false;
    const slowIndex = overriding(base, {
      readIndex: async (...args) => {
        if (hold) {
          hold = false;
          await gate;
        }
        return base.readIndex(...args);
      },
    });
    // The second's isolate: when its re-tie lands, the first sign-out goes on and ends, before it goes on.
    const { store: hooked, landed } = landingHook(base);
    const everywhere = isolate(slowIndex).app;
    const elsewhere = isolate(hooked).app.post("/logout-others", async (c) =>
      c.json({ ended: await c.var.session.revokeAllSessions({ userId: "ada", keepCurrent: true }) }),
    );
    const victim = new Browser(everywhere);
    await victim.fetch("/login", { method: "POST" });
    const thief = new Browser(elsewhere);
    await thief.fetch("/login", { method: "POST" });
    await thief.fetch("/set", { method: "POST", json: { mine: 1 } });

    hold = true;
    const signedOut = victim.json("/logout-everywhere", { method: "POST" });
    await sleep(5); // the second sign-out starts later, on its own clock
    landed.next = async () => {
      open();
      await signedOut;
    };
    await thief.json("/logout-others", { method: "POST" });
    expect(await signedOut).toEqual({ ended: 2 });
    // Every session of the user that the first sign-out listed is gone, on any isolate, however the two met.
    expect(await new Browser(isolate(base).app).with(thief.cookie).json("/read")).toEqual({});
    expect(await new Browser(isolate(base).app).with(victim.cookie).json("/read")).toEqual({});
    expect(await new Browser(isolate(base).app).json("/sessions")).toEqual([]);
  });
});

describe("two changes on one isolate, the first merged by the store", () => {
  it("never re-applies the first change's keys over a newer write from another isolate", async () => {
    const base = new MemoryStore();
    // Isolate A's store: each compare-and-set is slow (a store 20 ms away); a hook runs after one lands.
    const { store: slowStore, landed } = landingHook(base, 20);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const events: SessionEvent[] = [];
    const a = new Hono()
      .use(
        session<Data>({ secret: SECRET, store: slowStore, logger: new MemoryLogger(), onEvent: (e) => events.push(e) }),
      )
      .post("/set", async (c) => {
        const body = await c.req.json<Record<string, unknown>>();
        await c.var.session.get();
        if (c.req.query("wait") !== undefined) await gate;
        for (const [key, value] of Object.entries(body)) await c.var.session.set(key, value);
        return c.json({});
      });
    const b = isolate(base).app;

    const browser = new Browser(a);
    await browser.fetch("/set", { method: "POST", json: { start: 0 } }); // v1 on A (in A's memory)
    const cookie = browser.cookie;
    // On A, two requests load v1 from memory and wait.
    const send = (json: object) => {
      const ctx = createExecutionContext();
      const res = Promise.resolve(
        a.fetch(
          new Request("https://app.test/set?wait", {
            method: "POST",
            body: JSON.stringify(json),
            headers: { Cookie: cookie!, "Content-Type": "application/json" },
          }),
          {},
          ctx,
        ),
      );
      return res.then(() => waitOnExecutionContext(ctx));
    };
    const r1 = send({ k: "A" });
    const r2 = send({ j: "A" });
    await sleep(5);
    // Meanwhile isolate B writes another key: v2. So A's first write will merge.
    await new Browser(b).with(cookie).fetch("/set", { method: "POST", json: { m: "B" } });
    // As soon as A's first write (k) lands, B sets k again, later than A did.
    landed.next = async () => {
      const res = await new Browser(b).with(cookie).fetch("/set", { method: "POST", json: { k: "B-later" } });
      expect(res.status).toBe(200);
    };
    release();
    await Promise.all([r1, r2]);
    await sleep(100);
    const stored = await new Browser(isolate(base).app).with(cookie).json("/read");

    // B's k was written after A's k landed, and no later request set k: B's value must stand.
    expect(stored).toMatchObject({ start: 0, m: "B", j: "A", k: "B-later" });
  });
});

describe("the same change made on two isolates at once", () => {
  it("lands the write each cookie names, so no later request waits or is refused", async () => {
    const base = new MemoryStore();
    const slowStore = overriding(base, {
      setIfVersion: async (...args: Parameters<MemoryStore["setIfVersion"]>) => {
        {
          await sleep(30);
          return await base.setIfVersion(...args);
        }
      },
    });
    const events: SessionEvent[] = [];
    const opts = { onStaleRead: "reject" as const, onEvent: (e: SessionEvent) => events.push(e) };
    const a = isolate(slowStore, opts).app;
    const b = isolate(base, opts).app;
    const browser = new Browser(a);
    await browser.fetch("/set", { method: "POST", json: { start: 0 } });
    const cookie = browser.cookie;
    // Two tabs set the same value at once, through isolates A and B.
    const tabA = new Browser(a).with(cookie);
    const tabB = new Browser(b).with(cookie);
    await Promise.all([
      tabA.fetch("/set", { method: "POST", json: { theme: "dark" } }),
      sleep(5).then(() => tabB.fetch("/set", { method: "POST", json: { theme: "dark" } })),
    ]);
    // The browser keeps the cookie of the response that came last: A's.
    browser.cookie = tabA.cookie;
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      const r = await browser.fetch("/read");
      statuses.push(r.status);

      await sleep(50);
    }
    statuses.push((await new Browser(isolate(base, opts).app).with(browser.cookie).fetch("/read")).status);

    expect(statuses).toEqual([200, 200, 200, 200]);
  });
});

describe("get(key) copies an object value with [[Set]]", () => {
  it('keeps a stored own "__proto__" member an ordinary member, never the prototype', async () => {
    const store = new MemoryStore();
    const app = new Hono()
      .use(session<Data>({ secret: SECRET, store, logger: new MemoryLogger() }))
      .post("/prefs", async (c) => {
        await c.var.session.set("prefs", await c.req.json()); // user-supplied JSON, as parsed
        return c.json({});
      })
      .get("/is-admin", async (c) => {
        const prefs = (await c.var.session.get("prefs")) as Record<string, unknown>;
        const whole = (await c.var.session.get()) as { prefs: Record<string, unknown> };
        return c.json({ viaGet: prefs["isAdmin"] ?? null, viaWhole: whole.prefs["isAdmin"] ?? null });
      });
    const browser = new Browser(app);
    await browser.fetch("/prefs", {
      method: "POST",
      body: '{"__proto__":{"isAdmin":true}}',
      headers: { "Content-Type": "application/json" },
    });
    // JSON.parse keeps "__proto__" an own member (isAdmin stays undefined); the copy made by get(key) does not.
    expect(await browser.json("/is-admin")).toEqual({ viaGet: null, viaWhole: null });
  });
});

describe("a new session's first write still in flight", () => {
  it("is waited for by another isolate, not declared dead (its cookies are kept)", async () => {
    const base = new MemoryStore();
    const slowStore = overriding(base, {
      setIfVersion: async (...args: Parameters<MemoryStore["setIfVersion"]>) => {
        await sleep(60); // a store ~60 ms away
        return await base.setIfVersion(...args);
      },
    });
    const a = isolate(slowStore).app;
    const b = isolate(base).app;
    // The first request (a new session: a cart, a login without regenerate) on isolate A; the response comes
    // back before the write lands (its waitUntil is not awaited here, as in production).
    const ctx = createExecutionContext();
    const first = await a.fetch(
      new Request("https://app.test/set", {
        method: "POST",
        body: JSON.stringify({ cart: ["sku-1"] }),
        headers: { "Content-Type": "application/json" },
      }),
      {},
      ctx,
    );
    const browser = new Browser(b);
    browser.take(first);
    expect(browser.version).toBe(1);
    // The user's very next request lands on isolate B.
    const res = await browser.fetch("/read");
    const cleared = setCookies(res);
    const data = await res.json();
    await waitOnExecutionContext(ctx); // A's write lands now
    expect({ data, cleared }).toEqual({ data: { cart: ["sku-1"] }, cleared: [] });
  });
});

describe("a load that replaces a pending change of its own isolate", () => {
  it("never drops a change the write queue has not written yet", async () => {
    const base = new MemoryStore();
    const slowStore = overriding(base, {
      setIfVersion: async (...args: Parameters<MemoryStore["setIfVersion"]>) => {
        await sleep(400); // a slow store, or a congested one
        return await base.setIfVersion(...args);
      },
    });
    const a = isolate(slowStore, { maxStalenessMs: 60_000 }).app;
    const b = isolate(base).app;
    const browser = new Browser(b);
    await browser.fetch("/set", { method: "POST", json: { start: 0 } }); // v1, in the store
    const tabA = new Browser(a).with(browser.cookie);
    expect(await tabA.json("/read")).toEqual({ start: 0 }); // A holds v1

    const post = (app: Hono<any>, cookie: string | undefined, json: object) => {
      const ctx = createExecutionContext();
      const response = Promise.resolve(
        app.fetch(
          new Request("https://app.test/set", {
            method: "POST",
            body: JSON.stringify(json),
            headers: { Cookie: cookie!, "Content-Type": "application/json" },
          }),
          {},
          ctx,
        ),
      );
      return { response, done: response.then(() => waitOnExecutionContext(ctx)) };
    };
    // R1 and R2 on A: the queue writes R1's change (slowly); R2's waits for the next round.
    const r1 = post(a, tabA.cookie, { a: 1 });
    tabA.take(await r1.response);
    const r2 = post(a, tabA.cookie, { b: 1 });
    tabA.take(await r2.response);
    // The same browser writes through B (it waits for A's write, gives up, writes on the newest it has).
    const viaB = new Browser(b).with(tabA.cookie);
    await viaB.fetch("/set", { method: "POST", json: { c: 1 } });
    // Its next request lands on A again, with the cookie B gave it.
    await new Browser(a).with(viaB.cookie).fetch("/read");
    await Promise.all([r1.done, r2.done]);
    const final = await new Browser(isolate(base).app).with(viaB.cookie).json("/read");
    expect(final).toEqual({ start: 0, a: 1, b: 1, c: 1 });
  });
});

describe("a write of this isolate that landed, its answer still on the way", () => {
  interface Scenario {
    replyMs: number;
    options?: SessionOptions;
    /** The answer, when it comes, is an error (the write applied all the same). */
    answerFails?: boolean;
    /** A second change on A, made while the first one's answer travels: its tag is in no stored history. */
    secondChange?: boolean;
  }

  /**
   * Isolate A's store applies a write at once but answers `replyMs` later; meanwhile the same browser
   * writes the same key through isolate B (on top of A's landed write), then comes back to A.
   */
  async function overwrittenWhileAnswerTravels({ replyMs, options = {}, answerFails, secondChange }: Scenario) {
    const base = new MemoryStore();
    let first = true;
    const lateAnswer = overriding(base, {
      setIfVersion: async (...args: Parameters<MemoryStore["setIfVersion"]>) => {
        const result = await base.setIfVersion(...args);
        await sleep(replyMs);
        if (answerFails === true && first) {
          first = false;
          throw new Error("the answer was lost (test)");
        }
        return result;
      },
    });
    const a = isolate(lateAnswer, options);
    const b = isolate(base).app;
    const browser = new Browser(b);
    await browser.fetch("/set", { method: "POST", json: { theme: "light" } }); // v1
    await new Browser(a.app).with(browser.cookie).fetch("/read"); // A holds v1

    const contexts: ExecutionContext[] = [];
    const viaA = async (json: object) => {
      const ctx = createExecutionContext();
      contexts.push(ctx);
      const res = await a.app.fetch(
        new Request("https://app.test/set", {
          method: "POST",
          body: JSON.stringify(json),
          headers: { Cookie: browser.cookie!, "Content-Type": "application/json" },
        }),
        {},
        ctx,
      );
      browser.take(res);
    };
    await viaA({ theme: "dark" });
    await sleep(20); // A's write (v2) is in the store now; its answer is not back
    if (secondChange === true) await viaA({ other: 1 }); // queued behind the first write
    const viaB = new Browser(b).with(browser.cookie);
    await viaB.fetch("/set", { method: "POST", json: { theme: "blue" } }); // on top of v2
    const back = await new Browser(a.app).with(viaB.cookie).fetch("/read");
    for (const ctx of contexts) await waitOnExecutionContext(ctx);
    const stored = await new Browser(isolate(base).app).with(viaB.cookie).json("/read");
    return { back, stored, events: a.events };
  }

  it("finds it in the newer version's history: takes that version, never applies the change again", async () => {
    const { back, stored, events } = await overwrittenWhileAnswerTravels({ replyMs: 150 });
    expect(await back.json()).toEqual({ theme: "blue" });
    expect(stored).toEqual({ theme: "blue" });
    expect(events.filter((e) => e.type === "stale-read")).toEqual([]); // nothing to wait for
  });

  it("finds it there too when the answer, when it came, was an error", async () => {
    const { back, stored } = await overwrittenWhileAnswerTravels({ replyMs: 150, answerFails: true });
    expect(await back.json()).toEqual({ theme: "blue" });
    expect(stored).toEqual({ theme: "blue" });
  });

  it("waits for the answer when a later change of this isolate stands on it", async () => {
    const { back, stored } = await overwrittenWhileAnswerTravels({
      replyMs: 150,
      secondChange: true,
      options: { staleReadWaitMs: 2_000 },
    });
    expect(await back.json()).toEqual({ theme: "blue", other: 1 });
    expect(stored).toEqual({ theme: "blue", other: 1 });
  });

  it("with a later change of this isolate on one whose answer was an error, takes only the later change's keys", async () => {
    const { back, stored } = await overwrittenWhileAnswerTravels({
      replyMs: 150,
      answerFails: true,
      secondChange: true,
      options: { staleReadWaitMs: 2_000 },
    });
    expect(await back.json()).toEqual({ theme: "blue", other: 1 });
    expect(stored).toEqual({ theme: "blue", other: 1 });
  });

  it("with the first answer still out, serves the newer version with only the later change on top, without waiting", async () => {
    const { back, stored, events } = await overwrittenWhileAnswerTravels({
      replyMs: 400,
      secondChange: true,
      options: { staleReadWaitMs: 50 },
    });
    // The version B wrote holds the first change's tag: it landed. Only the second change is A's own now.
    expect(await back.json()).toEqual({ theme: "blue", other: 1 });
    expect(events.filter((e) => e.type === "stale-read")).toEqual([]);
    expect(stored).toEqual({ theme: "blue", other: 1 });
  });
});

describe("a compare-and-set retried after its answer was lost, another isolate having written in between", () => {
  it("is found landed (its tag is in the newer version's history): update(fn) runs once", async () => {
    const base = new MemoryStore();
    const b = isolate(base).app;
    const browser = new Browser(b);
    await browser.json("/count", { method: "POST" }); // n: 1
    const before = browser.cookie;
    let lost = true;
    // The client's first try lands, its answer is lost; before the retry, the user's other tab counts on B.
    const retrying = overriding(base, {
      setIfVersion: async (...args: Parameters<MemoryStore["setIfVersion"]>) => {
        const first = await base.setIfVersion(...args);
        if (!lost) return first;
        lost = false;
        expect(await new Browser(b).with(before).json("/count", { method: "POST" })).toEqual({ n: 3 });
        return await base.setIfVersion(...args);
      },
    });
    const a = isolate(retrying);
    expect(await new Browser(a.app).with(before).json("/count", { method: "POST" })).toEqual({ n: 3 });
    expect(lost).toBe(false); // the retry did happen
    expect(await new Browser(isolate(base).app).with(before).json("/read")).toEqual({ n: 3 });
    expect(a.events.filter((e) => e.type === "write-conflict")).toEqual([]);
  });
});

describe("regenerate() through an isolate that still holds a revoked session", () => {
  it("does not copy a revoked session to a new id: the request goes on with a new, empty one", async () => {
    const store = new MemoryStore();
    const make = () => {
      const built = isolate(store);
      built.app.post("/rotate", async (c) => {
        await c.var.session.regenerate(); // e.g. a periodic id rotation, a privilege change, POST /session/regenerate
        return c.json({});
      });
      return built.app;
    };
    const a = make();
    const victim = new Browser(a);
    await victim.fetch("/set", { method: "POST", json: { account: "ada's" } });
    await victim.fetch("/user", { method: "POST" });
    // The thief has a copy of the cookie; isolate A holds the session (confirmed just now).
    const thief = new Browser(a).with(victim.cookie);
    expect(await thief.json("/read")).toEqual({ account: "ada's" });

    // The victim logs out everywhere, from another isolate.
    expect(await new Browser(make()).json("/logout-everywhere", { method: "POST" })).toEqual({ ended: 1 });

    // Within the staleness bound, on A, the thief rotates the id.
    const res = await thief.fetch("/rotate", { method: "POST" });
    expect(res.status).toBe(200);
    // Long after the bound, on a fresh isolate: the thief's new id is a live session of ada.
    await sleep(50);
    const fresh = new Browser(make()).with(thief.cookie);
    const data = await fresh.json("/read");
    const listed = await new Browser(make()).json("/sessions");
    expect({ data, listed: (listed as unknown[]).length }).toEqual({ data: {}, listed: 0 });
  });
});

describe("regenerate() whose new id's first write fails, the old id already retired", () => {
  /** The store fails the compare-and-set that follows the retirement's (the new id's first write), once. */
  function failingAfterRetire(base: MemoryStore) {
    const armed = { writes: -1 };
    const store = overriding(base, {
      setIfVersion: async (...args) => {
        if (armed.writes >= 0 && armed.writes++ === 1) {
          armed.writes = -1;
          throw new Error("store unreachable (test)");
        }
        return await base.setIfVersion(...args);
      },
    });
    return { store, arm: () => (armed.writes = 0) };
  }

  for (const handler of ["lets the error through (a 500)", "catches the error"]) {
    it(`keeps the session under the new id, sent to the browser, and writes it later: the handler ${handler}`, async () => {
      const base = new MemoryStore();
      const { store, arm } = failingAfterRetire(base);
      const app = new Hono()
        .use(session<Data>({ secret: SECRET, store, logger: new MemoryLogger() }))
        .get("/read", async (c) => c.json(await c.var.session.get()))
        .post("/set", async (c) => {
          await c.var.session.set("cart", ["book"]);
          return c.json({ ok: true });
        })
        .post("/login", async (c) => {
          try {
            await c.var.session.regenerate();
          } catch (error) {
            if (handler.startsWith("lets")) throw error;
            return c.json({ rejected: String(error) });
          }
          return c.json({ ok: true });
        });
      const browser = new Browser(app);
      await browser.fetch("/set", { method: "POST" });
      const old = browser.cookie;
      arm();
      const login = await browser.fetch("/login", { method: "POST" }); // its waitUntil work awaited too
      // regenerate() rejected all the same: the handler hears that the login is not in the store yet.
      if (handler.startsWith("lets")) expect(login.status).toBe(500);
      else expect(await login.json()).toEqual({ rejected: "Error: store unreachable (test)" });
      expect(browser.cookie).not.toEqual(old); // the browser holds the new id …
      expect(await browser.json("/read")).toEqual({ cart: ["book"] }); // … whose session kept the cart
      // The store answers again: the new id's session is written (after a response, at the latest after the
      // next one's), and another isolate finds it there.
      const other = new Browser(isolate(base).app).with(browser.cookie);
      expect(await other.json("/read")).toEqual({ cart: ["book"] });
      // And the old id stays retired: a copied old cookie gets none of it.
      expect(await new Browser(isolate(base).app).with(old).json("/read")).toEqual({});
    });
  }
});
