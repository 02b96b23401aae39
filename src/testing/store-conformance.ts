import { describe, expect, it } from "vitest";
import {
  confirmsWithCutoff,
  isIndexedStore,
  isRevalidatingStore,
  type IndexChange,
  type IndexedStore,
  type IndexLimits,
  isVersionedStore,
  type RevalidatingStore,
  type StoredVersion,
  type UserCustomStore,
  type VersionedStore,
} from "../stores/types.js";

export interface StoreConformanceOptions {
  /**
   * A store to test. With `namespaces`, a store whose keys live in `namespace` (two namespaces must not see
   * each other's keys); otherwise the argument may be ignored, and every test starts with `clear()` (which
   * the store then must have).
   */
  makeStore(namespace: string): UserCustomStore | Promise<UserCustomStore>;
  /** Idle timeout used for the expiry checks, in minutes (small, so the suite stays quick). Default 0.01 (600 ms). */
  shortTimeout?: number;
  /** Also check the optional compare-and-set capability (`setIfVersion`), which the store then must have. */
  versioned?: boolean;
  /** Also check the optional conditional-read capability (`getIfChanged`, with `setIfVersion`), which the store then must have. */
  revalidating?: boolean;
  /** Also check the optional user-index capability (`changeIndex`, `readIndex`, `revokeBefore`, `revokedBefore`). */
  indexed?: boolean;
  /** Also check the optional one-call confirmation (`getIfChangedWithCutoff`), with the user index. */
  confirmsWithCutoff?: boolean;
  /**
   * The store has namespaces (like the Redis and Durable Object stores): check that `length()` and
   * `clear()`, if it has them, stay inside one. The application router's interface has none, so this is
   * off by default.
   */
  namespaces?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let run = 0;

/**
 * The contract every session store must keep, as a vitest suite. Run it against your own store:
 *
 * @example
 * ```ts
 * import { describeStoreConformance } from "hono-edge-session/testing";
 * import { MyStore } from "../src/my-store";
 * describeStoreConformance("MyStore", { makeStore: (ns) => new MyStore(ns) });
 * ```
 *
 * `get`, `set`, `destroy` and `resetTimer` are always checked; `exists`, `ttl`, `length` and `clear` (which
 * the layer never calls) when the store has them.
 */
export function describeStoreConformance(name: string, options: StoreConformanceOptions): void {
  const timeout = options.shortTimeout ?? 0.01;
  const timeoutMs = timeout * 60_000;
  const fresh = async () => {
    const namespace = `conformance-${Date.now().toString(36)}-${++run}`;
    const store = await options.makeStore(namespace);
    if (!options.namespaces) {
      // A store without namespaces shares one key space between the tests: each starts from an empty store.
      if (store.clear === undefined) throw new TypeError("without namespaces: true, the store must have clear()");
      await store.clear();
    }
    return { namespace, store };
  };

  describe(`${name} keeps the store contract`, () => {
    it("returns exactly what set received, for any opaque string, and tells its ttl (if it has ttl)", async () => {
      const { store } = await fresh();
      const values = [
        "AQAvdnZvAAAAA_-x",
        "12345",
        '{"looks":"like json"}',
        "true",
        "null",
        "x".repeat(70_000),
        "ünïcödé ✓",
      ];
      for (const [i, value] of values.entries()) await store.set(`id-${i}`, value, 2);
      for (const [i, value] of values.entries()) expect(await store.get(`id-${i}`)).toBe(value);
      expect(await store.get("never-set")).toBeNull();
      if (store.ttl !== undefined) {
        // In seconds: about the timeout after set, -2 when missing.
        const ttl = await store.ttl("id-0");
        expect(ttl).toBeGreaterThan(110);
        expect(ttl).toBeLessThanOrEqual(120);
        expect(await store.ttl("never-set")).toBe(-2);
      }
    });

    it("overwrites on set, and answers exists synchronously or as a promise (if it has exists)", async () => {
      const { store } = await fresh();
      await store.set("a", "one", 1);
      await store.set("a", "two", 1);
      expect(await store.get("a")).toBe("two");
      if (store.exists !== undefined) {
        expect(await Promise.resolve(store.exists("a"))).toBe(true);
        expect(await Promise.resolve(store.exists("b"))).toBe(false);
      }
    });

    it("expires a session after its timeout", async () => {
      const { store } = await fresh();
      await store.set("a", "v", timeout);
      expect(await store.get("a")).toBe("v");
      await sleep(timeoutMs + 300);
      expect(await store.get("a")).toBeNull();
      if (store.exists !== undefined) expect(await Promise.resolve(store.exists("a"))).toBe(false);
    });

    it("extends the expiry on resetTimer (sync or async), and leaves a missing session missing", async () => {
      const { store } = await fresh();
      await store.set("a", "v", timeout);
      await Promise.resolve(store.resetTimer("a", timeout * 5));
      await Promise.resolve(store.resetTimer("never-set", timeout * 5));
      await sleep(timeoutMs + 300);
      expect(await store.get("a")).toBe("v");
      expect(await store.get("never-set")).toBeNull();
      if (store.ttl !== undefined) expect(await store.ttl("a")).toBeGreaterThan(0);
    });

    it("destroys one session, and counts and clears them (if it has length and clear)", async () => {
      const { store } = await fresh();
      for (let i = 0; i < 12; i++) await store.set(`m-${i}`, "v", 1);
      await store.destroy("m-0");
      await store.destroy("never-there");
      expect(await store.get("m-0")).toBeNull();
      expect(await store.get("m-1")).toBe("v");
      if (store.length !== undefined) expect(await store.length()).toBe(11);
      if (store.clear !== undefined) {
        await store.clear();
        expect(await store.get("m-3")).toBeNull();
        if (store.length !== undefined) expect(await store.length()).toBe(0);
      }
    });

    if (options.namespaces) {
      it("keeps namespaces apart, and counts and clears only its own (if it has length and clear)", async () => {
        const { namespace, store: mine } = await fresh();
        const { store: theirs } = await fresh();
        // A namespace that extends this one (its keys start with this one's prefix, in a key-prefix scheme).
        const nested = await options.makeStore(`${namespace}:eu`);
        for (let i = 0; i < 12; i++) await mine.set(`m-${i}`, "mine", 1);
        await theirs.set("m-3", "theirs", 1);
        await nested.set("m-5", "nested", 1);
        const index = options.indexed && isIndexedStore(nested) ? nested : undefined;
        if (index !== undefined) {
          const expiresAt = Date.now() + 60_000;
          await index.changeIndex([{ userKey: "u", handle: "h", op: "put", entry: "e", expiresAt, since: 1 }], {
            maxEntries: 10,
            keepMinutes: 1,
          });
        }
        expect(await mine.get("m-3")).toBe("mine");
        expect(await theirs.get("m-3")).toBe("theirs");
        await mine.destroy("m-3");
        expect(await theirs.get("m-3")).toBe("theirs");
        if (mine.length !== undefined) {
          expect(await mine.length()).toBe(11);
          expect(await theirs.length!()).toBe(1);
          expect(await nested.length!()).toBe(1);
        }
        if (mine.clear !== undefined) {
          await mine.clear();
          expect(await mine.get("m-4")).toBeNull();
          expect(await theirs.get("m-3")).toBe("theirs");
          expect(await nested.get("m-5")).toBe("nested");
          if (index !== undefined) expect((await index.readIndex("u")).entries).toHaveLength(1);
          if (theirs.length !== undefined) expect(await theirs.length()).toBe(1);
        }
      });
    }
  });

  if (options.versioned) describeCompareAndSet(name, fresh, timeout, timeoutMs);
  if (options.revalidating) describeConditionalReads(name, fresh, timeout, timeoutMs);
  if (options.indexed) describeUserIndex(name, fresh, timeout, timeoutMs);
  if (options.indexed && options.confirmsWithCutoff) describeOneCallConfirmation(name, fresh, timeout, timeoutMs);
}

type Fresh = () => Promise<{ namespace: string; store: UserCustomStore }>;

function describeCompareAndSet(name: string, fresh: Fresh, timeout: number, timeoutMs: number): void {
  const versioned = async (): Promise<VersionedStore> => {
    const { store } = await fresh();
    expect(isVersionedStore(store)).toBe(true);
    return store as VersionedStore;
  };

  describe(`${name} keeps the compare-and-set contract`, () => {
    it("writes only over the expected version, and otherwise answers what is stored", async () => {
      const store = await versioned();
      expect(await store.setIfVersion("a", 0, 1, "one", 1)).toBeNull();
      expect(await store.get("a")).toBe("one");
      expectStored(await store.setIfVersion("a", 0, 1, "again", 1), { version: 1, session: "one" }, 1);
      expect(await store.setIfVersion("a", 1, 2, "two", 1)).toBeNull();
      expectStored(await store.setIfVersion("a", 1, 2, "stale", 1), { version: 2, session: "two" }, 1);
      expect(await store.get("a")).toBe("two");
      if (store.ttl !== undefined) expect(await store.ttl("a")).toBeGreaterThan(50);
    });

    it("answers version 0 and no session where nothing is stored", async () => {
      const store = await versioned();
      expectStored(await store.setIfVersion("a", 3, 4, "x", 1), { version: 0, session: null }, 1);
      expect(await store.get("a")).toBeNull();
    });

    it("lets exactly one of many racing writers win", async () => {
      const store = await versioned();
      await store.setIfVersion("a", 0, 1, "base", 1);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => store.setIfVersion("a", 1, 2, `w${i}`, 1)),
      );
      expect(results.filter((r) => r === null)).toHaveLength(1);
      const winner = results.findIndex((r) => r === null);
      expect(await store.get("a")).toBe(`w${winner}`);
    });

    it("counts an expired session as nothing stored", async () => {
      const store = await versioned();
      await store.setIfVersion("a", 0, 5, "v", timeout);
      await sleep(timeoutMs + 300);
      expect(await store.setIfVersion("a", 0, 6, "w", 1)).toBeNull();
    });
  });
}

function describeConditionalReads(name: string, fresh: Fresh, timeout: number, timeoutMs: number): void {
  const revalidating = async (): Promise<RevalidatingStore> => {
    const { store } = await fresh();
    expect(isRevalidatingStore(store)).toBe(true);
    return store as RevalidatingStore;
  };

  describe(`${name} keeps the conditional-read contract`, () => {
    it("answers null for the version the caller knows, and what is stored otherwise", async () => {
      const store = await revalidating();
      await store.setIfVersion("a", 0, 3, "three", 1);
      expect(await store.getIfChanged("a", 3)).toBeNull();
      expectStored(await store.getIfChanged("a", 2), { version: 3, session: "three" }, 1);
      expectStored(await store.getIfChanged("a", 0), { version: 3, session: "three" }, 1);
      expectStored(await store.getIfChanged("missing", 3), { version: 0, session: null }, 1);
    });

    it("pushes forward the expiry of the known version only", async () => {
      const store = await revalidating();
      await store.setIfVersion("a", 0, 1, "one", timeout);
      await store.setIfVersion("b", 0, 2, "two", timeout);
      expect(await store.getIfChanged("a", 1, timeout * 5)).toBeNull();
      expect(await store.getIfChanged("b", 1, timeout * 5)).not.toBeNull(); // another version: untouched
      await sleep(timeoutMs + 300);
      expect(await store.get("a")).toBe("one");
      expect(await store.get("b")).toBeNull();
    });
  });
}

function describeUserIndex(name: string, fresh: Fresh, timeout: number, timeoutMs: number): void {
  const indexed = async (): Promise<IndexedStore> => {
    const { store } = await fresh();
    expect(isIndexedStore(store)).toBe(true);
    return store as IndexedStore;
  };
  const limits: IndexLimits = { maxEntries: 100, keepMinutes: 1 };
  const put = (userKey: string, handle: string, since: number, expiresAt = Date.now() + 60_000): IndexChange => ({
    userKey,
    handle,
    op: "put",
    entry: `entry-of-${handle}`,
    expiresAt,
    since,
  });
  const entries = async (store: IndexedStore, userKey: string) =>
    (await store.readIndex(userKey)).entries.sort((a, b) => a.handle.localeCompare(b.handle));
  const handles = async (store: IndexedStore, userKey: string) =>
    (await entries(store, userKey)).map(({ handle }) => handle);

  describe(`${name} keeps the user-index contract`, () => {
    it("puts, touches and removes entries, each in the record of the user it names", async () => {
      const store = await indexed();
      const since = Date.now() - 5_000;
      const expiresAt = Date.now() + 60_000;
      await store.changeIndex(
        [put("u", "h1", since, expiresAt), put("u", "h2", since + 1, expiresAt), put("v", "h2", since + 2, expiresAt)],
        limits,
      );
      expect(await store.readIndex("u")).toEqual({
        entries: expect.arrayContaining([
          { handle: "h1", entry: "entry-of-h1", expiresAt, since },
          { handle: "h2", entry: "entry-of-h2", expiresAt, since: since + 1 },
        ]),
        revokedBefore: 0,
      });
      expect(await entries(store, "v")).toEqual([{ handle: "h2", entry: "entry-of-h2", expiresAt, since: since + 2 }]);

      const touched = expiresAt + 30_000;
      await store.changeIndex(
        [
          { userKey: "u", handle: "h1", op: "touch", expiresAt: touched },
          { userKey: "u", handle: "missing", op: "touch", expiresAt: touched }, // creates nothing
          { userKey: "v", handle: "h2", op: "remove" },
        ],
        limits,
      );
      expect((await entries(store, "u")).map((e) => [e.handle, e.expiresAt])).toEqual([
        ["h1", touched],
        ["h2", expiresAt],
      ]);
      expect(await store.readIndex("v")).toEqual({ entries: [], revokedBefore: 0 });

      // A put without since keeps the entry's; a new entry without one is tied now.
      const before = Date.now();
      await store.changeIndex(
        [
          { userKey: "u", handle: "h2", op: "put", entry: "replaced", expiresAt },
          { userKey: "u", handle: "h3", op: "put", entry: "new", expiresAt },
          { userKey: "u", handle: "h1", op: "remove" },
        ],
        limits,
      );
      const [h2, h3] = await entries(store, "u");
      expect(h2).toEqual({ handle: "h2", entry: "replaced", expiresAt, since: since + 1 });
      expect(h3!.since).toBeGreaterThanOrEqual(before - 2_000); // the store's clock may be the store's own
      expect(h3!.since).toBeLessThanOrEqual(Date.now() + 2_000);
      expect(await store.readIndex("nobody")).toEqual({ entries: [], revokedBefore: 0 });
      expect(await store.revokedBefore("nobody")).toBe(0);
    });

    it("prunes entries as they expire, and never returns an expired one", async () => {
      const store = await indexed();
      await store.changeIndex(
        [put("u", "short", Date.now(), Date.now() + timeoutMs), put("u", "long", Date.now())],
        limits,
      );
      expect(await handles(store, "u")).toEqual(["long", "short"]);
      await sleep(timeoutMs + 300);
      expect(await handles(store, "u")).toEqual(["long"]);
      await store.changeIndex([{ userKey: "u", handle: "long", op: "touch", expiresAt: Date.now() + 60_000 }], limits);
      expect(await handles(store, "u")).toEqual(["long"]);
    });

    it("evicts past maxEntries the entries tied first, and raises the cut-off just past them", async () => {
      const store = await indexed();
      const base = Date.now() - 60_000;
      const few = { maxEntries: 3, keepMinutes: 1 };
      await store.changeIndex(
        [1, 2, 3, 4, 5].map((i) => put("u", `h${i}`, base + 1000 * i)),
        few,
      );
      expect(await store.readIndex("u")).toEqual({
        entries: expect.arrayContaining(["h3", "h4", "h5"].map((handle) => expect.objectContaining({ handle }))),
        revokedBefore: base + 2001,
      });
      expect(await handles(store, "u")).toHaveLength(3);
      await store.changeIndex([put("u", "h6", base + 6000), put("v", "h1", base)], few);
      expect(await handles(store, "u")).toEqual(["h4", "h5", "h6"]);
      expect(await store.revokedBefore("u")).toBe(base + 3001);
      expect(await store.readIndex("v")).toEqual({
        entries: [expect.objectContaining({ handle: "h1" })],
        revokedBefore: 0,
      });
    });

    it("revokes by time: raises the cut-off, never lowers it, and no longer lists the entries tied before it", async () => {
      const store = await indexed();
      const now = Date.now();
      await store.changeIndex([put("u", "old", now - 10_000), put("u", "new", now - 1_000)], limits);
      await store.revokeBefore("u", now - 5_000, 1);
      expect(await store.revokedBefore("u")).toBe(now - 5_000);
      expect(await handles(store, "u")).toEqual(["new"]);
      await store.revokeBefore("u", now - 20_000, 1);
      expect(await store.readIndex("u")).toEqual({
        entries: [expect.objectContaining({ handle: "new" })],
        revokedBefore: now - 5_000,
      });
      // A session tied before the cut-off is revoked: its entry is not listed even when put afterwards.
      await store.changeIndex([put("u", "late", now - 6_000)], limits);
      expect(await handles(store, "u")).toEqual(["new"]);
      // A user with no record gets one.
      await store.revokeBefore("w", now, 1);
      expect(await store.readIndex("w")).toEqual({ entries: [], revokedBefore: now });
    });

    it("keeps a record keepMinutes after its last change, and as long as its longest-lived entry", async () => {
      const store = await indexed();
      const now = Date.now();
      await store.revokeBefore("gone", now, timeout);
      await store.changeIndex([put("kept", "h", now)], { maxEntries: 100, keepMinutes: timeout });
      await store.revokeBefore("kept", now - 1_000, timeout);
      expect(await store.revokedBefore("gone")).toBe(now);
      await sleep(timeoutMs + 300);
      expect(await store.revokedBefore("gone")).toBe(0);
      expect(await store.readIndex("gone")).toEqual({ entries: [], revokedBefore: 0 });
      expect(await store.readIndex("kept")).toEqual({
        entries: [expect.objectContaining({ handle: "h" })],
        revokedBefore: now - 1_000,
      });
    });
  });
}

function describeOneCallConfirmation(name: string, fresh: Fresh, timeout: number, timeoutMs: number): void {
  type OneCall = IndexedStore & Required<Pick<IndexedStore, "getIfChangedWithCutoff">>;
  const oneCall = async (): Promise<OneCall> => {
    const { store } = await fresh();
    expect(confirmsWithCutoff(store)).toBe(true);
    return store as OneCall;
  };
  describe(`${name} keeps the one-call confirmation contract`, () => {
    it("confirms a session and the highest cut-off of its user keys in one call", async () => {
      const store = await oneCall();
      const now = Date.now();
      await store.setIfVersion("s", 0, 2, "two", 1);
      await store.revokeBefore("old-secret", now - 1_000, 1);
      await store.revokeBefore("new-secret", now - 5_000, 1);
      expect(await store.getIfChangedWithCutoff("s", 2, undefined, ["new-secret", "old-secret"])).toEqual({
        stored: null,
        revokedBefore: now - 1_000,
      });
      const changed = await store.getIfChangedWithCutoff("s", 1, undefined, ["nobody"]);
      expect(changed.revokedBefore).toBe(0);
      expectStored(changed.stored, { version: 2, session: "two" }, 1);
      const missing = await store.getIfChangedWithCutoff("missing", 2, undefined, ["new-secret"]);
      expect(missing.revokedBefore).toBe(now - 5_000);
      expectStored(missing.stored, { version: 0, session: null }, 1);
    });

    it("pushes forward the expiry of the known version only, as getIfChanged does", async () => {
      const store = await oneCall();
      await store.setIfVersion("a", 0, 1, "one", timeout);
      await store.setIfVersion("b", 0, 2, "two", timeout);
      expect((await store.getIfChangedWithCutoff("a", 1, timeout * 5, ["u"])).stored).toBeNull();
      expect((await store.getIfChangedWithCutoff("b", 1, timeout * 5, ["u"])).stored).not.toBeNull(); // untouched
      await sleep(timeoutMs + 300);
      expect(await store.get("a")).toBe("one");
      expect(await store.get("b")).toBeNull();
    });
  });
}

/** A `StoredVersion` as expected; `ttlMs`, which a store may add, must then be within the timeout. */
function expectStored(actual: StoredVersion | null, expected: StoredVersion, timeoutMinutes: number): void {
  expect(actual).not.toBeNull();
  const { ttlMs, ...rest } = actual!;
  expect(rest).toEqual(expected);
  if (ttlMs !== undefined) {
    expect(ttlMs).toBeGreaterThan(0);
    expect(ttlMs).toBeLessThanOrEqual(timeoutMinutes * 60_000);
  }
}
