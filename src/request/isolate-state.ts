// Replaced at build time by the generated module naming the custom store (see bin/hono-edge-session-store.mjs).
import { bundledStore } from "hono-edge-session/custom-store";
import type { SessionOptions } from "../config/options.js";
import { parseConfig, type SessionConfig } from "../config/parse-config.js";
import { storeFromBundle } from "../custom-store/bundled-store.js";
import { deriveKeys, type SessionKeys } from "../sealing/keys.js";
import { MemoryTier } from "../tiers/memory-tier.js";
import { VerifiedCookies } from "./session-cookie.js";
import { Backups } from "../tiers/backups.js";
import { GuardedStore } from "../stores/guarded-store.js";
import type { UserCustomStore } from "../stores/types.js";

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

/** The store the configuration chose (see `StoreSource`). */
function chooseStore(config: SessionConfig): UserCustomStore {
  const source = config.store;
  switch (source.kind) {
    case "instance":
      return source.store;
    case "custom":
      return storeFromBundle(source.path, config.storageType, bundledStore);
    case "redis":
      return source.factory.create({
        namespace: config.instanceName,
        url: source.credentials.url,
        token: source.credentials.token.reveal(),
        tokenName: source.credentials.tokenName,
        timeoutMs: config.storeTimeoutMs,
      });
  }
}
