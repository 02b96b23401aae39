/**
 * Types every layer shares. This module imports nothing at run time, so every other module can import
 * it and the imports of the package run one way.
 *
 * @module
 */

/** Session data: a JSON object. Values must survive `JSON.stringify`. */
export type SessionData = Record<string, unknown>;

/** What a handler gets as `c.var.session`. The session loads on first use; a request that never uses it costs nothing. */
export interface Session<T extends SessionData = SessionData> {
  /** The whole data object. It is this request's own copy: mutate it freely, changes are saved after the handler. */
  get(): Promise<T>;
  /** One value (an object value is this request's own copy; changes to it are saved). */
  get<K extends keyof T & string>(key: K): Promise<T[K] | undefined>;
  set<K extends keyof T & string>(key: K, value: T[K]): Promise<void>;
  delete(key: keyof T & string): Promise<void>;
  /**
   * Moves the session to a new id (session fixation defence, e.g. at login) and retires the old one: a
   * request holding only the old id never learns the new id nor sees anything written after this call.
   * Waits until the store holds both.
   */
  regenerate(): Promise<void>;
  /** Ends the session in memory and in the store (for good: it cannot be written back), and clears the cookie. Waits for the store. */
  destroy(): Promise<void>;
  /** Saves now and waits until the store holds the session (e.g. before answering a login); rejects if it could not. */
  commit(): Promise<void>;
  /**
   * Applies `fn` to the newest stored data (it may mutate its argument or return new data) and saves the
   * result at once with compare-and-set, running `fn` again only if another request wrote in between
   * (never twice for one landed write). Returns the saved data. Changes this request made with
   * `set`/`delete` are kept on top. Use it for every read-modify-write of one key (a counter, a cart).
   */
  update(fn: (data: T) => T | void): Promise<T>;
  /**
   * Ties the session to a user (at login; `undefined` unties it). Saved with the session, sealed, and, on a
   * store that keeps user indexes, indexed for `listSessions()` and `revokeAllSessions()`.
   */
  setUser(userId: string | undefined): Promise<void>;
  /** The user the session is tied to, if any. */
  getUser(): Promise<string | undefined>;
  /**
   * The live sessions of a user (by default the one this session is tied to): an opaque handle for each,
   * never a session id. Needs a store that keeps user indexes (`SessionIndexUnsupportedError` otherwise).
   */
  listSessions(userId?: string): Promise<SessionInfo[]>;
  /** Ends one session of a user, by the handle `listSessions()` gave: at once, on every isolate within the staleness bound. */
  revokeSession(handle: string, userId?: string): Promise<boolean>;
  /** Ends every session of a user ("log out everywhere"), or all but this one with `keepCurrent`. Answers how many. */
  revokeAllSessions(options?: { userId?: string; keepCurrent?: boolean }): Promise<number>;
}

/** One of a user's sessions, as "your sessions" lists it. */
export interface SessionInfo {
  /** Opaque and stable; cannot be turned into the session id. */
  handle: string;
  createdAt: number;
  /** When the session was last used, to within the store expiry's refresh interval. */
  lastSeenAt: number;
  expiresAt: number;
  /** The session this request holds. */
  current: boolean;
}

/**
 * Sets `object[key]` as an own data property. Plain assignment would, for the key `"__proto__"` (which
 * JSON.parse keeps as an ordinary member of user-supplied data), replace the object's prototype instead.
 */
export function setOwn(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__")
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  else object[key] = value;
}

/** Where warnings and errors go. Messages never carry a secret, a session id or session data. */
export interface SessionLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** Where the layer reports: the logger and the metrics hook (the configuration is one). */
export interface Reporting {
  logger: SessionLogger;
  onEvent(event: SessionEvent): void;
}

/** Why a write did not land. */
export type DropReason =
  /** The session was destroyed while the request ran. */
  | "destroyed"
  /** The session was regenerated while the request ran: its old id takes no more writes. */
  | "regenerated"
  /** The session expired in the store before the write. */
  | "expired"
  /** The store held a value that does not open, or whose parts disagree. */
  | "tampered";

/** What the layer reports through `onEvent`, for metrics and alerts. Never carries ids or data. */
export type SessionEvent =
  /** Served from this isolate's memory without asking the store (confirmed within the staleness bound). */
  | { type: "hit" }
  /** Past the staleness bound: one conditional read confirmed the memory entry (`changed: false`) or replaced it. */
  | { type: "revalidated"; changed: boolean; durationMs: number }
  /** Not in memory: read from the store (`found: false` when the store held no live session). */
  | { type: "miss"; found: boolean; durationMs: number }
  /** A changed session landed in the store (`deferred`: after the response; `merges`: onto concurrent writes). */
  | { type: "write"; deferred: boolean; attempts: number; merges: number; durationMs: number }
  /** A compare-and-set write found a newer version and merged onto it. */
  | { type: "write-conflict"; attempt: number }
  /** A merge replaced top-level keys that a concurrent request had also changed (the later write won). */
  | { type: "write-overwrite"; keys: number }
  /** A write was given up, for `reason`; the user's cookie is left as the store decides. */
  | { type: "write-dropped"; reason: DropReason }
  /** A change was not saved: larger than `maxSessionBytes`, or data JSON cannot hold. The last saved version stands. */
  | { type: "write-rejected"; reason: "too-large" | "unserialisable" }
  /**
   * The store stayed behind the version the cookie names after the wait, or this isolate's own write of the
   * session stayed unanswered (`storedVersion`: the version served, or refused; `served`: it was served).
   */
  | { type: "stale-read"; storedVersion: number; cookieVersion: number; waitedMs: number; served: boolean }
  /** A store call failed (`misconfigured`: for a reason waiting will not fix). */
  | { type: "store-failure"; operation: "read" | "write" | "mark" | "refresh"; misconfigured: boolean };
