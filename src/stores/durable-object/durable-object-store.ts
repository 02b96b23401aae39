import { minutesToMillis } from "../minutes.js";
import type { StoredVersion, VersionedStore } from "../types.js";
import type { SessionStoreObject } from "./session-store-object.js";

export interface DurableObjectStoreOptions {
  /** Names this store's objects; stores with different namespaces share nothing. Default "sessions". */
  namespace?: string;
  /** How many objects the sessions are spread over. Default 16. Changing it orphans existing sessions. */
  shards?: number;
}

/**
 * Sessions in Durable Objects: each session key lives in one of `shards` objects, picked by a hash of the
 * key, so reads and writes of a session are strongly consistent and the load spreads over the shards;
 * `length()` and `clear()` visit every shard of the namespace.
 */
export class DurableObjectStore implements VersionedStore {
  readonly #stubs: Array<DurableObjectStub<SessionStoreObject>>;

  constructor(binding: DurableObjectNamespace<SessionStoreObject>, options: DurableObjectStoreOptions = {}) {
    const namespace = options.namespace ?? "sessions";
    const shards = options.shards ?? 16;
    if (!Number.isInteger(shards) || shards < 1) throw new RangeError("shards must be a positive integer");
    this.#stubs = Array.from({ length: shards }, (_, shard) =>
      binding.get(binding.idFromName(`${namespace}/${shard}`)),
    );
  }

  get(sessionId: string): Promise<string | null> {
    return this.#shard(sessionId).get(sessionId);
  }

  set(sessionId: string, session: string, timeout: number): Promise<void> {
    return this.#shard(sessionId).set(sessionId, session, minutesToMillis(timeout));
  }

  setIfVersion(
    sessionId: string,
    expectedVersion: number,
    version: number,
    session: string,
    timeout: number,
  ): Promise<StoredVersion | null> {
    return this.#shard(sessionId).setIfVersion(sessionId, expectedVersion, version, session, minutesToMillis(timeout));
  }

  destroy(sessionId: string): Promise<void> {
    return this.#shard(sessionId).destroy(sessionId);
  }

  async exists(sessionId: string): Promise<boolean> {
    return (await this.#shard(sessionId).ttlMs(sessionId)) > 0;
  }

  async ttl(sessionId: string): Promise<number> {
    const ms = await this.#shard(sessionId).ttlMs(sessionId);
    return ms < 0 ? ms : Math.ceil(ms / 1000);
  }

  resetTimer(sessionId: string, timeout: number): Promise<void> {
    return this.#shard(sessionId).resetTimer(sessionId, minutesToMillis(timeout));
  }

  async length(): Promise<number> {
    const counts = await Promise.all(this.#stubs.map((stub) => stub.count()));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async clear(): Promise<void> {
    await Promise.all(this.#stubs.map((stub) => stub.clear()));
  }

  #shard(key: string): DurableObjectStub<SessionStoreObject> {
    // FNV-1a: keys are already uniform hashes in practice, but any string must spread.
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
    return this.#stubs[(hash >>> 0) % this.#stubs.length]!;
  }
}
