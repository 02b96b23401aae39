import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session } from "../../src/index.js";
import { Browser, MemoryLogger } from "../support/workerd.js";

const SECRET = "regen-secret-".padEnd(72, "g");

/** `base`, whose cut-off read (revokedBefore) fails while `failing.cutoff` is set. */
function failingCutoff(base: MemoryStore) {
  const failing = { cutoff: false, seen: [] as string[] };
  const store = new Proxy(base, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (failing.cutoff) failing.seen.push(String(property));
        if (property === "revokedBefore" && failing.cutoff)
          return Promise.reject(new Error("store unreachable (test)"));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, failing };
}

describe("regenerate() after setUser() (switching account) when the store fails the cut-off read", () => {
  it("keeps the session (as when the new id's first write fails): the old id is already retired", async () => {
    const base = new MemoryStore();
    const { store, failing } = failingCutoff(base);
    const app = new Hono()
      .use(session({ secret: SECRET, store, logger: new MemoryLogger() }))
      .get("/read", async (c) =>
        c.json({ data: await c.var.session.get(), user: (await c.var.session.getUser()) ?? null }),
      )
      .post("/login", async (c) => {
        await c.var.session.regenerate();
        await c.var.session.setUser("alice");
        await c.var.session.set("cart", ["book"]);
        return c.json({ ok: true });
      })
      .post("/switch", async (c) => {
        await c.var.session.setUser("bob");
        try {
          await c.var.session.regenerate();
          return c.json({ regenerated: true });
        } catch (error) {
          return c.json({ regenerated: false, error: String(error) });
        }
      });
    const browser = new Browser(app);
    await browser.fetch("/login", { method: "POST" });
    expect(await browser.json("/read")).toEqual({ data: { cart: ["book"] }, user: "alice" });
    failing.cutoff = true;
    const answer = await browser.json("/switch", { method: "POST" });
    failing.cutoff = false;
    console.log("switch answered", JSON.stringify(answer), "store calls while failing:", failing.seen.join(", "));
    // The store failed one call: the user must not lose the session (nor its data).
    // The switch to bob was not made (regenerate() said so), but the session and its data live on, under a new id.
    expect(answer).toMatchObject({ regenerated: false });
    expect(await browser.json("/read")).toEqual({ data: { cart: ["book"] }, user: "alice" });
  });
});
