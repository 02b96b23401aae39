import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { session } from "../../src/index.js";
import { DurableObjectStore, type SessionStoreObject } from "../../src/stores/durable-object/index.js";
import { describeStoreConformance } from "../../src/testing/store-conformance.js";
import { Browser, MemoryLogger, SECRET, uniqueInstance } from "../support/workerd.js";

const binding = (env as unknown as { SESSION_STORE: DurableObjectNamespace<SessionStoreObject> }).SESSION_STORE;

describeStoreConformance("DurableObjectStore", {
  makeStore: (namespace) => new DurableObjectStore(binding, { namespace, shards: 4 }),
  versioned: true,
  revalidating: true,
  indexed: true,
  namespaces: true,
});

describe("DurableObjectStore", () => {
  it("spreads sessions over its shards", async () => {
    const namespace = uniqueInstance("spread");
    const store = new DurableObjectStore(binding, { namespace, shards: 4 });
    for (let i = 0; i < 40; i++) await store.set(`session-${i}`, "v", 1);
    const perShard = await Promise.all(
      [0, 1, 2, 3].map((shard) =>
        runInDurableObject(binding.get(binding.idFromName(`${namespace}/${shard}`)), (object: SessionStoreObject) =>
          object.count(),
        ),
      ),
    );
    expect(perShard.reduce((a, b) => a + b, 0)).toBe(40);
    for (const count of perShard) expect(count).toBeGreaterThan(0);
  });

  it("really removes expired sessions when the alarm runs", async () => {
    const namespace = uniqueInstance("alarm");
    const store = new DurableObjectStore(binding, { namespace, shards: 1 });
    await store.set("a", "v", 0.005);
    await store.set("b", "w", 10);
    const stub = binding.get(binding.idFromName(`${namespace}/0`));
    expect(await runInDurableObject(stub, (object: SessionStoreObject) => object.storedRows())).toBe(2);
    await new Promise((r) => setTimeout(r, 400));
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await runInDurableObject(stub, (object: SessionStoreObject) => object.storedRows())).toBe(1);
    expect(await store.get("b")).toBe("w");
    expect(await store.length()).toBe(1);
  });
});

describe("the Durable Object store as the bundled custom store", () => {
  const ext = (path: string) => ({
    instanceName: "do",
    storageType: "durable-object",
    sessionSecret: SECRET,
    externalStoreFilePath: path,
  });

  function app(path: string, logger = new MemoryLogger()) {
    return new Hono()
      .use(session<{ n?: number }>({ extSessionMgt: ext(path), logger }))
      .post("/inc", async (c) => {
        await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
        return c.json(await c.var.session.get());
      })
      .get("/read", async (c) => c.json(await c.var.session.get()));
  }

  it("backs sessions up to it and recovers them in a fresh isolate", async () => {
    const browser = new Browser(app("./src/stores/durable-object/index.ts"));
    await browser.fetch("/inc", { method: "POST" });
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app("src/stores/durable-object/index"));
    other.cookie = browser.cookie;
    expect(await other.json("/read")).toEqual({ n: 2 });
  });

  it("reports a configuration naming another module than the bundled one, naming both", async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      const res = await app("./src/storage/my-special-storage").fetch(new Request("https://app.test/read"), {});
      expect(res.status).toBe(500);
      expect(errors.join("\n")).toContain('"./src/storage/my-special-storage"');
      expect(errors.join("\n")).toContain('"./src/stores/durable-object/index.ts"');
    } finally {
      console.error = original;
    }
  });
});
