import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session } from "../../src/index.js";
import { sessionApi } from "../../app/session-api.js";
import { setCookies } from "../support/cookie-jar.js";
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

describe("the reference API against another site's requests (CSRF)", () => {
  const api = () =>
    new Hono()
      .use(session({ secret: "csrf-secret-".padEnd(72, "c"), store: new MemoryStore() }))
      .route("/", sessionApi);

  it.each([
    ["a form POST", "POST", "/session/regenerate", "application/x-www-form-urlencoded"],
    ["a text/plain PUT carrying JSON", "PUT", "/session", "text/plain"],
    ["a DELETE", "DELETE", "/session", "text/plain"],
  ])("refuses %s from another origin with 403, and serves the same from its own", async (_, method, path, type) => {
    const body = method === "PUT" ? '{"admin":true}' : undefined;
    const cross = await api().request(path, {
      method,
      body,
      headers: { "Content-Type": type, Origin: "https://evil.example" },
    });
    expect(cross.status).toBe(403);
    const site = await api().request(`https://app.test${path}`, {
      method,
      body,
      headers: { "Content-Type": type, Origin: "https://app.test", "Sec-Fetch-Site": "same-origin" },
    });
    expect(site.status).toBeLessThan(400);
  });

  it("refuses a request a browser marks cross-site, and lets a non-browser client (no Origin, no Sec-Fetch-Site) through", async () => {
    const marked = await api().request("/session", { method: "DELETE", headers: { "Sec-Fetch-Site": "cross-site" } });
    expect(marked.status).toBe(403);
    expect((await api().request("/session", { method: "DELETE" })).status).toBe(204);
  });
});

describe("a replayed cookie", () => {
  it("looks the same whether its session expired or was destroyed: no wait, one read, the cookies cleared", async () => {
    const store = new MemoryStore();
    const isolate = () =>
      new Hono()
        .use(session({ secret: "replay-secret-".padEnd(72, "r"), store, idleTimeoutMs: 400, serverTiming: true }))
        .route("/", sessionApi);
    const timings: string[] = [];
    for (const end of ["expire", "destroy"] as const) {
      const browser = new Browser(isolate());
      await browser.fetch("/session", { method: "PUT", json: { a: 1 } });
      const copy = browser.cookie;
      if (end === "destroy") await browser.fetch("/session", { method: "DELETE" });
      await new Promise((resolve) => setTimeout(resolve, 500)); // past the idle timeout (and any bound)
      const res = await new Browser(isolate()).with(copy).fetch("/session");
      expect(await res.json()).toEqual({});
      expect(setCookies(res).every((line) => /Max-Age=0/.test(line))).toBe(true);
      timings.push((res.headers.get("Server-Timing") ?? "").replace(/dur=[\d.]+/g, "dur=_"));
    }
    expect(timings[0]).not.toContain("session-wait");
    expect(timings[0]).toBe(timings[1]);
  });
});

describe("what a change writes", () => {
  it("is the data as the handler left it: an object it changes after the response is not written, even when the write must merge", async () => {
    const store = new MemoryStore();
    const kept = { n: 1 };
    const isolate = () =>
      new Hono()
        .use(session<{ x?: number; o?: { n: number } }>({ secret: "late-change-secret-".padEnd(72, "l"), store }))
        .post("/x", async (c) => {
          await c.var.session.set("x", Number(c.req.query("v")));
          return c.body(null, 204);
        })
        .post("/o", async (c) => {
          await c.var.session.set("o", kept);
          return c.body(null, 204);
        })
        .get("/", async (c) => c.json({ x: await c.var.session.get("x"), o: await c.var.session.get("o") }));
    const cookieOf = (res: Response) =>
      setCookies(res)
        .map((line) => line.split(";")[0])
        .join("; ");
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50));
    const [a, b] = [isolate(), isolate()];
    const first = cookieOf(await a.request("/x?v=0", { method: "POST" }));
    await settle();
    // Another isolate writes on top, so this isolate's next write meets a newer version and merges onto it.
    await b.request("/x?v=1", { method: "POST", headers: { Cookie: first } });
    await settle();
    const res = await a.request("/o", { method: "POST", headers: { Cookie: first } });
    kept.n = 2; // after the response, before the write (which runs after a timer)
    await settle();
    const fresh = await isolate().request("/", { headers: { Cookie: `${first}; ${cookieOf(res)}` } });
    expect(await fresh.json()).toEqual({ x: 1, o: { n: 1 } });
  });
});
