import { DurableObject } from "cloudflare:workers";

/**
 * One shard of the Durable Object session store: a SQLite table of opaque sealed sessions with their expiry.
 * Reads ignore expired rows at once; an alarm at the earliest expiry deletes them for real.
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
  ): Promise<{ version: number; session: string | null; ttlMs?: number } | null> {
    const current = this.#row(key);
    if ((current?.version ?? 0) !== expectedVersion) return stored(current);
    await this.set(key, value, ttlMs, version);
    return null;
  }

  /** The stored session unless its version is `known` (then `null`, and the expiry pushed forward if asked). */
  async getIfChanged(
    key: string,
    known: number,
    ttlMs?: number,
  ): Promise<{ version: number; session: string | null; ttlMs?: number } | null> {
    const current = this.#row(key);
    if (current === undefined || known <= 0 || current.version !== known) return stored(current);
    if (ttlMs !== undefined) await this.resetTimer(key, ttlMs);
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
    await this.ctx.storage.deleteAlarm();
  }

  override async alarm(): Promise<void> {
    this.#sql.exec("DELETE FROM sessions WHERE expires_at <= ?", Date.now());
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
