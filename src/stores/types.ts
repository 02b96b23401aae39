/**
 * The application router's custom store contract, typed for this package. A store moves opaque strings by
 * key and knows nothing of sessions, cookies or crypto:
 * - `sessionId` is already a keyed hash of the real session id, so a dump of the store holds no usable id;
 * - `session` is the sealed session (encrypted and compressed), and `get` must return exactly what `set`
 *   received;
 * - `timeout` is in minutes (like `SESSION_TIMEOUT`), `ttl` answers in seconds (-2 missing, -1 no expiry).
 */
export interface UserCustomStore {
  /** Delete every session of this store's namespace. */
  clear(): Promise<void>;
  /** Remove one session. */
  destroy(sessionId: string): Promise<void>;
  /** The sealed session, or `null` if there is none (or it expired). */
  get(sessionId: string): Promise<string | null>;
  /** Number of sessions in this store's namespace. */
  length(): Promise<number>;
  /** Seconds until the session expires; -2 if it does not exist, -1 if it never expires. */
  ttl(sessionId: string): Promise<number>;
  /** Store the sealed session, expiring `timeout` minutes from now. */
  set(sessionId: string, session: string, timeout: number): Promise<void>;
  /** Whether the session exists (may be synchronous). */
  exists(sessionId: string): boolean | Promise<boolean>;
  /** Make an existing session expire `timeout` minutes from now (may be synchronous). */
  resetTimer(sessionId: string, timeout: number): void | Promise<void>;
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
}

/**
 * The optional compare-and-set capability. A store that has it gets the consistency guarantees of the
 * README (no lost updates, destroy is final, regenerate with a grace window); one without it gets
 * last-writer-wins.
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
