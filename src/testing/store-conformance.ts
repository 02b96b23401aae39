import { describe, expect, it } from "vitest";
import {
  isIndexedStore,
  isRevalidatingStore,
  type IndexedStore,
  isVersionedStore,
  type RevalidatingStore,
  type StoredVersion,
  type UserCustomStore,
  type VersionedStore,
} from "../stores/types.js";

export interface StoreConformanceOptions {
  /**
   * A store to test. With `namespaces`, a store whose keys live in `namespace` (two namespaces must not see
   * each other's keys); otherwise the argument may be ignored, and every test starts with `clear()`.
   */
  makeStore(namespace: string): UserCustomStore | Promise<UserCustomStore>;
  /** Idle timeout used for the expiry checks, in minutes (small, so the suite stays quick). Default 0.01 (600 ms). */
  shortTimeout?: number;
  /** Also check the optional compare-and-set capability (`setIfVersion`), which the store then must have. */
  versioned?: boolean;
  /** Also check the optional conditional-read capability (`getIfChanged`, with `setIfVersion`), which the store then must have. */
  revalidating?: boolean;
  /** Also check the optional user-index capability (`listIndex`, and `index` on the conditional calls). */
  indexed?: boolean;
  /**
   * The store has namespaces (like the Redis and Durable Object stores): check that `length()` and
   * `clear()` stay inside one. The application router's interface has none, so this is off by default.
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
 */
export function describeStoreConformance(name: string, options: StoreConformanceOptions): void {
  const timeout = options.shortTimeout ?? 0.01;
  const timeoutMs = timeout * 60_000;
  const fresh = async () => {
    const namespace = `conformance-${Date.now().toString(36)}-${++run}`;
    const store = await options.makeStore(namespace);
    // A store without namespaces shares one key space between the tests: each starts from an empty store.
    if (!options.namespaces) await store.clear();
    return { namespace, store };
  };

  describe(`${name} keeps the store contract`, () => {
    it("returns exactly what set received, for any opaque string", async () => {
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
      for (const [i, value] of values.entries()) await store.set(`id-${i}`, value, 1);
      for (const [i, value] of values.entries()) expect(await store.get(`id-${i}`)).toBe(value);
      expect(await store.get("never-set")).toBeNull();
    });

    it("overwrites on set", async () => {
      const { store } = await fresh();
      await store.set("a", "one", 1);
      await store.set("a", "two", 1);
      expect(await store.get("a")).toBe("two");
    });

    it("answers exists, synchronously or as a promise", async () => {
      const { store } = await fresh();
      await store.set("a", "v", 1);
      expect(await Promise.resolve(store.exists("a"))).toBe(true);
      expect(await Promise.resolve(store.exists("b"))).toBe(false);
    });

    it("reports ttl in seconds: about the timeout after set, -2 when missing", async () => {
      const { store } = await fresh();
      await store.set("a", "v", 2);
      const ttl = await store.ttl("a");
      expect(ttl).toBeGreaterThan(110);
      expect(ttl).toBeLessThanOrEqual(120);
      expect(await store.ttl("missing")).toBe(-2);
    });

    it("expires a session after its timeout", async () => {
      const { store } = await fresh();
      await store.set("a", "v", timeout);
      expect(await store.get("a")).toBe("v");
      await sleep(timeoutMs + 300);
      expect(await store.get("a")).toBeNull();
      expect(await Promise.resolve(store.exists("a"))).toBe(false);
    });

    it("extends the expiry on resetTimer (sync or async)", async () => {
      const { store } = await fresh();
      await store.set("a", "v", timeout);
      await Promise.resolve(store.resetTimer("a", timeout * 5));
      await sleep(timeoutMs + 300);
      expect(await store.get("a")).toBe("v");
      expect(await store.ttl("a")).toBeGreaterThan(0);
    });

    it("destroys one session", async () => {
      const { store } = await fresh();
      await store.set("a", "v", 1);
      await store.set("b", "w", 1);
      await store.destroy("a");
      await store.destroy("never-there");
      expect(await store.get("a")).toBeNull();
      expect(await store.get("b")).toBe("w");
    });

    it("counts and clears its sessions", async () => {
      const { store } = await fresh();
      for (let i = 0; i < 12; i++) await store.set(`m-${i}`, "v", 1);
      expect(await store.length()).toBe(12);
      await store.clear();
      expect(await store.length()).toBe(0);
      expect(await store.get("m-3")).toBeNull();
    });

    if (options.namespaces) {
      it("counts and clears only its own namespace", async () => {
        const { store: mine } = await fresh();
        const { store: theirs } = await fresh();
        for (let i = 0; i < 12; i++) await mine.set(`m-${i}`, "v", 1);
        await theirs.set("t", "v", 1);
        expect(await mine.length()).toBe(12);
        expect(await theirs.length()).toBe(1);
        await mine.clear();
        expect(await mine.length()).toBe(0);
        expect(await mine.get("m-3")).toBeNull();
        expect(await theirs.get("t")).toBe("v");
        expect(await theirs.length()).toBe(1);
      });
    }
  });

  if (options.versioned) describeCompareAndSet(name, fresh, timeout, timeoutMs);
  if (options.revalidating) describeConditionalReads(name, fresh, timeout, timeoutMs);
  if (options.indexed) describeUserIndex(name, fresh, timeoutMs);
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
      expect(await store.ttl("a")).toBeGreaterThan(50);
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

function describeUserIndex(name: string, fresh: Fresh, timeoutMs: number): void {
  const indexed = async (): Promise<IndexedStore> => {
    const { store } = await fresh();
    expect(isIndexedStore(store)).toBe(true);
    return store as IndexedStore;
  };
  const later = (ms: number) => Date.now() + ms;
  const put = (userKey: string, handle: string, expiresAt = later(60_000)) =>
    ({ userKey, handle, op: "put", entry: `entry-of-${handle}`, expiresAt }) as const;

  describe(`${name} keeps the user-index contract`, () => {
    it("changes an index with the write it goes with, and only if that write lands", async () => {
      const store = await indexed();
      expect(await store.setIfVersion("s1", 0, 1, "one", 1, [put("u", "h1")])).toBeNull();
      expect(await store.setIfVersion("s2", 0, 1, "two", 1, [put("u", "h2"), put("v", "h2")])).toBeNull();
      expect(await store.setIfVersion("s1", 0, 2, "lost", 1, [put("u", "h3")])).not.toBeNull(); // a conflict
      const listed = (await store.listIndex("u"))
        .map(({ handle, entry }) => ({ handle, entry }))
        .sort((a, b) => a.handle.localeCompare(b.handle));
      expect(listed).toEqual([
        { handle: "h1", entry: "entry-of-h1" },
        { handle: "h2", entry: "entry-of-h2" },
      ]);
      expect((await store.listIndex("v")).map((e) => e.handle)).toEqual(["h2"]);
      expect(await store.setIfVersion("s1", 1, 2, "x", 1, [{ userKey: "u", handle: "h1", op: "remove" }])).toBeNull();
      expect((await store.listIndex("u")).map((e) => e.handle)).toEqual(["h2"]);
      expect(await store.listIndex("nobody")).toEqual([]);
    });

    it("moves an entry's expiry when a refresh of the known version asks, and not otherwise", async () => {
      const store = await indexed();
      await store.setIfVersion("s", 0, 1, "one", 1, [put("u", "h", later(timeoutMs))]);
      const touch = [{ userKey: "u", handle: "h", op: "touch", expiresAt: later(60_000) }] as const;
      expect(await store.getIfChanged("s", 2, 1, [...touch])).not.toBeNull(); // another version: no refresh
      expect((await store.listIndex("u"))[0]!.expiresAt).toBeLessThan(later(timeoutMs + 50));
      expect(await store.getIfChanged("s", 1, 1, [...touch])).toBeNull();
      expect((await store.listIndex("u"))[0]!.expiresAt).toBeGreaterThan(later(50_000));
    });

    it("prunes entries as they expire", async () => {
      const store = await indexed();
      await store.setIfVersion("a", 0, 1, "a", 1, [put("u", "short", later(timeoutMs))]);
      await store.setIfVersion("b", 0, 1, "b", 1, [put("u", "long")]);
      await sleep(timeoutMs + 300);
      expect((await store.listIndex("u")).map((e) => e.handle)).toEqual(["long"]);
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
