import { minutesToMillis } from "./minutes.js";
import type { IndexChange, IndexedStore, IndexEntry, StoredVersion } from "./types.js";

interface Row {
  value: string;
  version: number;
  expiresAt: number;
}

/**
 * Sessions in a `Map`, with every capability the layer uses (compare-and-set, conditional reads, user
 * indexes). Each instance is its own store. Made for tests (yours and this package's: merging, loading and backups need
 * no server) and for trying things on one isolate; it is not shared between isolates, so it is no
 * backup. It passes the store conformance suite.
 */
export class MemoryStore implements IndexedStore {
  readonly #rows = new Map<string, Row>();
  readonly #indexes = new Map<string, Map<string, { entry: string; expiresAt: number }>>();

  constructor(readonly now: () => number = Date.now) {}

  async clear(): Promise<void> {
    this.#rows.clear();
    this.#indexes.clear();
  }

  async destroy(sessionId: string): Promise<void> {
    this.#rows.delete(sessionId);
  }

  async get(sessionId: string): Promise<string | null> {
    return this.#live(sessionId)?.value ?? null;
  }

  async length(): Promise<number> {
    let count = 0;
    for (const key of [...this.#rows.keys()]) if (this.#live(key) !== undefined) count++;
    return count;
  }

  async ttl(sessionId: string): Promise<number> {
    const row = this.#live(sessionId);
    return row === undefined ? -2 : Math.ceil((row.expiresAt - this.now()) / 1000);
  }

  async set(sessionId: string, session: string, timeout: number): Promise<void> {
    this.#rows.set(sessionId, { value: session, version: 0, expiresAt: this.#expiry(timeout) });
  }

  async exists(sessionId: string): Promise<boolean> {
    return this.#live(sessionId) !== undefined;
  }

  async resetTimer(sessionId: string, timeout: number): Promise<void> {
    const row = this.#live(sessionId);
    if (row !== undefined) row.expiresAt = this.#expiry(timeout);
  }

  async setIfVersion(
    sessionId: string,
    expectedVersion: number,
    version: number,
    session: string,
    timeout: number,
    index: IndexChange[] = [],
  ): Promise<StoredVersion | null> {
    const row = this.#live(sessionId);
    if ((row?.version ?? 0) !== expectedVersion) return stored(row, this.now());
    this.#rows.set(sessionId, { value: session, version, expiresAt: this.#expiry(timeout) });
    this.#apply(index);
    return null;
  }

  async getIfChanged(
    sessionId: string,
    knownVersion: number,
    refreshTimeout?: number,
    index: IndexChange[] = [],
  ): Promise<StoredVersion | null> {
    const row = this.#live(sessionId);
    if (row === undefined || knownVersion <= 0 || row.version !== knownVersion) return stored(row, this.now());
    if (refreshTimeout !== undefined) {
      row.expiresAt = this.#expiry(refreshTimeout);
      this.#apply(index);
    }
    return null;
  }

  async listIndex(userKey: string): Promise<IndexEntry[]> {
    const index = this.#indexes.get(userKey);
    if (index === undefined) return [];
    const now = this.now();
    for (const [handle, { expiresAt }] of index) if (expiresAt <= now) index.delete(handle);
    if (index.size === 0) this.#indexes.delete(userKey);
    return [...index].map(([handle, { entry, expiresAt }]) => ({ handle, entry, expiresAt }));
  }

  #apply(changes: IndexChange[]): void {
    for (const { userKey, handle, op, entry, expiresAt } of changes) {
      let index = this.#indexes.get(userKey);
      if (op === "put") {
        if (index === undefined) this.#indexes.set(userKey, (index = new Map()));
        index.set(handle, { entry: entry!, expiresAt: expiresAt! });
      } else if (op === "touch") {
        const current = index?.get(handle);
        if (current !== undefined) current.expiresAt = expiresAt!;
      } else {
        index?.delete(handle);
        if (index?.size === 0) this.#indexes.delete(userKey);
      }
    }
  }

  #live(sessionId: string): Row | undefined {
    const row = this.#rows.get(sessionId);
    if (row !== undefined && row.expiresAt <= this.now()) {
      this.#rows.delete(sessionId);
      return undefined;
    }
    return row;
  }

  #expiry(timeout: number): number {
    return this.now() + minutesToMillis(timeout);
  }
}

function stored(row: Row | undefined, now: number): StoredVersion {
  return row === undefined
    ? { version: 0, session: null }
    : { version: row.version, session: row.value, ttlMs: row.expiresAt - now };
}
