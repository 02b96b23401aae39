import { Hono } from "hono";
import { expect, it } from "vitest";
import { MemoryStore, session } from "../../src/index.js";
import { SECRET } from "../support/node.js";

/** A store whose every call takes 20 ms, as a store across a network does. */
class SlowStore extends MemoryStore {}
for (const method of ["get", "set", "setIfVersion", "getIfChanged", "destroy", "resetTimer"] as const) {
  const original = MemoryStore.prototype[method] as (...args: unknown[]) => Promise<unknown>;
  (SlowStore.prototype as unknown as Record<string, unknown>)[method] = async function (
    this: MemoryStore,
    ...args: unknown[]
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return original.apply(this, args);
  };
}

it("on Node, a storeTimeoutMs past 2^31 - 1 is refused at load, not turned into a 1 ms timeout on every store call", async () => {
  const lines: string[] = [];
  const logger = { warn: (line: string) => void lines.push(line), error: (line: string) => void lines.push(line) };
  const app = new Hono()
    .use(session({ secret: SECRET, store: new SlowStore(), logger, storeTimeoutMs: 2 ** 31 }))
    .post("/save", async (c) => {
      await c.var.session.set("n", 1);
      await c.var.session.commit();
      return c.json(await c.var.session.get());
    });
  const res = await app.request("/save", { method: "POST" });
  expect(lines.join("\n")).not.toMatch(/StoreTimeoutError/);
  expect(res.status).toBe(500);
  expect(lines.join("\n")).toMatch(
    /options\.storeTimeoutMs: must be a positive number of milliseconds, at most 2147483647/,
  );
});
