import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session, type SessionOptions } from "../../src/index.js";
import { Browser, MemoryLogger } from "../support/workerd.js";

const SECRET = "evict-secret-".padEnd(72, "e");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function isolate(store: MemoryStore, extra: SessionOptions = {}) {
  return new Hono()
    .use(session({ secret: SECRET, store, logger: new MemoryLogger(), ...extra }))
    .get("/user", async (c) => c.json({ user: (await c.var.session.getUser()) ?? null }))
    .put("/data", async (c) => {
      await c.var.session.set("seen", true);
      return c.json({ ok: true });
    })
    .post("/login", async (c) => {
      await c.var.session.regenerate();
      await c.var.session.setUser("ada");
      return c.json({ ok: true });
    })
    .post("/tie", async (c) => {
      await c.var.session.setUser("ada");
      await c.var.session.commit();
      return c.json({ ok: true });
    })
    .get("/sessions", async (c) => c.json(await c.var.session.listSessions()));
}

describe("maxSessionsPerUser and the absolute lifetime", () => {
  it("a session past its absolute lifetime (not listed, ended on load) does not make a login end a live one", async () => {
    const store = new MemoryStore();
    const app = isolate(store, { absoluteTimeoutMs: 1_000, maxSessionsPerUser: 2, maxStalenessMs: 0 });
    const kiosk = new Browser(app);
    await kiosk.fetch("/data", { method: "PUT" }); // created at t0, anonymous
    await sleep(500);
    const phone = new Browser(app);
    await phone.fetch("/login", { method: "POST" }); // created and tied at t0 + 0.5 s
    await sleep(200);
    await kiosk.fetch("/tie", { method: "POST" }); // the kiosk signs in at t0 + 0.7 s, without regenerate
    await sleep(450);
    // t0 + 1.15 s: the kiosk's session is past its absolute lifetime; the phone's lives until t0 + 1.5 s.
    expect(((await phone.json("/sessions")) as unknown[]).length).toBe(1);
    const tablet = new Browser(app);
    await tablet.fetch("/login", { method: "POST" }); // two live sessions: within maxSessionsPerUser
    expect(await phone.json("/user")).toEqual({ user: "ada" });
  });
});
