/**
 * hono-edge-session: sessions for Hono on the edge, kept in the isolate's memory and backed up, sealed,
 * to an external store.
 *
 * - `session()`: the middleware; `c.var.session` in every route.
 * - Stores: bring one (`options.store`, or a custom store module named by `externalStoreFilePath`), or
 *   use `hono-edge-session/redis` (Redis over REST) or `hono-edge-session/durable-object`.
 * - `hono-edge-session/testing`: the conformance suite for store authors.
 *
 * @module
 */
export { session, type SessionEnv, type SessionVariables } from "./request/middleware.js";
export type { DropReason, Session, SessionData, SessionEvent, SessionInfo, SessionLogger } from "./types.js";
export type { SameSite, SessionCookieOptions, SessionOptions, StoreUnavailablePolicy } from "./config/options.js";
export { MIN_SECRET_LENGTH, type ExtSessionMgt } from "./config/ext-session-mgt.js";
export {
  RedisStoreError,
  SealError,
  SessionError,
  SessionConfigError,
  SessionDataError,
  SessionIndexUnsupportedError,
  SessionNotSavedError,
  SessionTooLargeError,
  SessionUnavailableError,
  StoreMisconfiguredError,
  StoreTimeoutError,
} from "./errors.js";
export type {
  RedisStoreContext,
  RedisStoreFactory,
  IndexChange,
  IndexedStore,
  IndexEntry,
  IndexLimits,
  RevalidatingStore,
  StoredVersion,
  UserCustomStore,
  UserCustomStoreModule,
  UserIndex,
  VersionedStore,
} from "./stores/types.js";
export { confirmsWithCutoff, isIndexedStore, isRevalidatingStore, isVersionedStore } from "./stores/types.js";
export { MemoryStore } from "./stores/memory-store.js";
