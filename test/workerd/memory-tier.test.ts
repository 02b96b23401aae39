import { describe, expect, it } from "vitest";
import { MemoryTier } from "../../src/tiers/memory-tier.js";
import { savedEntry, unsavedEntry } from "../support/entries.js";

const id = (n: number) => `id-${String(n).padStart(21, "0")}`;

describe("MemoryTier", () => {
  it("evicts least recently used entries to stay within its byte bound", () => {
    const tier = new MemoryTier(16_000);
    const json = JSON.stringify({ pad: "x".repeat(300) });
    for (let i = 0; i < 20; i++) tier.set(id(i), savedEntry(json));
    expect(tier.bytes).toBeLessThanOrEqual(16_000);
    expect(tier.size).toBeGreaterThan(0);
    expect(tier.size).toBeLessThan(20);
    expect(tier.get(id(0))).toBeUndefined();
    expect(tier.get(id(19))?.json).toBe(json);
  });

  it("keeps a recently read entry over an older unread one", () => {
    const json = JSON.stringify({ pad: "x".repeat(400) });
    const probe = new MemoryTier(Number.MAX_SAFE_INTEGER);
    probe.set(id(0), savedEntry(json));
    // Room for nine entries of this size, not ten.
    const tier = new MemoryTier(9.5 * probe.bytes);
    for (let i = 1; i <= 9; i++) tier.set(id(i), savedEntry(json));
    tier.get(id(1));
    tier.set(id(10), savedEntry(json));
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
    const tier = new MemoryTier(20_000);
    const json = JSON.stringify({ pad: "x".repeat(400) });
    tier.set(id(1), unsavedEntry(json));
    for (let i = 2; i < 40; i++) tier.set(id(i), savedEntry(json));
    expect(tier.get(id(1))).toBeDefined();
    expect(tier.get(id(2))).toBeUndefined();
    expect(tier.bytes).toBeLessThanOrEqual(20_000);
  });

  it("keeps no single entry larger than an eighth of the bound, so one session cannot flush the others", () => {
    const tier = new MemoryTier(80_000);
    for (let i = 0; i < 10; i++) tier.set(id(i), savedEntry(JSON.stringify({ pad: "x".repeat(500) })));
    expect(tier.set(id(99), savedEntry(JSON.stringify({ pad: "x".repeat(3_000) })))).toBe(false);
    expect(tier.size).toBe(10);
    expect(tier.set(id(98), savedEntry(JSON.stringify({ pad: "x".repeat(2_000) })))).toBe(true);
  });

  it("holds unsaved changes up to a quarter of the bound, and says so when it cannot", () => {
    const tier = new MemoryTier(40_000);
    const json = JSON.stringify({ pad: "x".repeat(400) });
    let kept = 0;
    while (tier.set(id(kept), unsavedEntry(json))) kept++;
    expect(kept).toBeGreaterThan(2);
    expect(tier.unsavedBytes).toBeLessThanOrEqual(10_000);
    expect(tier.size).toBe(kept);
    // Saved entries still fit, and a saved version of an unsaved one frees its room.
    expect(tier.set(id(1000), savedEntry(json))).toBe(true);
    tier.set(id(0), savedEntry(json, 2));
    expect(tier.set(id(kept), unsavedEntry(json))).toBe(true);
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
