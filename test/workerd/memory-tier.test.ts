import { describe, expect, it } from "vitest";
import { MemoryTier, type MemoryEntry } from "../../src/tiers/memory-tier.js";

const entry = (json: string, backedUp = true, version = 1): MemoryEntry => ({
  version,
  json,
  createdAt: 0,
  backedUp,
  refreshedAt: 0,
});
const id = (n: number) => `id-${String(n).padStart(21, "0")}`;

describe("MemoryTier", () => {
  it("evicts least recently used entries to stay within its byte bound", () => {
    const tier = new MemoryTier(2_000, 60_000);
    const json = JSON.stringify({ pad: "x".repeat(300) });
    for (let i = 0; i < 10; i++) tier.set(id(i), entry(json));
    expect(tier.bytes).toBeLessThanOrEqual(2_000);
    expect(tier.size).toBeGreaterThan(0);
    expect(tier.size).toBeLessThan(10);
    expect(tier.get(id(0))).toBeUndefined();
    expect(tier.get(id(9))?.json).toBe(json);
  });

  it("keeps a recently read entry over an older unread one", () => {
    const json = JSON.stringify({ pad: "x".repeat(400) });
    const probe = new MemoryTier(Number.MAX_SAFE_INTEGER, 60_000);
    probe.set(id(0), entry(json));
    // Room for four entries of this size, not five.
    const tier = new MemoryTier(4.5 * probe.bytes, 60_000);
    for (let i = 1; i <= 4; i++) tier.set(id(i), entry(json));
    tier.get(id(1));
    tier.set(id(5), entry(json));
    expect(tier.get(id(1))).toBeDefined();
    expect(tier.get(id(2))).toBeUndefined();
  });

  it("counts bytes from the JSON size and gives them back on delete and replace", () => {
    const tier = new MemoryTier(1_000_000, 60_000);
    tier.set(id(1), entry("{}"));
    const small = tier.bytes;
    tier.set(id(1), entry(JSON.stringify({ pad: "x".repeat(1000) })));
    expect(tier.bytes - small).toBeGreaterThanOrEqual(2000);
    tier.delete(id(1));
    expect(tier.bytes).toBe(0);
    expect(tier.size).toBe(0);
  });

  it("evicts entries the store does not hold yet only after all others", () => {
    const dropped: number[] = [];
    const tier = new MemoryTier(3_000, 60_000, (n) => dropped.push(n));
    const json = JSON.stringify({ pad: "x".repeat(400) });
    tier.set(id(1), entry(json, false));
    for (let i = 2; i < 8; i++) tier.set(id(i), entry(json, true));
    expect(tier.get(id(1))).toBeDefined();
    expect(dropped).toEqual([]);
    for (let i = 10; i < 14; i++) tier.set(id(i), entry(json, false));
    expect(dropped.length).toBeGreaterThan(0);
    expect(tier.bytes).toBeLessThanOrEqual(3_000);
  });

  it("does not keep an entry larger than the whole bound", () => {
    const tier = new MemoryTier(500, 60_000);
    expect(tier.set(id(1), entry(JSON.stringify({ pad: "x".repeat(1000) })))).toBe(false);
    expect(tier.size).toBe(0);
  });

  it("expires entries after the idle timeout, and a read extends it", () => {
    let now = 1_000;
    const tier = new MemoryTier(
      100_000,
      100,
      () => {},
      () => now,
    );
    tier.set(id(1), entry("{}"));
    tier.set(id(2), entry("{}"));
    now = 1_080;
    expect(tier.get(id(1))).toBeDefined();
    now = 1_150;
    expect(tier.get(id(1))).toBeDefined();
    expect(tier.get(id(2))).toBeUndefined();
    expect(tier.size).toBe(1);
  });
});
