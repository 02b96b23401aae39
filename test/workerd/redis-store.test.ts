import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, inject, it } from "vitest";
import { RedisStore } from "../../src/stores/redis/index.js";
import { describeStoreConformance } from "../../src/testing/store-conformance.js";
import { uniqueInstance } from "../support/workerd.js";

// Through the Upstash-protocol gateway to the real redis-server, with the real @upstash/redis client, in workerd.
describeStoreConformance("RedisStore", {
  makeStore: (namespace) => new RedisStore({ ...inject("redisRest"), namespace }),
  versioned: true,
  revalidating: true,
  indexed: true,
  confirmsWithCutoff: true,
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

describe("RedisStore user records", () => {
  const { url, token } = inject("redisRest");
  const client = new Redis({ url, token, automaticDeserialization: false, enableTelemetry: false });
  const recordKeys = (namespace: string, userKey: string) => {
    const base = `${namespace}|u:${userKey}`;
    return { z: base, s: `${base}|s`, h: `${base}|e`, c: `${base}|c` };
  };

  it("prunes 8,101 entries that expired together in one change, the hash as well as the sorted sets", async () => {
    // Lua's unpack refuses ~8,000 values: pruning them all at once failed after the sorted set was pruned,
    // and left the hash full for good.
    const namespace = uniqueInstance("prune-many");
    const store = new RedisStore({ url, token, namespace });
    const keys = recordKeys(namespace, "many");
    const expiresAt = Date.now() + 2_000;
    const puts = Array.from({ length: 8_101 }, (_, i) => ({
      userKey: "many",
      handle: `h${i}`,
      op: "put" as const,
      entry: "e",
      expiresAt,
      since: 1,
    }));
    // One entry lives on, so the record (and its keys) outlives the others.
    const keeper = { ...puts[0]!, handle: "keeper", expiresAt: Date.now() + 60_000 };
    const limits = { maxEntries: 10_000, keepMinutes: 1 };
    await store.changeIndex([...puts, keeper], limits);
    expect(await client.hlen(keys.h)).toBe(8_102);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 100));
    expect(await client.zcard(keys.z)).toBe(8_102); // expired, not yet pruned
    await store.changeIndex([{ userKey: "many", handle: "keeper", op: "remove" }], limits);
    expect(await client.hlen(keys.h)).toBe(0);
    expect(await client.zcard(keys.z)).toBe(0);
    expect(await client.zcard(keys.s)).toBe(0);
  });

  it("keeps a record's four keys until its longest-lived entry or the keep time, whichever is later", async () => {
    const namespace = uniqueInstance("record-keys");
    const store = new RedisStore({ url, token, namespace });
    const keys = recordKeys(namespace, "u");
    await store.changeIndex(
      [{ userKey: "u", handle: "h", op: "put", entry: "e", expiresAt: Date.now() + 300_000, since: 10 }],
      { maxEntries: 10, keepMinutes: 1 },
    );
    await store.revokeBefore("u", 5, 2);
    for (const key of Object.values(keys)) {
      const ttl = await client.pttl(key);
      expect(ttl).toBeGreaterThan(290_000);
      expect(ttl).toBeLessThanOrEqual(300_000);
    }
    await store.revokeBefore("u", 20, 10); // also drops the entry, tied before 20
    expect(await client.exists(keys.z, keys.s, keys.h)).toBe(0);
    expect(await client.get(keys.c)).toBe("20");
    expect(await client.pttl(keys.c)).toBeGreaterThan(590_000); // now the keep time is the later
  });

  it("reads the cut-off with one plain GET", async () => {
    const namespace = uniqueInstance("cut-get");
    const store = new RedisStore({ url, token, namespace });
    await store.revokeBefore("u", 1234, 1);
    const prefix = `${namespace}|u:`;
    const before = (await recorded(prefix)).length;
    expect(await store.revokedBefore("u")).toBe(1234);
    expect((await recorded(prefix)).slice(before)).toEqual([
      expect.objectContaining({ command: "GET", args: [`${prefix}u|c`] }),
    ]);
  });

  async function recorded(prefix: string): Promise<{ command: string; args: string[] }[]> {
    const res = await fetch(`${url}/__gateway/commands?prefix=${encodeURIComponent(prefix)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    return ((await res.json()) as { result: { command: string; args: string[] }[] }).result;
  }
});
