import { describe, expect, it } from "vitest";
import { MemoryTier } from "../../src/tiers/memory-tier.js";
import { savedEntry, unsavedEntry } from "../support/entries.js";

const id = (n: number) => `id-${String(n).padStart(21, "0")}`;

describe("MemoryTier", () => {
  it("evicts least recently used entries to stay within its byte bound", () => {
    const tier = new MemoryTier(2_000);
    const json = JSON.stringify({ pad: "x".repeat(300) });
    for (let i = 0; i < 10; i++) tier.set(id(i), savedEntry(json));
    expect(tier.bytes).toBeLessThanOrEqual(2_000);
    expect(tier.size).toBeGreaterThan(0);
    expect(tier.size).toBeLessThan(10);
    expect(tier.get(id(0))).toBeUndefined();
    expect(tier.get(id(9))?.json).toBe(json);
  });

  it("keeps a recently read entry over an older unread one", () => {
    const json = JSON.stringify({ pad: "x".repeat(400) });
    const probe = new MemoryTier(Number.MAX_SAFE_INTEGER);
    probe.set(id(0), savedEntry(json));
    // Room for four entries of this size, not five.
    const tier = new MemoryTier(4.5 * probe.bytes);
    for (let i = 1; i <= 4; i++) tier.set(id(i), savedEntry(json));
    tier.get(id(1));
    tier.set(id(5), savedEntry(json));
    expect(tier.get(id(1))).toBeDefined();
    expect(tier.get(id(2))).toBeUndefined();
  });

  it("counts bytes from the JSON size and gives them back on delete and replace", () => {
    const tier = new MemoryTier(1_000_000);
    tier.set(id(1), savedEntry("{}"));
    const small = tier.bytes;
    tier.set(id(1), savedEntry(JSON.stringify({ pad: "x".repeat(1000) })));
    expect(tier.bytes - small).toBeGreaterThanOrEqual(2000);
    tier.delete(id(1));
    expect(tier.bytes).toBe(0);
    expect(tier.size).toBe(0);
  });

  it("evicts entries the store does not hold yet only after all others", () => {
    const dropped: number[] = [];
    const tier = new MemoryTier(3_000, (n) => dropped.push(n));
    const json = JSON.stringify({ pad: "x".repeat(400) });
    tier.set(id(1), unsavedEntry(json));
    for (let i = 2; i < 8; i++) tier.set(id(i), savedEntry(json));
    expect(tier.get(id(1))).toBeDefined();
    expect(dropped).toEqual([]);
    for (let i = 10; i < 14; i++) tier.set(id(i), unsavedEntry(json));
    expect(dropped.length).toBeGreaterThan(0);
    expect(tier.bytes).toBeLessThanOrEqual(3_000);
  });

  it("does not keep an entry larger than the whole bound", () => {
    const tier = new MemoryTier(500);
    expect(tier.set(id(1), savedEntry(JSON.stringify({ pad: "x".repeat(1000) })))).toBe(false);
    expect(tier.size).toBe(0);
  });

  it("never keeps an entry past the store's expiry of it, however often it is read", () => {
    let now = 1_000;
    const tier = new MemoryTier(
      100_000,
      () => {},
      () => now,
    );
    tier.set(id(1), savedEntry("{}", 1, { expiresAt: 1_100 }));
    tier.set(id(2), savedEntry("{}", 1, { expiresAt: 5_000 }));
    for (now = 1_000; now < 1_100; now += 20) expect(tier.get(id(1))).toBeDefined();
    now = 1_100;
    expect(tier.get(id(1))).toBeUndefined();
    expect(tier.get(id(2))).toBeDefined();
    expect(tier.size).toBe(1);
  });
});
