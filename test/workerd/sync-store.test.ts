import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { session } from "../../src/index.js";
import { describeStoreConformance } from "../../src/testing/store-conformance.js";
import { SyncMemoryStore } from "../support/sync-memory-store.js";
import { Browser, MemoryLogger, SECRET, uniqueInstance } from "../support/workerd.js";

describeStoreConformance("SyncMemoryStore (synchronous exists and resetTimer)", {
  makeStore: (namespace) => new SyncMemoryStore(namespace),
});

describe("a store with synchronous exists and resetTimer", () => {
  function app(store: SyncMemoryStore, logger = new MemoryLogger()) {
    return new Hono()
      .use(
        session<{ n?: number }>({
          extSessionMgt: { instanceName: "sync", storageType: "custom", sessionSecret: SECRET },
          store,
          logger,
          idleTimeoutMs: 600,
          ttlRefreshFraction: 0.5,
        }),
      )
      .post("/inc", async (c) => {
        await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
        return c.json(await c.var.session.get());
      })
      .get("/read", async (c) => c.json(await c.var.session.get()));
  }

  it("gets its TTL refreshed through the synchronous resetTimer", async () => {
    const store = new SyncMemoryStore(uniqueInstance("sync"));
    const browser = new Browser(app(store));
    await browser.fetch("/inc", { method: "POST" });
    await new Promise((r) => setTimeout(r, 350));
    expect(await browser.json("/read")).toEqual({ n: 1 });
    expect(store.resetTimerCalls).toBe(1);
  });

  it("survives a resetTimer that throws synchronously: the response is fine and the failure logged", async () => {
    const store = new SyncMemoryStore(uniqueInstance("sync-throw"));
    const logger = new MemoryLogger();
    const browser = new Browser(app(store, logger));
    await browser.fetch("/inc", { method: "POST" });
    store.throwOnResetTimer = true;
    await new Promise((r) => setTimeout(r, 350));
    const res = await browser.fetch("/read");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ n: 1 });
    expect(logger.lines.join("\n")).toMatch(/resetTimer failed \(test\)/);
  });
});

describe("a store whose get answers undefined for a missing session (built on Map.get)", () => {
  /** The contract says null; undefined is an easy slip, and must not turn every unknown cookie into a 503. */
  class UndefinedForMissing extends SyncMemoryStore {
    override async get(key: string): Promise<string | null> {
      return ((await super.get(key)) ?? undefined) as string | null;
    }
  }

  it("serves a new session for a cookie whose session the store no longer has", async () => {
    const store = new UndefinedForMissing(uniqueInstance("undefined-get"));
    const logger = new MemoryLogger();
    const isolate = () =>
      new Hono()
        .use(
          session<{ n?: number }>({
            extSessionMgt: { instanceName: "undefined-get", storageType: "custom", sessionSecret: SECRET },
            store,
            logger,
          }),
        )
        .post("/inc", async (c) => {
          await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
          return c.json(await c.var.session.get());
        });
    const browser = new Browser(isolate());
    await browser.fetch("/inc", { method: "POST" });
    await store.clear();
    // Another isolate, the session gone from the store: before, "store read failed, answering 503".
    const res = await new Browser(isolate()).with(browser.cookie).fetch("/inc", { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ n: 1 });
    expect(logger.lines.join("\n")).not.toMatch(/store read failed/);
  });
});
