import { diagnoseStoreError, StoreMisconfiguredError, StoreTimeoutError } from "../errors.js";
import {
  confirmsWithCutoff,
  isIndexedStore,
  isRevalidatingStore,
  isVersionedStore,
  type IndexChange,
  type IndexLimits,
  type StoredVersion,
  type UserCustomStore,
  type UserIndex,
} from "./types.js";

/**
 * The layer's view of any store: every call is awaited (the contract lets `resetTimer` be synchronous), a
 * call that throws synchronously becomes a rejection, none waits longer than `timeoutMs` (so a hung store
 * cannot hang a request), and a failure no retry can cure says what to fix. The optional capabilities are
 * detected once, by their presence; the application router's optional methods (`clear`, `length`, `ttl`,
 * `exists`) are never called.
 */
export class GuardedStore {
  /** Whether writes can be compare-and-set (see `VersionedStore`). */
  readonly versioned: boolean;
  /** Whether reads can be conditional (see `RevalidatingStore`). */
  readonly revalidating: boolean;
  /** Whether it keeps user indexes (see `IndexedStore`). */
  readonly indexed: boolean;
  /** Whether it confirms a session and its user's cut-off in one call (`getIfChangedWithCutoff`). */
  readonly confirmsWithCutoff: boolean;

  constructor(
    readonly store: UserCustomStore,
    readonly timeoutMs: number,
    useVersions = true,
  ) {
    this.versioned = useVersions && isVersionedStore(store);
    this.revalidating = this.versioned && isRevalidatingStore(store);
    this.indexed = this.versioned && isIndexedStore(store);
    this.confirmsWithCutoff = this.indexed && confirmsWithCutoff(store);
  }

  async getIfChangedWithCutoff(
    key: string,
    knownVersion: number,
    refreshMinutes: number | undefined,
    userKeys: string[],
  ): Promise<{ stored: StoredVersion | null; revokedBefore: number }> {
    const store = this.store;
    if (!confirmsWithCutoff(store)) throw new TypeError("this store has no getIfChangedWithCutoff");
    const answer: unknown = await this.#call(() =>
      store.getIfChangedWithCutoff(key, knownVersion, refreshMinutes, userKeys),
    );
    const { stored, revokedBefore } = (answer ?? {}) as { stored?: unknown; revokedBefore?: unknown };
    if (typeof revokedBefore !== "number" || Number.isNaN(revokedBefore)) {
      throw malformed("getIfChangedWithCutoff", answer, "{ stored, revokedBefore }");
    }
    return { stored: storedVersion("getIfChangedWithCutoff", stored), revokedBefore };
  }

  /**
   * A missing session is `null` by the contract; a store built on `Map.get` answers `undefined`, an easy
   * slip that must not turn every unknown cookie into a 503. Anything else that is not a string is no sealed
   * session: it is handed on as text, which fails to open (and is taken for tampered, logged).
   */
  async get(key: string): Promise<string | null> {
    const value: unknown = await this.#call(() => this.store.get(key));
    return value === undefined || value === null ? null : typeof value === "string" ? value : String(value);
  }

  set(key: string, sealed: string, timeoutMinutes: number): Promise<void> {
    return this.#call(() => this.store.set(key, sealed, timeoutMinutes));
  }

  async setIfVersion(
    key: string,
    expectedVersion: number,
    version: number,
    sealed: string,
    timeoutMinutes: number,
  ): Promise<StoredVersion | null> {
    const store = this.#capable(isVersionedStore, "setIfVersion");
    const answer: unknown = await this.#call(() =>
      store.setIfVersion(key, expectedVersion, version, sealed, timeoutMinutes),
    );
    return storedVersion("setIfVersion", answer);
  }

  async getIfChanged(key: string, knownVersion: number, refreshMinutes?: number): Promise<StoredVersion | null> {
    const store = this.#capable(isRevalidatingStore, "getIfChanged");
    const answer: unknown = await this.#call(() => store.getIfChanged(key, knownVersion, refreshMinutes));
    return storedVersion("getIfChanged", answer);
  }

  changeIndex(changes: IndexChange[], limits: IndexLimits): Promise<void> {
    const store = this.#capable(isIndexedStore, "user index");
    return this.#call(() => store.changeIndex(changes, limits));
  }

  readIndex(userKey: string): Promise<UserIndex> {
    const store = this.#capable(isIndexedStore, "user index");
    return this.#call(() => store.readIndex(userKey));
  }

  revokeBefore(userKey: string, time: number, keepMinutes: number): Promise<void> {
    const store = this.#capable(isIndexedStore, "user index");
    return this.#call(() => store.revokeBefore(userKey, time, keepMinutes));
  }

  revokedBefore(userKey: string): Promise<number> {
    const store = this.#capable(isIndexedStore, "user index");
    return this.#call(() => store.revokedBefore(userKey));
  }

  destroy(key: string): Promise<void> {
    return this.#call(() => this.store.destroy(key));
  }

  resetTimer(key: string, timeoutMinutes: number): Promise<void> {
    return this.#call(() => this.store.resetTimer(key, timeoutMinutes));
  }

  #capable<T extends UserCustomStore>(has: (store: UserCustomStore) => store is T, what: string): T {
    if (!has(this.store)) throw new TypeError(`this store has no ${what}`);
    return this.store;
  }

  async #call<T>(operation: () => T | Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StoreTimeoutError(`store call took longer than ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      return await Promise.race([Promise.resolve().then(operation), timeout]);
    } catch (error) {
      throw diagnoseStoreError(error);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

/**
 * A compare-and-set's or a conditional read's answer, as the contract has it: `null`, or `{ version, session }`.
 * Anything else (a missing `return`, which answers `undefined`, is the easy slip) cannot be told apart from
 * either meaning, so it is a store failure that says which method answered what, not a guess (`undefined` as
 * "written" could drop a write that did not land), nor a TypeError from deep inside the layer.
 */
function storedVersion(method: string, answer: unknown): StoredVersion | null {
  if (answer === null) return null;
  const { version, session, ttlMs } = (typeof answer === "object" ? answer : {}) as Record<string, unknown>;
  if (
    typeof version === "number" &&
    Number.isInteger(version) &&
    version >= 0 &&
    (typeof session === "string" || session === null) &&
    (ttlMs === undefined || typeof ttlMs === "number")
  ) {
    return answer as StoredVersion;
  }
  throw malformed(method, answer, "null or { version, session }");
}

/** Names the kind of value only: a store's answer may hold a sealed session. */
function malformed(method: string, answer: unknown, expected: string): StoreMisconfiguredError {
  const kind = answer === null ? "null" : Array.isArray(answer) ? "an array" : typeof answer;
  return new StoreMisconfiguredError(
    `the store's ${method}() answered ${kind === "object" ? "an object of another shape" : kind}, not ${expected} (see VersionedStore in docs/stores.md)`,
  );
}
