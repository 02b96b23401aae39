import { minutesToMillis } from "../minutes.js";
import type { IndexChange, IndexedStore, IndexEntry, StoredVersion } from "../types.js";
import type { SessionStoreObject } from "./session-store-object.js";
import { shardName, shardOf } from "./shards.js";

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
 *
 * The store is kept for the life of the isolate, but a stub belongs to the request that created it (it
 * carries that request's I/O channel; the next request that used it would fail with "Cannot perform I/O
 * on behalf of a different request"). So only the namespace binding and the object ids (plain values) are
 * kept, and every call gets a fresh stub, which costs no round trip.
 */
export class DurableObjectStore implements IndexedStore {
  readonly #binding: DurableObjectNamespace<SessionStoreObject>;
  readonly #ids: DurableObjectId[];

  constructor(binding: DurableObjectNamespace<SessionStoreObject>, options: DurableObjectStoreOptions = {}) {
    const namespace = options.namespace ?? "sessions";
    const shards = options.shards ?? 16;
    if (!Number.isInteger(shards) || shards < 1) throw new RangeError("shards must be a positive integer");
    this.#binding = binding;
    this.#ids = Array.from({ length: shards }, (_, shard) => binding.idFromName(shardName(namespace, shard)));
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
    index: IndexChange[] = [],
  ): Promise<StoredVersion | null> {
    // A session's index entries live in the session's own shard, so they change in the same call.
    return this.#shard(sessionId).setIfVersion(
      sessionId,
      expectedVersion,
      version,
      session,
      minutesToMillis(timeout),
      index,
    );
  }

  /** A user's entries are spread over the shards of their sessions: every shard is asked. */
  async listIndex(userKey: string): Promise<IndexEntry[]> {
    const lists = await Promise.all(this.#ids.map((id) => this.#stub(id).listIndex(userKey)));
    return lists.flat();
  }

  getIfChanged(
    sessionId: string,
    knownVersion: number,
    refreshTimeout?: number,
    index: IndexChange[] = [],
  ): Promise<StoredVersion | null> {
    return this.#shard(sessionId).getIfChanged(
      sessionId,
      knownVersion,
      refreshTimeout === undefined ? undefined : minutesToMillis(refreshTimeout),
      index,
    );
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
    const counts = await Promise.all(this.#ids.map((id) => this.#stub(id).count()));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  async clear(): Promise<void> {
    await Promise.all(this.#ids.map((id) => this.#stub(id).clear()));
  }

  #shard(key: string): DurableObjectStub<SessionStoreObject> {
    return this.#stub(this.#ids[shardOf(key, this.#ids.length)]!);
  }

  /** A stub for this request only (see the class comment). */
  #stub(id: DurableObjectId): DurableObjectStub<SessionStoreObject> {
    return this.#binding.get(id);
  }
}
