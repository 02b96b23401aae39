import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  MemoryStore,
  session,
  SessionConfigError,
  SessionDataError,
  SessionTooLargeError,
  type SessionEvent,
  type SessionOptions,
} from "../../src/index.js";
import { deriveKeys, storeKeyOf } from "../../src/sealing/keys.js";
import { seal } from "../../src/sealing/codec.js";
import { wrap } from "../../src/sealing/envelope.js";
import { Secret } from "../../src/config/secret.js";
import { setCookies } from "../support/cookie-jar.js";
import { FlakyStore } from "../support/flaky-store.js";
import { Browser, MemoryLogger, SECRET } from "../support/workerd.js";

/*
 * Every limit gives a clear error, logged and reported (commit() rejects), and never loses data the user
 * already had: the last saved version stands.
 */
function limited(store: MemoryStore, extra: SessionOptions = {}) {
  const logger = new MemoryLogger();
  const events: SessionEvent[] = [];
  const app = new Hono()
    .use(session({ secret: SECRET, store, logger, onEvent: (e) => events.push(e), maxSessionBytes: 10_000, ...extra }))
    .get("/read", async (c) => c.json(await c.var.session.get()))
    .post("/set", async (c) => {
      const { key, size } = await c.req.json<{ key: string; size: number }>();
      await c.var.session.set(key, "x".repeat(size));
      return c.json({ ok: true });
    })
    .post("/commit-big", async (c) => {
      await c.var.session.set("big", "x".repeat(20_000));
      try {
        await c.var.session.commit();
        return c.json({ error: null });
      } catch (error) {
        return c.json({ error: (error as SessionTooLargeError).code });
      }
    })
    .post("/update-big", async (c) => {
      try {
        await c.var.session.update((data) => void (data["big"] = "x".repeat(20_000)));
        return c.json({ error: null });
      } catch (error) {
        return c.json({ error: (error as SessionTooLargeError).code });
      }
    })
    .post("/update-big-multibyte", async (c) => {
      // 4,000 characters, 12,000 bytes of UTF-8: short in characters, past the limit in bytes.
      try {
        await c.var.session.update((data) => void (data["big"] = "€".repeat(4_000)));
        return c.json({ error: null });
      } catch (error) {
        return c.json({ error: (error as SessionTooLargeError).code });
      }
    })
    .post("/cycle", async (c) => {
      const cycle: Record<string, unknown> = {};
      cycle["self"] = cycle;
      await c.var.session.set("cycle", cycle);
      return c.json({ ok: true });
    })
    .post("/deep", async (c) => {
      let deep: unknown = "bottom";
      for (let i = 0; i < 20_000; i++) deep = [deep];
      await c.var.session.set("deep", deep);
      return c.json({ ok: true });
    })
    .post("/nest", async (c) => {
      const { depth } = await c.req.json<{ depth: number }>();
      let nested: unknown = "bottom";
      for (let i = 0; i < depth; i++) nested = [nested];
      await c.var.session.set("nested", nested);
      return c.json({ ok: true });
    })
    .post("/update", async (c) => {
      try {
        const data = await c.var.session.update((d) => void (d["n"] = Number(d["n"] ?? 0) + 1));
        return c.json({ n: data["n"], error: null });
      } catch (error) {
        return c.json({ error: (error as SessionDataError).code });
      }
    })
    .post("/update-nest", async (c) => {
      const { depth } = await c.req.json<{ depth: number }>();
      try {
        await c.var.session.update((d) => {
          let nested: unknown = "bottom";
          for (let i = 0; i < depth; i++) nested = [nested];
          d["nested"] = nested;
        });
        return c.json({ error: null });
      } catch (error) {
        return c.json({ error: (error as SessionDataError).code, message: (error as Error).message });
      }
    })
    .post("/update-returns", async (c) => {
      const { kind } = await c.req.json<{ kind: string }>();
      const fns: Record<string, (d: Record<string, unknown>) => unknown> = {
        // A plain-JS arrow without braces returns what it assigned: here a number, not the data.
        number: (d) => (d["visits"] = Number(d["visits"] ?? 0) + 1),
        // An async function: its promise serialises as "{}", and its change comes after the write.
        promise: async (d) => void (d["visits"] = 1),
        date: () => new Date(0),
        array: () => [1],
      };
      try {
        await c.var.session.update(fns[kind] as never);
        return c.json({ error: null });
      } catch (error) {
        return c.json({ error: (error as SessionDataError).code, message: (error as Error).message });
      }
    });
  return { app, logger, events };
}

describe("maxSessionBytes", () => {
  it("refuses a change past it: logged, reported, nothing written, and the last saved version stands", async () => {
    const store = new MemoryStore();
    const { app, logger, events } = limited(store);
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST", json: { key: "small", size: 100 } });
    const cookie = browser.cookie;
    const res = await browser.fetch("/set", { method: "POST", json: { key: "big", size: 20_000 } });
    expect(res.status).toBe(200);
    expect(setCookies(res)).toEqual([]); // the cookie keeps naming the saved version
    expect(browser.cookie).toBe(cookie);
    expect(events).toContainEqual({ type: "write-rejected", reason: "too-large" });
    expect(logger.lines.join("\n")).toMatch(/more than maxSessionBytes \(10000\); the change is not saved/);
    expect(logger.lines.join("\n")).not.toMatch(/store write failed/);
    const other = new Browser(limited(store).app).with(cookie);
    expect(await other.json("/read")).toEqual({ small: "x".repeat(100) });
  });

  it("makes commit() and update() reject with SessionTooLargeError", async () => {
    const store = new MemoryStore();
    const browser = new Browser(limited(store).app);
    await browser.fetch("/set", { method: "POST", json: { key: "small", size: 10 } });
    expect(await browser.json("/commit-big", { method: "POST" })).toEqual({ error: "ERR_SESSION_TOO_LARGE" });
    expect(await browser.json("/update-big", { method: "POST" })).toEqual({ error: "ERR_SESSION_TOO_LARGE" });
    expect(await browser.json("/update-big-multibyte", { method: "POST" })).toEqual({ error: "ERR_SESSION_TOO_LARGE" });
    expect(await browser.json("/read")).toEqual({ small: "x".repeat(10) });
  });

  it("refuses, while inflating it, a stored session that would open past it: a new session, no crash", async () => {
    const store = new MemoryStore();
    const { app, logger } = limited(store);
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST", json: { key: "small", size: 10 } });
    // A session of 5 MB of repeated text, sealed with the right secret (say, written before the limit).
    const keys = await deriveKeys(new Secret(SECRET));
    const json = JSON.stringify({ pad: "y".repeat(5_000_000) });
    const bomb = await seal(
      keys,
      browser.id!,
      2,
      wrap({ kind: "data", json, tags: ["AAAAAAAA"], createdAt: Date.now(), writtenAt: Date.now() }),
    );
    expect(bomb.length).toBeLessThan(20_000);
    await store.setIfVersion(await storeKeyOf(browser.id!), 1, 2, bomb, 15);
    const other = new Browser(limited(store).app).with(browser.cookie);
    const res = await other.fetch("/read");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    expect(logger.lines.join("\n") + (await Promise.resolve(""))).not.toContain("yyyy");
  });

  it("is checked when configured", () => {
    expect(() => limited(new MemoryStore(), { maxSessionBytes: 0 }).app).not.toThrow(); // parsed on first request
    let error: unknown;
    try {
      session({ secret: SECRET, store: new MemoryStore(), maxSessionBytes: -1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeUndefined(); // configuration is read once the bindings arrive
    return new Browser(limited(new MemoryStore(), { maxSessionBytes: -1 }).app).fetch("/read").then((res) => {
      expect(res.status).toBe(500);
    });
  });
});

describe("data JSON cannot hold", () => {
  it("is an error of its own, never a store failure, and is not pinned in memory", async () => {
    const store = new MemoryStore();
    const { app, logger, events } = limited(store);
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST", json: { key: "small", size: 10 } });
    const res = await browser.fetch("/cycle", { method: "POST" });
    expect(res.status).toBe(200);
    expect(events).toContainEqual({ type: "write-rejected", reason: "unserialisable" });
    expect(logger.lines.join("\n")).toMatch(/session data cannot be saved as JSON/);
    expect(logger.lines.join("\n")).not.toMatch(/store/);
    expect(await browser.json("/read")).toEqual({ small: "x".repeat(10) });
    expect(new SessionDataError(new Error("x")).code).toBe("ERR_SESSION_DATA");
  });

  it("refuses nesting past 512 levels when written, and update() works on a session nested just under it", async () => {
    const { app, events } = limited(new MemoryStore(), { maxSessionBytes: 1_000_000 });
    const browser = new Browser(app);
    // 6,000 levels: refused as data when written (0.2 saved it, then update() answered 500: structuredClone overflowed).
    expect((await browser.fetch("/nest", { method: "POST", json: { depth: 6_000 } })).status).toBe(200);
    expect(events).toContainEqual({ type: "write-rejected", reason: "unserialisable" });
    expect(await browser.json("/update", { method: "POST" })).toEqual({ n: 1, error: null });
    // 500 levels are kept, and update() copies them without trouble.
    expect((await browser.fetch("/nest", { method: "POST", json: { depth: 500 } })).status).toBe(200);
    expect(await browser.json("/update", { method: "POST" })).toEqual({ n: 2, error: null });
    expect(JSON.stringify(await browser.json("/read")).length).toBeGreaterThan(1_000);
  });

  it("refuses nesting past 512 levels in update() as in set(): reported, nothing written, readable on every isolate", async () => {
    const store = new MemoryStore();
    const { app, events } = limited(store, { maxSessionBytes: 1_000_000 });
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST", json: { key: "kept", size: 3 } });
    // 5,000 levels: JSON.stringify manages them, but every later copy of the data overflowed the stack (a 500
    // on every request that read the session, on every isolate).
    expect(await browser.json("/update-nest", { method: "POST", json: { depth: 5_000 } })).toEqual({
      error: "ERR_SESSION_DATA",
      message: expect.stringContaining("nesting deeper than 512 levels"),
    });
    expect(events).toContainEqual({ type: "write-rejected", reason: "unserialisable" });
    expect(await browser.json("/read")).toEqual({ kept: "xxx" });
    expect(await new Browser(limited(store).app).with(browser.cookie).json("/read")).toEqual({ kept: "xxx" });
    // Just under the bound, update() writes it.
    expect(await browser.json("/update-nest", { method: "POST", json: { depth: 500 } })).toEqual({ error: null });
  });

  it("refuses an update() whose function returns something other than an object: the session keeps its data everywhere", async () => {
    const store = new MemoryStore();
    const { app, events } = limited(store);
    const browser = new Browser(app);
    await browser.fetch("/set", { method: "POST", json: { key: "kept", size: 3 } });
    // Before, the number became the whole session: this isolate served 1, the others found a blob of an
    // unknown layout, took it for tampered, and signed the user out.
    const refusals: Record<string, string> = {
      number: "not number",
      promise: "returned a promise",
      date: "not a Date",
      array: "not an array",
    };
    for (const [kind, message] of Object.entries(refusals)) {
      expect(await browser.json("/update-returns", { method: "POST", json: { kind } })).toEqual({
        error: "ERR_SESSION_DATA",
        message: expect.stringContaining(message),
      });
    }
    expect(events.filter((e) => e.type === "write-rejected")).toHaveLength(4);
    expect(await browser.json("/read")).toEqual({ kept: "xxx" });
    expect(await new Browser(limited(store).app).with(browser.cookie).json("/read")).toEqual({ kept: "xxx" });
  });

  it("saves deeply nested data, or refuses it as data, never as a store failure or a 5xx", async () => {
    const { app, logger, events } = limited(new MemoryStore(), { maxSessionBytes: 1_000_000 });
    const browser = new Browser(app);
    expect((await browser.fetch("/deep", { method: "POST" })).status).toBe(200);
    expect(logger.lines.join("\n")).not.toMatch(/store/);
    expect(events.some((e) => e.type === "write" || e.type === "write-rejected")).toBe(true);
  });
});

describe("the memory tier, with a store that fails", () => {
  it("holds a bounded amount of unsaved changes; past it a change is written at once, and reported lost if that fails", async () => {
    const store = new FlakyStore(new MemoryStore());
    const logger = new MemoryLogger();
    const app = new Hono()
      .use(session({ secret: SECRET, store, logger, memoryMaxBytes: 120_000 }))
      .get("/read", async (c) => c.json(await c.var.session.get()))
      .post("/set", async (c) => {
        const { size } = await c.req.json<{ size: number }>();
        await c.var.session.set("v", "x".repeat(size));
        return c.json({ ok: true });
      });
    const bystanders = Array.from({ length: 5 }, () => new Browser(app));
    const writers = Array.from({ length: 8 }, () => new Browser(app));
    for (const b of [...bystanders, ...writers]) await b.fetch("/set", { method: "POST", json: { size: 100 } });
    store.down = true;
    // A quarter of 120 000 accounted bytes holds two of these changes (each counts its view, its base and
    // its patch), not eight.
    const kept: boolean[] = [];
    for (const w of writers) {
      const res = await w.fetch("/set", { method: "POST", json: { size: 2_000 } });
      expect(res.status).toBe(200);
      kept.push(setCookies(res).length > 0); // kept: the cookie names it; lost: the cookie stays on the saved one
    }
    expect(kept.filter(Boolean).length).toBeGreaterThan(0);
    expect(kept.filter((k) => !k).length).toBeGreaterThan(0);
    // What was lost was the new change only: the saved version is what those sessions serve.
    for (const [i, w] of writers.entries()) {
      expect(await w.json("/read")).toEqual({ v: "x".repeat(kept[i] ? 2_000 : 100) });
    }
    // The sessions saved before the outage are all still served from memory.
    for (const b of bystanders) expect(await b.json("/read")).toEqual({ v: "x".repeat(100) });
    expect(logger.lines.join("\n")).toMatch(/store write failed/);
  });
});

describe("cookie attributes users ask for", () => {
  function attrs(options: SessionOptions) {
    return new Hono().use(session({ secret: SECRET, store: new MemoryStore(), ...options })).post("/set", async (c) => {
      await c.var.session.set("a", 1);
      return c.text("ok");
    });
  }

  it("sets Partitioned, and a __Host- name with Secure, Path=/ and no Domain", async () => {
    const res = await new Browser(attrs({ cookieName: "__Host-sid", cookie: { partitioned: true } })).fetch("/set", {
      method: "POST",
    });
    const headers = setCookies(res);
    expect(headers.map((h) => h.split("=")[0])).toEqual(["__Host-sid", "__Host-sid_v"]);
    for (const header of headers) {
      expect(header).toMatch(/; Partitioned/);
      expect(header).toMatch(/; Secure/);
      expect(header).toMatch(/; Path=\//);
      expect(header).not.toMatch(/Domain=/);
    }
  });

  it.each([
    [{ cookieName: "__Host-sid", cookie: { domain: "example.com" } }, "options.cookieName", /__Host-/],
    [{ cookieName: "__Host-sid", cookie: { path: "/app" } }, "options.cookieName", /path "\/"/],
    [{ cookieName: "__Host-sid", cookie: { secure: false } }, "options.cookieName", /secure: true/],
    [{ cookieName: "__Secure-sid", cookie: { secure: false } }, "options.cookieName", /secure: true/],
    [{ cookie: { partitioned: true, secure: false } }, "options.cookie.partitioned", /secure: true/],
  ])("refuses %j naming %s", async (options, property, rule) => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      const res = await new Browser(attrs(options as SessionOptions)).fetch("/set", { method: "POST" });
      expect(res.status).toBe(500);
      expect(errors.join("\n")).toContain(`${property}:`);
      expect(errors.join("\n")).toMatch(rule);
    } finally {
      console.error = original;
    }
    expect(new SessionConfigError(property, "x").code).toBe("ERR_SESSION_CONFIG");
  });
});
