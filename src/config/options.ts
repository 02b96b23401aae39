import type { SessionEvent, SessionLogger } from "../types.js";
import type { RedisStoreFactory, UserCustomStore } from "../stores/types.js";
import type { ExtSessionMgt } from "./ext-session-mgt.js";

export type SameSite = "Strict" | "Lax" | "None";

/** Attributes of the session cookie. It is always `HttpOnly`. */
export interface SessionCookieOptions {
  /**
   * Send the cookie over HTTPS only. Turn it off only for plain-HTTP local development.
   * @default true
   */
  secure?: boolean;
  /**
   * `SameSite` attribute. `"None"` needs `secure: true` (browsers drop it otherwise).
   * @default "Lax"
   */
  sameSite?: SameSite;
  /**
   * `Path` attribute; must start with `/`.
   * @default "/"
   */
  path?: string;
  /**
   * `Partitioned` attribute (CHIPS: a cookie kept per top-level site, for an app embedded in another
   * site's page). Needs `secure: true`.
   * @default false
   */
  partitioned?: boolean;
  /**
   * `Domain` attribute, to share the session with subdomains. Not allowed with a `__Host-` cookie name.
   * @default none: a host-only cookie
   * @example "example.com"
   */
  domain?: string;
}

/** What a session does when a valid cookie arrives but the store cannot be read. */
export type StoreUnavailablePolicy =
  /** Answer 503 and keep the user's cookie, so their stored session is neither lost nor overwritten. */
  | "reject"
  /** Carry on with a new, empty session under a new id; the stored one stays untouched in the store. */
  | "new-session";

/**
 * Options of `session()`. Every option can be given in code; the application router's bindings
 * (`EXT_SESSION_MGT`, `SESSION_TIMEOUT`, `SESSION_COOKIE_NAME` and the Redis credential bindings) supply
 * what code leaves out, and an option given in code wins over its binding.
 *
 * `Bindings` types the bindings `store` receives (as Hono's `Bindings` types `c.env`; untyped, as there,
 * they are `any`): `session<Data, Env>({ store: (env) => new DurableObjectStore(env.SESSION_STORE) })`.
 */
export interface SessionOptions<Bindings = any> {
  /**
   * The application router's configuration, instead of the `EXT_SESSION_MGT` binding: an object or its JSON.
   * @default the `EXT_SESSION_MGT` binding
   * @example { instanceName: "approuter-redis", storageType: "redis", sessionSecret: env.SESSION_SECRET }
   * @see https://help.sap.com/docs/btp/sap-business-technology-platform/external-session-management
   */
  extSessionMgt?: ExtSessionMgt | string;
  /**
   * The shared secret every key is derived from: at least 64 characters. Keep it in a secret binding.
   * @default `EXT_SESSION_MGT.sessionSecret`
   */
  secret?: string;
  /**
   * Secrets used before the current one, newest first: what they sealed and signed still opens (and is
   * sealed and signed again with the current secret on its next write, in place: store keys do not depend
   * on the secret). Remove a secret to end the sessions only it can open.
   * @default the `SESSION_PREVIOUS_SECRETS` binding (a JSON array of strings), else none
   * @example previousSecrets: [env.OLD_SESSION_SECRET]
   */
  previousSecrets?: string[];
  /**
   * Namespaces the store's keys (and names the Redis credential bindings).
   * @default `EXT_SESSION_MGT.instanceName`, else `"sessions"`
   */
  instanceName?: string;
  /**
   * A store, or a function of the bindings that makes one (called once per isolate, on its first request,
   * when the bindings arrive): wins over any store the configuration names.
   * @default the custom store `EXT_SESSION_MGT.externalStoreFilePath` names, else Redis (see `redis`)
   * @example store: (env) => new DurableObjectStore(env.SESSION_STORE) // from "hono-edge-session/durable-object"
   */
  store?: UserCustomStore | ((bindings: Bindings) => UserCustomStore);
  /**
   * The Redis store used when the configuration names Redis (`storageType: "redis"` and no custom store).
   * Kept out of the core so that apps on other stores ship no Redis client.
   * @default none: a configuration naming Redis then fails, saying to set this
   * @example redis: redisStore() // from "hono-edge-session/redis"; credentials from the bindings
   */
  redis?: RedisStoreFactory;
  /**
   * Idle timeout, in milliseconds: a session not used for this long ends, in memory and in the store.
   * @default the `SESSION_TIMEOUT` binding (minutes, as in the application router), else 15 minutes
   */
  idleTimeoutMs?: number;
  /**
   * Name of the session cookie (the version cookie is named after it, with `_v`). A `__Host-` name (the
   * browser then binds the cookie to this host, HTTPS only) needs `secure: true`, path `/` and no domain; a
   * `__Secure-` name needs `secure: true`.
   * @default the `SESSION_COOKIE_NAME` binding, else `"JSESSIONID"` (as in the application router)
   * @example "__Host-session"
   */
  cookieName?: string;
  /** Cookie attributes; see `SessionCookieOptions`. */
  cookie?: SessionCookieOptions;
  /**
   * The largest session, in bytes of JSON. A change past it is not saved (`commit()` rejects with
   * `SessionTooLargeError`; otherwise it is logged and reported, and the session keeps its last saved
   * version); a stored session that would open past it is refused while it is inflated.
   * @default 131072 (128 KiB)
   */
  maxSessionBytes?: number;
  /**
   * Upper bound of the per-isolate memory tier, in bytes (an estimate: 4 bytes per character of session
   * JSON plus a fixed overhead per entry).
   * @default 8 MiB
   */
  memoryMaxBytes?: number;
  /**
   * An unchanged session's store expiry is refreshed at most once per this fraction of the timeout.
   * @default 0.25
   */
  ttlRefreshFraction?: number;
  /**
   * What to do when a cookie names a session but the store cannot be read.
   * @default "reject"
   */
  onStoreUnavailable?: StoreUnavailablePolicy;
  /**
   * Longest wait for one store call, in milliseconds; a slower call counts as a store failure.
   * @default 3000
   */
  storeTimeoutMs?: number;
  /**
   * Where warnings and errors go.
   * @default console
   */
  logger?: SessionLogger;
  /**
   * Metrics hook: hits, misses, revalidations, writes (with their merges), conflicts, overwrites, dropped
   * and rejected writes, stale reads and store failures, with durations where they apply (see
   * `SessionEvent`). It never receives ids or data. Keep it cheap: it runs on the request path. If it throws,
   * the error is logged and ignored: the request, its session and its write go on.
   * @example onEvent: (event) => env.SESSION_METRICS.writeDataPoint({ indexes: [event.type], blobs: [event.type] })
   */
  onEvent?: (event: SessionEvent) => void;
  /**
   * Add a `Server-Timing` header to every response that used its session: the tier that served it (hit,
   * revalidated, miss, new), store round trips and their time, seal and unseal time, and whether the write
   * was deferred. No ids, no data. Browsers show it in their developer tools.
   * @default false
   */
  serverTiming?: boolean;
  /**
   * Absolute session lifetime, in milliseconds, however active the session is (regenerate does not reset it).
   * @default none
   */
  absoluteTimeoutMs?: number;
  /**
   * The most sessions one user keeps (on a store with user indexes): a login past it ends that user's
   * sessions tied longest ago.
   * @default 100
   */
  maxSessionsPerUser?: number;
  /**
   * The staleness bound, in milliseconds: a memory-tier entry is served without asking the store only
   * while it was confirmed against the store this recently; past it, one conditional read (a few bytes when
   * nothing changed) confirms or replaces it. So destroy, regenerate and other isolates' writes reach every
   * isolate within this bound. 0 asks the store on every request.
   * @default 5000
   */
  maxStalenessMs?: number;
  /**
   * When a cookie names a newer write than the store holds (a write still on its way from another isolate),
   * how long to wait for it, in milliseconds, reading again a little later each time (the pauses between
   * reads count, the reads do not).
   * @default 100
   */
  staleReadWaitMs?: number;
  /**
   * When the store is still behind the cookie after that wait (the write was lost, or a value was put back):
   * `"serve"` the newest version the store has, logged and reported as `stale-read`; or `"reject"` with a
   * 503, once: either way the version cookie then names what the store holds (the claim is settled), so
   * no later request waits for it again.
   * @default "serve"
   */
  onStaleRead?: "serve" | "reject";
  /**
   * Wait for the store before answering a request that changed its session. By default the change goes
   * into the memory tier and the cookies before the response, and the store write (with its merge) runs
   * after it (`waitUntil`). `commit()`, `update()`, `regenerate()` and `destroy()` always wait.
   * @default false
   */
  awaitWrites?: boolean;
  /**
   * Use the store's compare-and-set when it has one, so concurrent writers merge instead of overwriting
   * each other. `false` falls back to last-writer-wins.
   * @default true
   */
  versionedWrites?: boolean;
}
