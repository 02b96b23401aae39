import { beforeAll, describe, expect, it } from "vitest";
import { MemoryStore, type SessionEvent } from "../../src/index.js";
import { Secret } from "../../src/config/secret.js";
import { deriveKeyRing, type KeyRing } from "../../src/sealing/keys.js";
import { GuardedStore } from "../../src/stores/guarded-store.js";
import { land, planFor } from "../../src/tiers/land.js";
import { diff } from "../../src/tiers/merge.js";
import { MemoryTier, NOTHING_STORED } from "../../src/tiers/memory-tier.js";
import { StoreTier, UNCHANGED } from "../../src/tiers/store-tier.js";
import { WriteQueue } from "../../src/tiers/write-queue.js";
import { CompareAndSetWriter } from "../../src/tiers/writers/compare-and-set.js";
import type { WritePlan } from "../../src/tiers/writers/session-writer.js";
import { RequestTrace } from "../../src/trace.js";
import { unsavedEntry } from "../support/entries.js";
import { MemoryLogger, SECRET } from "../support/workerd.js";

/*
 * The tiers on their own, over a MemoryStore: merging, loading and the write queue, with no server.
 */
let ring: KeyRing;
beforeAll(async () => {
  ring = await deriveKeyRing(new Secret(SECRET));
});

function tiers(store = new MemoryStore()) {
  const events: SessionEvent[] = [];
  const guarded = new GuardedStore(store, 1000);
  const tier = new StoreTier(ring, guarded, new MemoryLogger(), 15, 100_000);
  const writer = new CompareAndSetWriter(tier, { dataMinutes: 15, markerMinutes: 30 }, (e) => events.push(e), 100_000);
  const memory = new MemoryTier(1_000_000);
  const deps = {
    memory,
    writer,
    writes: new WriteQueue(),
    report: { logger: new MemoryLogger(), onEvent: (e: SessionEvent) => events.push(e) },
    timeoutMinutes: 15,
  };
  return { store, tier, writer, memory, deps, events };
}

const ID = "S".repeat(24);
const trace = () => new RequestTrace();
const plan = (base: WritePlan["base"], from: object, to: object, extra: Partial<WritePlan> = {}): WritePlan => ({
  id: ID,
  base,
  change: { kind: "patch", patch: diff(from as Record<string, unknown>, to as Record<string, unknown>) },
  floor: base.version,
  tag: "TAGTAG00",
  createdAt: 1,
  user: undefined,
  at: 0,
  restoreUntil: Date.now() + 60_000,
  ...extra,
});

describe("compare-and-set merging", () => {
  it("applies a change's keys onto a newer version, and reports a key both changed", async () => {
    const { writer, events } = tiers();
    const first = await writer.write(plan(NOTHING_STORED, {}, { a: 1, b: 1 }), trace());
    expect(first).toMatchObject({ kind: "written", landed: { version: 1 } });
    const v1 = { version: 1, tag: "TAGTAG00", json: '{"a":1,"b":1}' };
    await writer.write(plan(v1, { a: 1, b: 1 }, { a: 2, b: 1 }, { tag: "OTHER000" }), trace()); // v2: a=2
    // Made against v1: sets b and a; lands as v3 on top of v2.
    const merged = await writer.write(plan(v1, { a: 1, b: 1 }, { a: 3, b: 9, c: 1 }, { tag: "MERGED00" }), trace());
    expect(merged).toMatchObject({ kind: "written", attempts: 2, landed: { version: 3, json: '{"a":3,"b":9,"c":1}' } });
    expect(events).toContainEqual({ type: "write-overwrite", keys: 1 }); // "a" was changed by both
  });

  it("takes only its own keys onto a newer version when a change beneath it, whose write failed, landed after all", async () => {
    const { writer } = tiers();
    await writer.write(plan(NOTHING_STORED, {}, { a: 1 }), trace()); // v1
    const v1 = { version: 1, tag: "TAGTAG00", json: '{"a":1}' };
    // This isolate's first change (a: 2) landed as v2 though its write reported an error; another isolate
    // then set a: 3 on top (v3). The later change of this isolate (b: 1) was made on the first one.
    await writer.write(plan(v1, { a: 1 }, { a: 2 }, { tag: "FIRST000" }), trace());
    const v2 = { version: 2, tag: "FIRST000", json: '{"a":2}', prior: ["TAGTAG00"] };
    await writer.write(plan(v2, { a: 2 }, { a: 3 }, { tag: "OTHER000" }), trace());
    const later = plan(
      v1,
      { a: 1 },
      { a: 2, b: 1 },
      { tag: "LATER000", beneath: [{ tag: "FIRST000", json: '{"a":2}' }] },
    );
    expect(await writer.write(later, trace())).toMatchObject({ landed: { version: 4, json: '{"a":3,"b":1}' } });
  });

  it("drops a write onto a tombstone, and never revives an expired session", async () => {
    const { writer } = tiers();
    await writer.write(plan(NOTHING_STORED, {}, { a: 1 }), trace());
    await writer.end(ID, 1, { kind: "tombstone", createdAt: 1, writtenAt: 2 }, trace());
    const v1 = { version: 1, tag: "TAGTAG00", json: '{"a":1}' };
    expect(await writer.write(plan(v1, { a: 1 }, { a: 2 }), trace())).toEqual({ kind: "dropped", reason: "destroyed" });
    const lost = tiers();
    expect(await lost.writer.write(plan(v1, { a: 1 }, { a: 2 }, { restoreUntil: Date.now() - 1 }), trace())).toEqual({
      kind: "dropped",
      reason: "expired",
    });
  });

  it("recognises its own write when a retried call finds it in place, so update(fn) runs once", async () => {
    const store = new MemoryStore();
    // The first attempt lands, then the answer is "lost": the call reports what it finds, its own write.
    const lossy = Object.assign(Object.create(store) as MemoryStore, {
      async setIfVersion(key: string, expected: number, version: number, session: string, timeout: number) {
        expect(await store.setIfVersion(key, expected, version, session, timeout)).toBeNull();
        return await store.setIfVersion(key, expected, version, "retry", timeout);
      },
    });
    const { writer } = tiers(lossy);
    let runs = 0;
    const outcome = await writer.write(
      { ...plan(NOTHING_STORED, {}, {}), change: { kind: "update", fn: (d) => void ((d["n"] = 1), runs++) } },
      trace(),
    );
    expect(outcome).toMatchObject({ kind: "written", attempts: 1 });
    expect(runs).toBe(1);
  });
});

describe("the write queue", () => {
  it("writes a burst of changes of one session in a few writes, and the last one lands", async () => {
    const { deps, memory, store } = tiers();
    let writes = 0;
    const counting = store.setIfVersion.bind(store);
    store.setIfVersion = async (...args) => {
      writes++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return counting(...args);
    };
    let entry = unsavedEntry('{"n":0}', 1, { stored: NOTHING_STORED });
    memory.set(ID, entry);
    const first = deps.writes.flush(ID, deps, trace(), true);
    for (let n = 1; n <= 9; n++) {
      entry = { ...entry, version: entry.version + 1, tag: `TAG0000${n}`, json: `{"n":${n}}` };
      memory.set(ID, entry);
      expect(deps.writes.flush(ID, deps, trace(), true)).toBeUndefined(); // the running queue takes it
    }
    await first;
    expect(writes).toBeLessThanOrEqual(3);
    expect(memory.peek(ID)).toMatchObject({ json: '{"n":9}' });
    expect(await tiers(store).tier.read(ID, 0, undefined, trace())).toMatchObject({ kind: "data", json: '{"n":9}' });
  });

  it("leaves a change unsaved, for the next request, when the store fails", async () => {
    const { deps, memory, store } = tiers();
    store.setIfVersion = async () => Promise.reject(new Error("down (test)"));
    const entry = unsavedEntry('{"n":1}', 1, { stored: NOTHING_STORED });
    memory.set(ID, entry);
    await deps.writes.flush(ID, deps, trace(), true);
    expect(memory.peek(ID)).toBe(entry);
    expect(deps.writes.running(ID)).toBe(false);
    await expect(land(planFor(ID, entry), entry, deps, trace(), false)).rejects.toThrow(/down/);
  });
});

describe("loading through the store tier", () => {
  it("confirms a known version with a conditional read and sends the session only when it changed", async () => {
    const { writer, tier } = tiers();
    await writer.write(plan(NOTHING_STORED, {}, { a: 1 }), trace());
    expect(await tier.read(ID, 1, undefined, trace())).toBe(UNCHANGED);
    expect(await tier.read(ID, 0, undefined, trace())).toMatchObject({ kind: "data", version: 1, json: '{"a":1}' });
    expect(await tier.find("N".repeat(24), trace())).toMatchObject({ kind: "nothing" });
  });
});
