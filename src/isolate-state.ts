// Replaced at build time by the generated module naming the custom store (see bin/hono-edge-session-store.mjs).
import { bundledStore } from "hono-edge-session/custom-store";
import { parseConfig, type SessionConfig, type SessionOptions } from "./config.js";
import { storeFromBundle } from "./custom-store/bundled-store.js";
import { deriveKeys, type SessionKeys } from "./keys.js";
import { MemoryTier } from "./memory-tier.js";
import { VerifiedCookies } from "./session-cookie.js";
import { Backups } from "./backups.js";
import { GuardedStore } from "./stores/guarded-store.js";
import { RedisStore } from "./stores/redis.js";
import type { UserCustomStore } from "./stores/types.js";

/** Everything a session middleware keeps for the life of the isolate. */
export interface IsolateState {
  config: SessionConfig;
  keys: SessionKeys;
  store: GuardedStore;
  memory: MemoryTier;
  backups: Backups;
  verifiedCookies: VerifiedCookies;
}

/** Built on the first request (bindings arrive with it, and workerd refuses random values at module scope). */
export async function createIsolateState(
  bindings: Record<string, unknown>,
  options: SessionOptions,
): Promise<IsolateState> {
  const config = parseConfig(bindings, options);
  const keys = await deriveKeys(config.secret);
  const store = new GuardedStore(chooseStore(config), config.storeTimeoutMs, config.versionedWrites);
  const memory = new MemoryTier(config.memoryMaxBytes, config.timeoutMinutes * 60_000, (count) =>
    config.logger.error(
      `hono-edge-session: memory tier full of sessions the store does not hold yet; dropped ${count} (raise memoryMaxBytes or fix the store)`,
    ),
  );
  const backups = new Backups(config, keys, store, memory);
  return { config, keys, store, memory, backups, verifiedCookies: new VerifiedCookies() };
}

/** A store passed in code wins; then the custom store the configuration names; then Redis over REST. */
function chooseStore(config: SessionConfig): UserCustomStore {
  if (config.store !== undefined) return config.store;
  if (config.externalStoreFilePath !== undefined) {
    return storeFromBundle(config.externalStoreFilePath, config.storageType, bundledStore);
  }
  return new RedisStore({
    url: config.redis!.url,
    token: config.redis!.token.reveal(),
    tokenName: config.redis!.tokenName,
    namespace: config.instanceName,
    timeoutMs: config.storeTimeoutMs,
  });
}
