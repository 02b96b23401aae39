import { DurableObject } from "cloudflare:workers";
import type { IndexChange, IndexEntry, StoredVersion, UserIndex } from "../types.js";

type SessionRow = { value: string; version: number; expires_at: number };

/**
 * The Durable Object of the session store, in one of two roles, by the name the store gives it: one
 * session (`<namespace>/s/<session key>`: the `sessions` table, one row), or one user's record
 * (`<namespace>/u/<user key>`: the `user_entries` table and the one-row `user_record` table, which holds
 * the cut-off and how long the record lives at least). One class, so an app binds one class.
 *
 * Expired rows are ignored at once and deleted by an alarm at the earliest expiry; an object left with
 * nothing deletes its storage (and its alarm), so an ended session or user costs nothing. The tables are
 * created by the first write only: a read of an object that holds nothing (a session that expired, a
 * forged cookie's id) leaves nothing behind.
 */
export class SessionStoreObject extends DurableObject {
  readonly #sql: SqlStorage;
  /** Whether the tables exist (created by the first write, gone with `deleteAll`). */
  #hasTables: boolean;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#hasTables =
      this.#sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'user_record'").toArray().length >
      0;
  }

  // The session role.

  get(key: string): string | null {
    return this.#row(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlMs: number, version = 0): Promise<void> {
    this.#createTables();
    const expiresAt = Date.now() + ttlMs;
    this.#sql.exec(
      "INSERT OR REPLACE INTO sessions (key, value, version, expires_at) VALUES (?, ?, ?, ?)",
      key,
      value,
      version,
      expiresAt,
    );
    await this.#alarmBy(expiresAt);
  }

  /** Compare-and-set: an object runs one call at a time, so the read and the write cannot interleave. */
  async setIfVersion(
    key: string,
    expectedVersion: number,
    version: number,
    value: string,
    ttlMs: number,
  ): Promise<StoredVersion | null> {
    const current = this.#row(key);
    if ((current?.version ?? 0) !== expectedVersion) return stored(current);
    await this.set(key, value, ttlMs, version);
    return null;
  }

  /** The stored session unless its version is `known` (then `null`, and the expiry pushed forward if asked). */
  async getIfChanged(key: string, known: number, ttlMs?: number): Promise<StoredVersion | null> {
    const current = this.#row(key);
    if (current === undefined || known <= 0 || current.version !== known) return stored(current);
    if (ttlMs !== undefined) await this.resetTimer(key, ttlMs);
    return null;
  }

  async destroy(key: string): Promise<void> {
    if (!this.#hasTables) return;
    this.#sql.exec("DELETE FROM sessions WHERE key = ?", key);
    await this.#settle();
  }

  /** Milliseconds left, or -2 when there is no live session under `key`. */
  ttlMs(key: string): number {
    const row = this.#row(key);
    return row === undefined ? -2 : row.expires_at - Date.now();
  }

  async resetTimer(key: string, ttlMs: number): Promise<void> {
    if (!this.#hasTables) return;
    const expiresAt = Date.now() + ttlMs;
    const updated = this.#sql.exec(
      "UPDATE sessions SET expires_at = ? WHERE key = ? AND expires_at > ?",
      expiresAt,
      key,
      Date.now(),
    );
    if (updated.rowsWritten > 0) await this.#alarmBy(expiresAt);
  }

  // The user role: entries live while unexpired and tied at or after the cut-off.

  /** Applies one user's changes, prunes, evicts past `maxEntries`, and keeps the record `keepMs` at least. */
  async changeIndex(changes: IndexChange[], maxEntries: number, keepMs: number, graceMs = 0): Promise<void> {
    // Only a put makes a record; a touch or remove of a user who has none changes nothing (and stores nothing).
    if (!this.#hasTables && !changes.some(({ op }) => op === "put")) return;
    this.#createTables();
    const now = Date.now();
    for (const { handle, op, entry, expiresAt, since } of changes) {
      if (op === "put") {
        this.#sql.exec(
          `INSERT INTO user_entries (handle, entry, expires_at, since) VALUES (?1, ?2, ?3, COALESCE(?4, ?5))
           ON CONFLICT (handle) DO UPDATE SET entry = ?2, expires_at = ?3, since = COALESCE(?4, since)`,
          handle,
          entry ?? "",
          expiresAt ?? 0,
          since ?? null,
          now,
        );
      } else if (op === "touch") {
        this.#sql.exec("UPDATE user_entries SET expires_at = ? WHERE handle = ?", expiresAt ?? 0, handle);
      } else {
        this.#sql.exec("DELETE FROM user_entries WHERE handle = ?", handle);
      }
    }
    this.#keepRecord(keepMs);
    this.#prune();
    this.#evict(maxEntries, graceMs);
    await this.#settle();
  }

  readIndex(): UserIndex {
    const revokedBefore = this.revokedBefore();
    if (!this.#hasTables) return { entries: [], revokedBefore };
    const entries = this.#sql
      .exec<{ handle: string; entry: string; expires_at: number; since: number }>(
        "SELECT handle, entry, expires_at, since FROM user_entries WHERE expires_at > ? AND since >= ?",
        Date.now(),
        revokedBefore,
      )
      .toArray()
      .map(({ handle, entry, expires_at, since }): IndexEntry => ({ handle, entry, expiresAt: expires_at, since }));
    return { entries, revokedBefore };
  }

  async revokeBefore(time: number, keepMs: number): Promise<void> {
    this.#createTables();
    this.#keepRecord(keepMs);
    this.#sql.exec("UPDATE user_record SET revoked_before = MAX(revoked_before, ?)", time);
    this.#prune();
    await this.#settle();
  }

  /** The cut-off while the record lives (it has live entries, or time left), else 0. */
  revokedBefore(): number {
    if (!this.#hasTables) return 0;
    const now = Date.now();
    const record = this.#sql
      .exec<{ revoked_before: number }>(
        `SELECT revoked_before FROM user_record
         WHERE keep_until > ?1 OR EXISTS (SELECT 1 FROM user_entries WHERE expires_at > ?1)`,
        now,
      )
      .toArray()[0];
    return record?.revoked_before ?? 0;
  }

  override async alarm(): Promise<void> {
    if (!this.#hasTables) {
      // An object of an earlier layout (one of a fixed set of shards), or one already emptied.
      if (this.#sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().length === 0) return;
      this.#createTables();
    }
    this.#prune();
    await this.#settle(true);
  }

  #row(key: string): SessionRow | undefined {
    if (!this.#hasTables) return undefined;
    return this.#sql
      .exec<SessionRow>(
        "SELECT value, version, expires_at FROM sessions WHERE key = ? AND expires_at > ?",
        key,
        Date.now(),
      )
      .toArray()[0];
  }

  #createTables(): void {
    if (this.#hasTables) return;
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    );
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS user_entries (handle TEXT PRIMARY KEY, entry TEXT NOT NULL, expires_at INTEGER NOT NULL, since INTEGER NOT NULL)",
    );
    this.#sql.exec("CREATE INDEX IF NOT EXISTS user_entries_since ON user_entries (since)");
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS user_record (id INTEGER PRIMARY KEY CHECK (id = 1), revoked_before INTEGER NOT NULL, keep_until INTEGER NOT NULL)",
    );
    this.#hasTables = true;
  }

  /** The record lives at least `keepMs` from now (never less than it already had). */
  #keepRecord(keepMs: number): void {
    this.#sql.exec(
      `INSERT INTO user_record (id, revoked_before, keep_until) VALUES (1, 0, ?1)
       ON CONFLICT (id) DO UPDATE SET keep_until = MAX(keep_until, ?1)`,
      Date.now() + keepMs,
    );
  }

  /** Deletes expired sessions and entries no longer live (expired, or tied before the cut-off). */
  #prune(): void {
    const now = Date.now();
    this.#sql.exec("DELETE FROM sessions WHERE expires_at <= ?", now);
    this.#sql.exec(
      "DELETE FROM user_entries WHERE expires_at <= ? OR since < (SELECT COALESCE(MAX(revoked_before), 0) FROM user_record)",
      now,
    );
    // A record with no entries left lives until keep_until; an entry keeps it alive while it does.
    this.#sql.exec("DELETE FROM user_record WHERE keep_until <= ? AND NOT EXISTS (SELECT 1 FROM user_entries)", now);
  }

  /**
   * Past `maxEntries` entries of live sessions (more than `graceMs` left: an entry outlives its session by
   * that), the ones tied first go, and the cut-off rises just past them (ties go too).
   */
  #evict(maxEntries: number, graceMs: number): void {
    const alive = Date.now() + graceMs;
    const excess =
      this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM user_entries WHERE expires_at > ?", alive).one().n -
      maxEntries;
    if (excess <= 0) return;
    const { newest } = this.#sql
      .exec<{ newest: number }>(
        "SELECT MAX(since) AS newest FROM (SELECT since FROM user_entries WHERE expires_at > ? ORDER BY since LIMIT ?)",
        alive,
        excess,
      )
      .one();
    this.#sql.exec("UPDATE user_record SET revoked_before = MAX(revoked_before, ?)", newest + 1);
    this.#prune();
  }

  /**
   * After a deletion, or in the alarm: an object holding nothing deletes its storage (alarm included),
   * otherwise the alarm is set for the next expiry (`exact`: moved to it; else only brought forward).
   */
  async #settle(exact = false): Promise<void> {
    const { next } = this.#sql
      .exec<{ next: number | null }>(
        `SELECT MIN(at) AS next FROM (
           SELECT MIN(expires_at) AS at FROM sessions
           UNION ALL SELECT MIN(expires_at) FROM user_entries
           UNION ALL SELECT keep_until FROM user_record WHERE keep_until > ?)`,
        Date.now(),
      )
      .one();
    if (next === null) {
      // deleteAll() clears the alarm too only from compatibility date 2026-02-24: say it for older ones.
      await this.ctx.storage.deleteAlarm();
      await this.ctx.storage.deleteAll();
      this.#hasTables = false;
    } else if (exact) {
      await this.ctx.storage.setAlarm(next);
    } else {
      await this.#alarmBy(next);
    }
  }

  /** Keeps the alarm at or before `at`, without moving it on every write. */
  async #alarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}

/** What a conditional call answers when it did not write: the live row (with its time left), or nothing. */
function stored(row: SessionRow | undefined): StoredVersion {
  return row === undefined
    ? { version: 0, session: null }
    : { version: row.version, session: row.value, ttlMs: row.expires_at - Date.now() };
}
