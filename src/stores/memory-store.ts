import { minutesToMillis } from "./minutes.js";
import type { IndexChange, IndexedStore, IndexEntry, IndexLimits, StoredVersion, UserIndex } from "./types.js";

interface Row {
  value: string;
  version: number;
  expiresAt: number;
}

/** A user's record: entries by handle, the cut-off, and how long the record lives at least. */
interface UserRecord {
  entries: Map<string, Omit<IndexEntry, "handle">>;
  revokedBefore: number;
  keepUntil: number;
}

/**
 * Sessions in a `Map`, with every capability the layer uses (compare-and-set, conditional reads, user
 * indexes). Each instance is its own store. Made for tests (yours and this package's: merging, loading and backups need
 * no server) and for trying things on one isolate; it is not shared between isolates, so it is no
 * backup. It passes the store conformance suite.
 */
export class MemoryStore implements IndexedStore {
  readonly #rows = new Map<string, Row>();
  readonly #users = new Map<string, UserRecord>();

  constructor(readonly now: () => number = Date.now) {}

  async clear(): Promise<void> {
    this.#rows.clear();
    this.#users.clear();
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

  async changeIndex(changes: IndexChange[], { maxEntries, keepMinutes, graceMinutes }: IndexLimits): Promise<void> {
    const changed = new Set<UserRecord>();
    for (const { userKey, handle, op, entry, expiresAt, since } of changes) {
      // Only a put makes a record; a touch or remove of a user who has none changes nothing.
      const record = this.#record(userKey) ?? (op === "put" ? this.#newRecord(userKey) : undefined);
      if (record === undefined) continue;
      changed.add(record);
      const current = record.entries.get(handle);
      if (op === "put") {
        record.entries.set(handle, {
          entry: entry ?? "",
          expiresAt: expiresAt ?? 0,
          since: since ?? current?.since ?? this.now(),
        });
      } else if (op === "touch") {
        if (current !== undefined) current.expiresAt = expiresAt ?? 0;
      } else {
        record.entries.delete(handle);
      }
    }
    for (const record of changed) {
      prune(record, this.now());
      evict(record, maxEntries, this.now(), minutesToMillis(graceMinutes ?? 0));
      record.keepUntil = Math.max(record.keepUntil, this.now() + minutesToMillis(keepMinutes));
    }
  }

  async readIndex(userKey: string): Promise<UserIndex> {
    const record = this.#record(userKey);
    if (record === undefined) return { entries: [], revokedBefore: 0 };
    const entries = [...record.entries].map(([handle, rest]) => ({ handle, ...rest }));
    return { entries, revokedBefore: record.revokedBefore };
  }

  async revokeBefore(userKey: string, time: number, keepMinutes: number): Promise<void> {
    const record = this.#record(userKey) ?? this.#newRecord(userKey);
    record.revokedBefore = Math.max(record.revokedBefore, time);
    record.keepUntil = Math.max(record.keepUntil, this.now() + minutesToMillis(keepMinutes));
    prune(record, this.now());
  }

  async revokedBefore(userKey: string): Promise<number> {
    return this.#record(userKey)?.revokedBefore ?? 0;
  }

  async getIfChangedWithCutoff(
    sessionId: string,
    knownVersion: number,
    refreshTimeout: number | undefined,
    userKeys: string[],
  ): Promise<{ stored: StoredVersion | null; revokedBefore: number }> {
    const stored = await this.getIfChanged(sessionId, knownVersion, refreshTimeout);
    const cutoffs = userKeys.map((userKey) => this.#record(userKey)?.revokedBefore ?? 0);
    return { stored, revokedBefore: Math.max(0, ...cutoffs) };
  }

  /** The user's record with only live entries, or nothing once it has neither entries nor time left. */
  #record(userKey: string): UserRecord | undefined {
    const record = this.#users.get(userKey);
    if (record === undefined) return undefined;
    const now = this.now();
    prune(record, now);
    if (record.entries.size === 0 && record.keepUntil <= now) {
      this.#users.delete(userKey);
      return undefined;
    }
    return record;
  }

  #newRecord(userKey: string): UserRecord {
    const record: UserRecord = { entries: new Map(), revokedBefore: 0, keepUntil: 0 };
    this.#users.set(userKey, record);
    return record;
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

/** Drops the entries that are no longer live: expired, or tied before the cut-off. */
function prune(record: UserRecord, now: number): void {
  for (const [handle, { expiresAt, since }] of record.entries) {
    if (expiresAt <= now || since < record.revokedBefore) record.entries.delete(handle);
  }
}

/**
 * Past `maxEntries` entries of live sessions (more than `graceMs` left), the ones tied first go, and the
 * cut-off rises just past them (ties go too).
 */
function evict(record: UserRecord, maxEntries: number, now: number, graceMs: number): void {
  const live = [...record.entries.values()].filter(({ expiresAt }) => expiresAt > now + graceMs);
  const excess = live.length - maxEntries;
  if (excess <= 0) return;
  const oldest = live.map(({ since }) => since).sort((a, b) => a - b);
  record.revokedBefore = Math.max(record.revokedBefore, oldest[excess - 1]! + 1);
  prune(record, now);
}

function stored(row: Row | undefined, now: number): StoredVersion {
  return row === undefined
    ? { version: 0, session: null }
    : { version: row.version, session: row.value, ttlMs: row.expiresAt - now };
}
