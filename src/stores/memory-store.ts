import { minutesToMillis } from "./minutes.js";
import type { RevalidatingStore, StoredVersion } from "./types.js";

interface Row {
  value: string;
  version: number;
  expiresAt: number;
}

/**
 * Sessions in a `Map`, with every capability the layer uses (compare-and-set, conditional reads). Each
 * instance is its own store. Made for tests (yours and this package's: merging, loading and backups need
 * no server) and for trying things on one isolate; it is not shared between isolates, so it is no
 * backup. It passes the store conformance suite.
 */
export class MemoryStore implements RevalidatingStore {
  readonly #rows = new Map<string, Row>();

  constructor(readonly now: () => number = Date.now) {}

  async clear(): Promise<void> {
    this.#rows.clear();
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
  ): Promise<StoredVersion | null> {
    const row = this.#live(sessionId);
    if ((row?.version ?? 0) !== expectedVersion) return stored(row, this.now());
    this.#rows.set(sessionId, { value: session, version, expiresAt: this.#expiry(timeout) });
    return null;
  }

  async getIfChanged(sessionId: string, knownVersion: number, refreshTimeout?: number): Promise<StoredVersion | null> {
    const row = this.#live(sessionId);
    if (row === undefined || knownVersion <= 0 || row.version !== knownVersion) return stored(row, this.now());
    if (refreshTimeout !== undefined) row.expiresAt = this.#expiry(refreshTimeout);
    return null;
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
