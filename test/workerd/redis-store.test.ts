import { describe, expect, inject, it } from "vitest";
import { RedisStore } from "../../src/stores/redis/index.js";
import { describeStoreConformance } from "../../src/testing/store-conformance.js";

// Through the Upstash-protocol gateway to the real redis-server, with the real @upstash/redis client, in workerd.
describeStoreConformance("RedisStore", {
  makeStore: (namespace) => new RedisStore({ ...inject("redisRest"), namespace }),
  versioned: true,
  revalidating: true,
  indexed: true,
  namespaces: true,
});

describe("RedisStore namespaces", () => {
  it("treats glob characters in the namespace literally", async () => {
    const base = `glob-${Date.now().toString(36)}`;
    const starred = new RedisStore({ ...inject("redisRest"), namespace: `${base}*` });
    const plain = new RedisStore({ ...inject("redisRest"), namespace: `${base}x` });
    await plain.set("a", "v", 1);
    expect(await starred.length()).toBe(0);
    await starred.clear();
    expect(await plain.get("a")).toBe("v");
  });
});
