import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session } from "../../src/index.js";
import { Browser, commandsFor, names, redisOptions, uniqueInstance } from "../support/workerd.js";

function counterApp(instance: string) {
  return new Hono()
    .use(session<{ n?: number }>(redisOptions(instance)))
    .get("/read", async (c) => c.json({ n: (await c.var.session.get("n")) ?? 0 }))
    .get("/inc", async (c) => {
      const n = ((await c.var.session.get("n")) ?? 0) + 1;
      await c.var.session.set("n", n);
      return c.json({ n });
    })
    .get("/nothing", (c) => c.text("ok"));
}

describe("store calls per request kind (counted at the gateway)", () => {
  it("an untouched session creates nothing, sets no cookie and writes nothing", async () => {
    const instance = uniqueInstance("untouched");
    const browser = new Browser(counterApp(instance));
    const res = await browser.fetch("/nothing");
    expect(res.headers.get("Set-Cookie")).toBeNull();
    expect(await commandsFor(instance)).toEqual([]);
  });

  it("reading a new session sets no cookie and touches no store", async () => {
    const instance = uniqueInstance("read-new");
    const browser = new Browser(counterApp(instance));
    expect(await browser.json("/read")).toEqual({ n: 0 });
    expect(browser.cookie).toBeUndefined();
    expect(await commandsFor(instance)).toEqual([]);
  });

  it("a changed session is one compare-and-set write; a memory hit makes no call; an unchanged one no write", async () => {
    const instance = uniqueInstance("counts");
    const browser = new Browser(counterApp(instance));
    expect(await browser.json("/inc")).toEqual({ n: 1 });
    const afterWrite = (await commandsFor(instance)).filter((c) => !c.error);
    expect(names(afterWrite)).toEqual(["CAS"]);
    // EVALSHA sha 1 key expected version sealed px: written over nothing (0) as version 1, expiring in 15 minutes.
    expect(afterWrite[0]!.args.slice(3, 5)).toEqual(["0", "1"]);
    expect(afterWrite[0]!.args.at(-1)).toBe(String(15 * 60_000));

    expect(await browser.json("/read")).toEqual({ n: 1 });
    expect(await browser.json("/read")).toEqual({ n: 1 });
    expect(names(await commandsFor(instance))).toEqual(["CAS"]);

    expect(await browser.json("/inc")).toEqual({ n: 2 });
    expect(names(await commandsFor(instance))).toEqual(["CAS", "CAS"]);
  });

  it("a miss (another isolate's session) is exactly one read", async () => {
    const instance = uniqueInstance("miss");
    const first = new Browser(counterApp(instance));
    await first.fetch("/inc");
    // A second app instance has its own memory tier: for it, this session is a miss.
    const second = new Browser(counterApp(instance));
    second.cookie = first.cookie;
    expect(await second.json("/read")).toEqual({ n: 1 });
    expect(names(await commandsFor(instance))).toEqual(["CAS", "READ"]);
    expect(await second.json("/read")).toEqual({ n: 1 });
    expect(names(await commandsFor(instance))).toEqual(["CAS", "READ"]);
  });
});

describe("setUser()", () => {
  const app = new Hono()
    .use(session({ secret: "user-id-secret-".padEnd(72, "u"), store: new MemoryStore() }))
    .post("/user", async (c) => {
      const { id } = await c.req.json<{ id: unknown }>();
      try {
        await c.var.session.setUser(id as string);
        return c.json({ user: await c.var.session.getUser() });
      } catch (error) {
        return c.json({ error: (error as Error).message });
      }
    });

  it("takes a user id of up to 256 bytes, and names the rule for a longer or empty one", async () => {
    const browser = new Browser(app);
    const longest = "é".repeat(128); // 256 bytes in UTF-8
    expect(await browser.json("/user", { method: "POST", json: { id: longest } })).toEqual({ user: longest });
    expect(await browser.json("/user", { method: "POST", json: { id: `${longest}x` } })).toEqual({
      error: "setUser() takes a user id of at most 256 bytes (UTF-8)",
    });
    expect(await browser.json("/user", { method: "POST", json: { id: "" } })).toEqual({
      error: "setUser() takes a non-empty string, or undefined to untie the session",
    });
  });
});
