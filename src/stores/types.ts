/**
 * The application router's custom store contract, typed for this package. A store moves opaque strings by
 * key and knows nothing of sessions, cookies or crypto:
 * - `sessionId` is already a keyed hash of the real session id, so a dump of the store holds no usable id;
 * - `session` is the sealed session (encrypted and compressed), and `get` must return exactly what `set`
 *   received;
 * - `timeout` is in minutes (like `SESSION_TIMEOUT`), `ttl` answers in seconds (-2 missing, -1 no expiry).
 *
 * Required: `get`, `set`, `destroy`, `resetTimer`. The others are the application router's too, but the
 * layer never calls them: a store may leave them out (the Durable Object store cannot count or clear).
 */
export interface UserCustomStore {
  /** The sealed session, or `null` if there is none (or it expired). */
  get(sessionId: string): Promise<string | null>;
  /** Store the sealed session, expiring `timeout` minutes from now. */
  set(sessionId: string, session: string, timeout: number): Promise<void>;
  /** Remove one session. */
  destroy(sessionId: string): Promise<void>;
  /** Make an existing session expire `timeout` minutes from now (may be synchronous). */
  resetTimer(sessionId: string, timeout: number): void | Promise<void>;
  /** Delete every session of this store's namespace. */
  clear?(): Promise<void>;
  /** Number of sessions in this store's namespace. */
  length?(): Promise<number>;
  /** Seconds until the session expires; -2 if it does not exist, -1 if it never expires. */
  ttl?(sessionId: string): Promise<number>;
  /** Whether the session exists (may be synchronous). */
  exists?(sessionId: string): boolean | Promise<boolean>;
}

/** What a custom store module exports (ESM `export function getStore`, or CommonJS `module.exports.getStore`). */
export interface UserCustomStoreModule {
  getStore(): UserCustomStore;
}

/** What a versioned store holds under a key when a conditional write did not happen. */
export interface StoredVersion {
  /** 0 when nothing is stored (never written, or expired). */
  version: number;
  session: string | null;
  /** Milliseconds until it expires, if the store can tell (lets isolates know the real expiry). */
  ttlMs?: number;
}

/**
 * The optional compare-and-set capability. A store that has it gets the consistency guarantees of the
 * docs (no lost updates, destroy is final, regenerate retires the old id for good); one without it gets
 * last-writer-wins. The version is a plain number beside the opaque session; the layer checks it against
 * the version sealed inside the session, so a store cannot make it lie.
 */
export interface VersionedStore extends UserCustomStore {
  /**
   * Atomically: if the version stored under `sessionId` is `expectedVersion` (0: nothing stored), store
   * `session` as `version`, expiring `timeout` minutes from now, and answer `null`. Otherwise change nothing
   * and answer what is stored.
   */
  setIfVersion(
    sessionId: string,
    expectedVersion: number,
    version: number,
    session: string,
    timeout: number,
  ): Promise<StoredVersion | null>;
}

export function isVersionedStore(store: UserCustomStore): store is VersionedStore {
  return typeof (store as Partial<VersionedStore>).setIfVersion === "function";
}

/**
 * The optional conditional-read capability of a versioned store. An isolate confirms its copy of a
 * session against the store at most once per staleness bound; with this, the confirmation costs a few
 * bytes when nothing changed, and the expiry of exactly the version the isolate knows can be pushed
 * forward in the same atomic step (never a tombstone's or a newer version's).
 */
export interface RevalidatingStore extends VersionedStore {
  /**
   * Atomically: if the version stored under `sessionId` is `knownVersion`, answer `null` (and, with
   * `refreshTimeout`, make it expire `refreshTimeout` minutes from now); otherwise change nothing and
   * answer what is stored (`{ version: 0, session: null }` when nothing is).
   */
  getIfChanged(sessionId: string, knownVersion: number, refreshTimeout?: number): Promise<StoredVersion | null>;
}

export function isRevalidatingStore(store: UserCustomStore): store is RevalidatingStore {
  return isVersionedStore(store) && typeof (store as Partial<RevalidatingStore>).getIfChanged === "function";
}

/** What the layer hands a Redis store factory: where the keys live and how to reach the REST service. */
export interface RedisStoreContext {
  /** Key namespace (`instanceName`). */
  namespace: string;
  /** REST URL and token, as configured. */
  url: string;
  token: string;
  /** Where the token came from (a binding name), for the error that says a refused token must be fixed there. */
  tokenName: string;
  /** Longest wait for one call, in milliseconds. */
  timeoutMs: number;
}

/**
 * Builds the Redis store when the configuration names Redis; `redisStore()` from
 * `hono-edge-session/redis` makes one. Credentials given here win over the credential bindings.
 */
export interface RedisStoreFactory {
  readonly credentials?: { url: string; token: string };
  create(context: RedisStoreContext): UserCustomStore;
}

/** One change to a user's index: the store applies it as given (see `IndexedStore`). */
export interface IndexChange {
  /** The user's index (a keyed hash of the user id: the store never sees the id). */
  userKey: string;
  /** The session's opaque handle (a keyed hash of its id). */
  handle: string;
  /**
   * `put`: add or replace the entry (opaque, sealed) expiring at `expiresAt`; `touch`: move an existing
   * entry's expiry to `expiresAt` (nothing if there is none); `remove`: take it out.
   */
  op: "put" | "touch" | "remove";
  entry?: string;
  /** Milliseconds since the epoch. */
  expiresAt?: number;
  /**
   * `put`: when the session was tied to this user (ms since the epoch), plain: what `maxEntries` evicts by
   * and what `revokeBefore` compares. A put without it keeps the entry's `since`, or takes the time of the change.
   */
  since?: number;
}

/** A live entry of a user's index. */
export interface IndexEntry {
  handle: string;
  entry: string;
  expiresAt: number;
  since: number;
}

/** What a user's record holds: the live entries and the cut-off. */
export interface UserIndex {
  entries: IndexEntry[];
  /** Sessions tied to the user before this time (ms) are revoked; 0 if none. */
  revokedBefore: number;
}

export interface IndexLimits {
  /**
   * Most entries one user may have; past it the entries with the oldest `since` go, and the user's
   * revokedBefore rises to just past the newest `since` removed (so those sessions end).
   */
  maxEntries: number;
  /**
   * How long (minutes) a user's record (index and cut-off) lives at least after its last change; it also
   * lives as long as its longest-lived entry.
   */
  keepMinutes: number;
  /**
   * How long (minutes) an entry outlives its session (the layer keeps entries a refresh interval past their
   * session's expiry). Only entries with more than this left stand for live sessions: only they count
   * toward `maxEntries`, so an expired session's entry never makes a login end a live one. 0 if absent.
   */
  graceMinutes?: number;
}

/**
 * The optional user-index capability: "your sessions" and "log out everywhere". The store keeps, per
 * user, a record: the entries of the user's sessions and a cut-off (`revokedBefore`). A live entry has not
 * expired and was tied at or after the cut-off: the others are pruned as the record changes and never
 * returned. Without the capability a session still keeps its user (sealed in the session), but sessions
 * cannot be listed or revoked by user.
 */
export interface IndexedStore extends RevalidatingStore {
  /**
   * Applies the changes (each names its user) in order, prunes entries that are no longer live, enforces
   * `maxEntries`, and keeps each changed record at least `keepMinutes`. Atomic per user where the store can.
   */
  changeIndex(changes: IndexChange[], limits: IndexLimits): Promise<void>;
  /** The user's live entries and cut-off (0 if none). */
  readIndex(userKey: string): Promise<UserIndex>;
  /**
   * Every session of the user tied before `time` is revoked: raises the cut-off (never lowers it); the
   * record lives at least `keepMinutes` more.
   */
  revokeBefore(userKey: string, time: number, keepMinutes: number): Promise<void>;
  /** The user's cut-off (0 if none): read on session confirmations, so it is one cheap call. */
  revokedBefore(userKey: string): Promise<number>;
  /**
   * Optional: `getIfChanged` and the highest cut-off of `userKeys`, in one call. A confirmation of a session
   * tied to a user needs both; without this method the layer makes the two calls at once (two subrequests).
   */
  getIfChangedWithCutoff?(
    sessionId: string,
    knownVersion: number,
    refreshTimeout: number | undefined,
    userKeys: string[],
  ): Promise<{ stored: StoredVersion | null; revokedBefore: number }>;
}

/** A store that confirms a session and its user's cut-off in one call. */
export function confirmsWithCutoff(
  store: UserCustomStore,
): store is IndexedStore & Required<Pick<IndexedStore, "getIfChangedWithCutoff">> {
  return isIndexedStore(store) && typeof store.getIfChangedWithCutoff === "function";
}

const INDEX_METHODS = ["changeIndex", "readIndex", "revokeBefore", "revokedBefore"] as const;

export function isIndexedStore(store: UserCustomStore): store is IndexedStore {
  return (
    isRevalidatingStore(store) &&
    INDEX_METHODS.every((method) => typeof (store as Partial<IndexedStore>)[method] === "function")
  );
}
