import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session } from "../../src/index.js";
import { Browser, MemoryLogger } from "../support/workerd.js";

const SECRET = "hung-store-secret-".padEnd(72, "h");
const TIMEOUT_MS = 250;

/*
 * A store that stops answering: every request gives up after storeTimeoutMs, however many requests of one
 * session come at once (each one waiting for another's read must not then wait a whole timeout of its own).
 */

/** `base`, whose reads never settle while `hang.on` is set. */
function hanging(base: MemoryStore) {
  const hang = { on: false };
  const reads = new Set<PropertyKey>(["get", "getIfChanged", "getIfChangedWithCutoff"]);
  const store = new Proxy(base, {
    get(target, property) {
      const value = Reflect.get(target, property, target) as unknown;
      if (typeof value !== "function") return value;
      return (...args: unknown[]) =>
        hang.on && reads.has(property)
          ? new Promise(() => {})
          : (value as (...a: unknown[]) => unknown).apply(target, args);
    },
  });
  return { store, hang };
}

function app(store: MemoryStore) {
  return new Hono()
    .use(session({ secret: SECRET, store, storeTimeoutMs: TIMEOUT_MS, logger: new MemoryLogger() }))
    .get("/read", async (c) => c.json(await c.var.session.get()))
    .post("/set", async (c) => {
      await c.var.session.set("cart", ["book"]);
      return c.json({ ok: true });
    });
}

describe("requests of one session while the store hangs", () => {
  it("each answer within storeTimeoutMs and a margin, also those that waited for another's read", async () => {
    const { store, hang } = hanging(new MemoryStore());
    const browser = new Browser(app(store));
    await browser.fetch("/set", { method: "POST" });
    // Another isolate (its own memory tier) gets the user's next requests, all at once: one reads the store,
    // the others wait for that read.
    const other = app(store);
    hang.on = true;
    const timed = async () => {
      const ctx = createExecutionContext();
      const started = Date.now();
      const res = await other.fetch(
        new Request("https://app.test/read", { headers: { Cookie: browser.cookie! } }),
        {},
        ctx,
      );
      const tookMs = Date.now() - started;
      await waitOnExecutionContext(ctx);
      return { status: res.status, tookMs };
    };
    const answers = await Promise.all(Array.from({ length: 6 }, timed));
    expect(answers.map((a) => a.status)).toEqual(Array(6).fill(503)); // the store cannot be read: 503, cookie kept
    const slowest = Math.max(...answers.map((a) => a.tookMs));
    expect(slowest).toBeLessThan(TIMEOUT_MS * 2);
  });
});
