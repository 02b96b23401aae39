// Replaced at build time by the generated module naming the custom store (see bin/hono-edge-session-store.mjs).
import { bundledStore } from "hono-edge-session/custom-store";
import type { SessionOptions } from "../config/options.js";
import { parseConfig, type SessionConfig } from "../config/parse-config.js";
import { storeFromBundle } from "../custom-store/bundled-store.js";
import { BoundedMap } from "../bounded-map.js";
import { CutoffCache, type Engine, type ReadFailure } from "../engine/engine.js";
import type { Runtime } from "../engine/ports.js";
import type { Policy } from "../protocol/types.js";
import { ENVELOPE_ROOM_BYTES } from "../sealing/envelope.js";
import { deriveKeyRing } from "../sealing/keys.js";
import { newSessionId, newWriteTag } from "../sealing/session-id.js";
import { GuardedStore } from "../stores/guarded-store.js";
import type { UserCustomStore } from "../stores/types.js";
import { MemoryTier } from "../tiers/memory-tier.js";
import { StoreTier } from "../tiers/store-tier.js";
import { SessionCookies } from "./session-cookie.js";

/** Everything a session middleware keeps for the life of the isolate. None of it holds a request's I/O. */
export interface IsolateState {
  config: SessionConfig;
  cookies: SessionCookies;
  engine: Engine;
}

/**
 * The configuration and the store, built on the first request (bindings arrive with it, and workerd refuses
 * random values at module scope): made synchronously, so an isolate makes them once, however many requests
 * come first.
 */
export interface Configured {
  config: SessionConfig;
  store: GuardedStore;
}

export function configure(bindings: Record<string, unknown>, options: SessionOptions): Configured {
  const config = parseConfig(bindings, options);
  return { config, store: new GuardedStore(chooseStore(config), config.storeTimeoutMs, config.versionedWrites) };
}

/** Workers' (and Node's) clock, timers and randomness. */
export const realRuntime: Runtime = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  newId: newSessionId,
  newTag: newWriteTag,
  random: () => Math.random(),
};

/** The protocol's policy, from the configuration. */
export function policyOf(config: SessionConfig, merges: boolean): Policy {
  return {
    maxStalenessMs: config.maxStalenessMs,
    staleReadWaitMs: config.staleReadWaitMs,
    onStaleRead: config.onStaleRead,
    idleTimeoutMs: config.idleTimeoutMs,
    absoluteTimeoutMs: config.absoluteTimeoutMs,
    refreshIntervalMs: config.idleTimeoutMs * config.ttlRefreshFraction,
    // Markers and cut-offs outlive any copy of the session an isolate could still hold as live.
    markerTtlMs: 2 * config.idleTimeoutMs,
    maxSessionBytes: config.maxSessionBytes,
    merges,
  };
}

/** The rest, around them; the keys take a moment (Web Crypto is asynchronous). */
export async function createIsolateState({ config, store }: Configured, runtime = realRuntime): Promise<IsolateState> {
  const ring = await deriveKeyRing(config.secret, config.previousSecrets);
  const policy = policyOf(config, store.versioned);
  const tier = new StoreTier(
    ring,
    store,
    config.logger,
    runtime.now,
    config.idleTimeoutMs,
    config.maxSessionBytes + ENVELOPE_ROOM_BYTES,
    // An index entry stays a refresh interval past its session (see entryExpiry).
    { maxEntries: config.maxSessionsPerUser, keepMs: policy.markerTtlMs, graceMs: policy.refreshIntervalMs },
  );
  const memory = new MemoryTier(config.memoryMaxBytes, runtime.now, (count) =>
    config.logger.error(
      `hono-edge-session: memory tier full of sessions the store does not hold yet; dropped ${count} (raise memoryMaxBytes or fix the store)`,
    ),
  );
  return {
    config,
    cookies: new SessionCookies(config, ring),
    engine: {
      runtime,
      store: tier,
      memory,
      writing: new Map(),
      cutoffs: new CutoffCache(),
      readFailures: new BoundedMap<string, ReadFailure>(10_000),
      policy,
      report: config,
      awaitWrites: config.awaitWrites,
      onStoreUnavailable: config.onStoreUnavailable,
      maxSessionsPerUser: config.maxSessionsPerUser,
    },
  };
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
