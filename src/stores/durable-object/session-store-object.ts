import { DurableObject } from "cloudflare:workers";
import type { IndexChange, IndexEntry } from "../types.js";

/**
 * One shard of the Durable Object session store: a SQLite table of opaque sealed sessions with their expiry,
 * and a table of user-index entries for the sessions of this shard (changed in the same call as the
 * session they go with). Reads ignore expired rows at once; an alarm at the earliest expiry deletes them.
 */
export class SessionStoreObject extends DurableObject {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Cloudflare.Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    );
    this.#sql.exec("CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions (expires_at)");
    this.#sql.exec(
      "CREATE TABLE IF NOT EXISTS user_index (user_key TEXT NOT NULL, handle TEXT NOT NULL, entry TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (user_key, handle))",
    );
  }

  get(key: string): string | null {
    const rows = this.#sql
      .exec<{ value: string }>("SELECT value FROM sessions WHERE key = ? AND expires_at > ?", key, Date.now())
      .toArray();
    return rows[0]?.value ?? null;
  }

  async set(key: string, value: string, ttlMs: number, version = 0): Promise<void> {
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
    index: IndexChange[] = [],
  ): Promise<{ version: number; session: string | null; ttlMs?: number } | null> {
    const current = this.#row(key);
    if ((current?.version ?? 0) !== expectedVersion) return stored(current);
    await this.set(key, value, ttlMs, version);
    this.#applyIndex(index);
    return null;
  }

  /** A user's live entries in this shard. */
  listIndex(userKey: string): IndexEntry[] {
    this.#sql.exec("DELETE FROM user_index WHERE user_key = ? AND expires_at <= ?", userKey, Date.now());
    return this.#sql
      .exec<{ handle: string; entry: string; expires_at: number }>(
        "SELECT handle, entry, expires_at FROM user_index WHERE user_key = ?",
        userKey,
      )
      .toArray()
      .map((row) => ({ handle: row.handle, entry: row.entry, expiresAt: row.expires_at }));
  }

  #applyIndex(index: IndexChange[]): void {
    for (const { userKey, handle, op, entry, expiresAt } of index) {
      if (op === "put") {
        this.#sql.exec(
          "INSERT OR REPLACE INTO user_index (user_key, handle, entry, expires_at) VALUES (?, ?, ?, ?)",
          userKey,
          handle,
          entry ?? "",
          expiresAt ?? 0,
        );
      } else if (op === "touch") {
        this.#sql.exec(
          "UPDATE user_index SET expires_at = ? WHERE user_key = ? AND handle = ?",
          expiresAt ?? 0,
          userKey,
          handle,
        );
      } else {
        this.#sql.exec("DELETE FROM user_index WHERE user_key = ? AND handle = ?", userKey, handle);
      }
    }
  }

  /** The stored session unless its version is `known` (then `null`, and the expiry pushed forward if asked). */
  async getIfChanged(
    key: string,
    known: number,
    ttlMs?: number,
    index: IndexChange[] = [],
  ): Promise<{ version: number; session: string | null; ttlMs?: number } | null> {
    const current = this.#row(key);
    if (current === undefined || known <= 0 || current.version !== known) return stored(current);
    if (ttlMs !== undefined) {
      await this.resetTimer(key, ttlMs);
      this.#applyIndex(index);
    }
    return null;
  }

  #row(key: string): { value: string; version: number; expires_at: number } | undefined {
    return this.#sql
      .exec<{ value: string; version: number; expires_at: number }>(
        "SELECT value, version, expires_at FROM sessions WHERE key = ? AND expires_at > ?",
        key,
        Date.now(),
      )
      .toArray()[0];
  }

  destroy(key: string): void {
    this.#sql.exec("DELETE FROM sessions WHERE key = ?", key);
  }

  /** Milliseconds left, or -2 when there is no live session under `key`. */
  ttlMs(key: string): number {
    const rows = this.#sql
      .exec<{ expires_at: number }>("SELECT expires_at FROM sessions WHERE key = ? AND expires_at > ?", key, Date.now())
      .toArray();
    return rows[0] === undefined ? -2 : rows[0].expires_at - Date.now();
  }

  async resetTimer(key: string, ttlMs: number): Promise<void> {
    const expiresAt = Date.now() + ttlMs;
    const updated = this.#sql.exec(
      "UPDATE sessions SET expires_at = ? WHERE key = ? AND expires_at > ?",
      expiresAt,
      key,
      Date.now(),
    );
    if (updated.rowsWritten > 0) await this.#alarmBy(expiresAt);
  }

  count(): number {
    return this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sessions WHERE expires_at > ?", Date.now()).one().n;
  }

  /** Rows held, expired or not: lets tests see that expired sessions are really gone. */
  storedRows(): number {
    return this.#sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM sessions").one().n;
  }

  async clear(): Promise<void> {
    this.#sql.exec("DELETE FROM sessions");
    this.#sql.exec("DELETE FROM user_index");
    await this.ctx.storage.deleteAlarm();
  }

  override async alarm(): Promise<void> {
    this.#sql.exec("DELETE FROM sessions WHERE expires_at <= ?", Date.now());
    this.#sql.exec("DELETE FROM user_index WHERE expires_at <= ?", Date.now());
    const next = this.#sql.exec<{ next: number | null }>("SELECT MIN(expires_at) AS next FROM sessions").one().next;
    if (next !== null) await this.ctx.storage.setAlarm(next);
  }

  /** Keeps the alarm at or before the earliest expiry, without moving it on every write. */
  async #alarmBy(expiresAt: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > expiresAt) await this.ctx.storage.setAlarm(expiresAt);
  }
}

/** What a conditional call answers when it did not write: the live row (with its time left), or nothing. */
function stored(row: { value: string; version: number; expires_at: number } | undefined) {
  return row === undefined
    ? { version: 0, session: null }
    : { version: row.version, session: row.value, ttlMs: row.expires_at - Date.now() };
}
