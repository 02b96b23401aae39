/**
 * Types every layer shares. This module imports nothing at run time, so every other module can import
 * it and the imports of the package run one way.
 *
 * @module
 */

/** Session data: a JSON object. Values must survive `JSON.stringify`. */
export type SessionData = Record<string, unknown>;

/** Where warnings and errors go. Messages never carry a secret, a session id or session data. */
export interface SessionLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** What the layer reports through `onEvent`, for metrics and alerts. Never carries ids or data. */
export type SessionEvent =
  /** The store held an older version than the cookie names (a lagging replica, or a lost backup). */
  | { type: "stale-read"; storedVersion: number; cookieVersion: number }
  /** A compare-and-set write found a newer version and merged onto it. */
  | { type: "write-conflict"; attempt: number }
  /** A write was given up: the session was destroyed meanwhile, or conflicts did not stop. */
  | { type: "write-dropped"; reason: "destroyed" | "conflicts" }
  /** A store write failed; the session stays in memory and is retried. */
  | { type: "backup-failed" };
