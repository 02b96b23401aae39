import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session, SessionError } from "../../src/index.js";
import { Browser, MemoryLogger } from "../support/workerd.js";

const SECRET = "malformed-secret-".padEnd(72, "m");

/*
 * A store of one's own that answers outside the contract (a slip in its code): every session method still
 * rejects with a SessionError that says which method answered what, never a TypeError from inside the layer.
 */

/** `base`, whose compare-and-set answers `answer()` instead of `null` when it wrote. */
function answering(base: MemoryStore, answer: () => unknown): MemoryStore {
  return new Proxy(base, {
    get(target, property) {
      if (property === "setIfVersion") {
        return async (...args: Parameters<MemoryStore["setIfVersion"]>) => {
          const written = await target.setIfVersion(...args);
          return written === null ? answer() : written;
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function app(store: MemoryStore) {
  const logger = new MemoryLogger();
  const hono = new Hono().use(session({ secret: SECRET, store, logger })).post("/commit", async (c) => {
    await c.var.session.set("cart", ["book"]);
    try {
      await c.var.session.commit();
      return c.json({ committed: true });
    } catch (error) {
      const session = error instanceof SessionError;
      return c.json({ committed: false, session, code: session ? error.code : undefined, message: String(error) });
    }
  });
  return { hono, logger };
}

describe("a compare-and-set that answers neither null nor a stored version", () => {
  for (const [what, answer] of [
    ["undefined (a missing return)", () => undefined],
    ["true", () => true],
    ["a version without its session", () => ({ version: 1 })],
  ] as const) {
    it(`commit() rejects with a SessionError naming setIfVersion: ${what}`, async () => {
      const { hono, logger } = app(answering(new MemoryStore(), answer));
      const answered = await new Browser(hono).json("/commit", { method: "POST" });
      expect(answered).toMatchObject({ committed: false, session: true, code: "ERR_STORE_MISCONFIGURED" });
      expect((answered as { message: string }).message).toMatch(/setIfVersion/);
      expect(logger.lines.join("\n")).toMatch(/misconfigured.*setIfVersion/);
    });
  }
});
