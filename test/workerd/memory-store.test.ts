import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/index.js";
import { describeStoreConformance } from "../../src/testing/store-conformance.js";

describeStoreConformance("MemoryStore", {
  makeStore: () => new MemoryStore(),
  versioned: true,
  revalidating: true,
  indexed: true,
  confirmsWithCutoff: true,
  namespaces: true, // each instance is its own store
});

describe("MemoryStore", () => {
  it("tells how long a session has left when a conditional call does not write", async () => {
    let now = 1_000;
    const store = new MemoryStore(() => now);
    await store.setIfVersion("a", 0, 1, "one", 1);
    now += 20_000;
    expect(await store.setIfVersion("a", 0, 1, "x", 1)).toEqual({ version: 1, session: "one", ttlMs: 40_000 });
    expect(await store.getIfChanged("a", 0)).toEqual({ version: 1, session: "one", ttlMs: 40_000 });
    now += 40_000;
    expect(await store.getIfChanged("a", 0)).toEqual({ version: 0, session: null });
  });
});
