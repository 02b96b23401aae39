export { session, type SessionEnv, type SessionVariables } from "./session.js";
export type { Session, SessionData } from "./session-handle.js";
export {
  parseConfig,
  bindingPrefix,
  MIN_SECRET_LENGTH,
  type ExtSessionMgt,
  type SessionConfig,
  type SessionCookieOptions,
  type SessionLogger,
  type SessionOptions,
  type StoreUnavailablePolicy,
  type SessionEvent,
} from "./config.js";
export { SessionConfigError, SealError, SessionUnavailableError } from "./errors.js";
export { RedisStore, RedisStoreError, type RedisStoreOptions } from "./stores/redis.js";
export { StoreTimeoutError } from "./stores/guarded-store.js";
export type { StoredVersion, UserCustomStore, UserCustomStoreModule, VersionedStore } from "./stores/types.js";
export { isVersionedStore } from "./stores/types.js";
