import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session, type SessionOptions } from "../../src/index.js";
import { Browser, MemoryLogger } from "../support/workerd.js";

const SECRET = "list-secret-".padEnd(72, "s");

function isolate(store: MemoryStore, extra: SessionOptions = {}) {
  return new Hono()
    .use(session({ secret: SECRET, store, logger: new MemoryLogger(), ...extra }))
    .get("/user", async (c) => c.json({ user: (await c.var.session.getUser()) ?? null }))
    .post("/login", async (c) => {
      await c.var.session.regenerate();
      await c.var.session.setUser("ada");
      return c.json({ ok: true });
    })
    .post("/logout", async (c) => {
      await c.var.session.destroy();
      return c.json({ ok: true });
    })
    .get("/sessions", async (c) => c.json(await c.var.session.listSessions()))
    .post("/tie", async (c) => {
      await c.var.session.setUser((await c.req.json<{ user: string }>()).user);
      await c.var.session.commit();
      return c.json({ ok: true });
    });
}

describe("a copy that has not heard its session ended or was re-tied", () => {
  it("a logged-out cookie on a stale isolate lists nothing (as it revokes nothing)", async () => {
    const store = new MemoryStore();
    const a = isolate(store);
    const stale = isolate(store, { maxStalenessMs: 60_000 });
    const laptop = new Browser(a);
    await laptop.fetch("/login", { method: "POST" });
    const thief = new Browser(stale).with(laptop.cookie);
    expect(await thief.json("/user")).toEqual({ user: "ada" });
    const phone = new Browser(a);
    await phone.fetch("/login", { method: "POST" });
    await laptop.fetch("/logout", { method: "POST" });
    // The stolen copy of the logged-out laptop's cookie: its isolate still serves it within the bound.
    expect(await thief.json("/sessions")).toEqual([]);
  });

  it("a session re-tied to another user elsewhere does not list its former user's sessions", async () => {
    const store = new MemoryStore();
    const a = isolate(store);
    const stale = isolate(store, { maxStalenessMs: 60_000 });
    const shared = new Browser(a);
    await shared.fetch("/login", { method: "POST" });
    const staleTab = new Browser(stale).with(shared.cookie);
    expect(await staleTab.json("/user")).toEqual({ user: "ada" });
    await new Browser(a).fetch("/login", { method: "POST" }); // ada's phone
    await shared.fetch("/tie", { method: "POST", json: { user: "bob" } }); // the computer changes hands
    expect(await staleTab.json("/sessions")).toEqual([]);
  });
});
