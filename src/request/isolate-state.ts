// Replaced at build time by the generated module naming the custom store (see bin/hono-edge-session-store.mjs).
import { bundledStore } from "hono-edge-session/custom-store";
import type { SessionOptions } from "../config/options.js";
import { parseConfig, type SessionConfig } from "../config/parse-config.js";
import { storeFromBundle } from "../custom-store/bundled-store.js";
import { ENVELOPE_ROOM_BYTES } from "../sealing/envelope.js";
import { deriveKeyRing } from "../sealing/keys.js";
import { GuardedStore } from "../stores/guarded-store.js";
import type { UserCustomStore } from "../stores/types.js";
import type { LoadDeps } from "../tiers/load.js";
import { MemoryTier } from "../tiers/memory-tier.js";
import type { SaveDeps } from "../tiers/save.js";
import { StoreTier } from "../tiers/store-tier.js";
import { WriteQueue } from "../tiers/write-queue.js";
import { CompareAndSetWriter } from "../tiers/writers/compare-and-set.js";
import { LastWriterWinsWriter } from "../tiers/writers/last-writer-wins.js";
import type { SessionWriter } from "../tiers/writers/session-writer.js";
import { SessionCookies } from "./session-cookie.js";

/** Everything a session middleware keeps for the life of the isolate. None of it holds a request's I/O. */
export interface IsolateState {
  config: SessionConfig;
  cookies: SessionCookies;
  /** What loading and saving use: the tiers, the writer and the policies (one object serves both). */
  tiers: LoadDeps & SaveDeps;
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

/** The rest, around them; the keys take a moment (Web Crypto is asynchronous). */
export async function createIsolateState({ config, store }: Configured): Promise<IsolateState> {
  const ring = await deriveKeyRing(config.secret, config.previousSecrets);
  const plaintextBound = config.maxSessionBytes + ENVELOPE_ROOM_BYTES;
  const tier = new StoreTier(ring, store, config.logger, config.timeoutMinutes, plaintextBound);
  const memory = new MemoryTier(config.memoryMaxBytes, (count) =>
    config.logger.error(
      `hono-edge-session: memory tier full of sessions the store does not hold yet; dropped ${count} (raise memoryMaxBytes or fix the store)`,
    ),
  );
  return {
    config,
    cookies: new SessionCookies(config, ring),
    tiers: {
      memory,
      writes: new WriteQueue(),
      tier,
      writer: chooseWriter(store, tier, config),
      report: config,
      timeoutMinutes: config.timeoutMinutes,
      awaitWrites: config.awaitWrites,
      maxSessionBytes: config.maxSessionBytes,
      regenerateGraceSeconds: config.regenerateGraceSeconds,
      policy: {
        maxStalenessMs: config.maxStalenessMs,
        staleReadWaitMs: config.staleReadWaitMs,
        onStaleRead: config.onStaleRead,
        onStoreUnavailable: config.onStoreUnavailable,
        refreshIntervalMs: config.timeoutMinutes * 60_000 * config.ttlRefreshFraction,
        absoluteTimeoutMs:
          config.absoluteTimeoutMinutes === undefined ? undefined : config.absoluteTimeoutMinutes * 60_000,
      },
    },
  };
}

/** Compare-and-set when the store can (and the options allow), else last-writer-wins: decided once. */
function chooseWriter(store: GuardedStore, tier: StoreTier, config: SessionConfig): SessionWriter {
  if (!store.versioned) return new LastWriterWinsWriter(tier, config.timeoutMinutes, config.maxSessionBytes);
  // Markers outlive any copy of the session an isolate could still hold as live (at most one timeout).
  return new CompareAndSetWriter(
    tier,
    { dataMinutes: config.timeoutMinutes, markerMinutes: 2 * config.timeoutMinutes },
    config.onEvent,
    config.maxSessionBytes,
  );
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
