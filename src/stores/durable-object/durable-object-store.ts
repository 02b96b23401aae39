import { changesByUser } from "../changes-by-user.js";
import { minutesToMillis } from "../minutes.js";
import type { IndexChange, IndexedStore, IndexLimits, StoredVersion, UserIndex } from "../types.js";
import type { SessionStoreObject } from "./session-store-object.js";

export interface DurableObjectStoreOptions {
  /** Names this store's objects; stores with different namespaces share nothing. Default "sessions". */
  namespace?: string;
}

/**
 * Sessions in Durable Objects: one object per session key (`<namespace>/s/<key>`) and one per user record
 * (`<namespace>/u/<user key>`), so every call goes to the one object it concerns, consistent and in one
 * round trip, and nothing has a ceiling: there are as many objects as sessions and users. Objects cannot be
 * enumerated from a worker, so this store has no `length()` or `clear()` (the layer never calls them).
 *
 * The store is kept for the life of the isolate, but a stub belongs to the request that created it (it
 * carries that request's I/O channel; the next request that used it would fail with "Cannot perform I/O
 * on behalf of a different request"). So only the namespace binding is kept, and every call gets a fresh
 * stub, which costs no round trip.
 */
export class DurableObjectStore implements IndexedStore {
  readonly #binding: DurableObjectNamespace<SessionStoreObject>;
  readonly #namespace: string;

  /**
   * @param binding the namespace bound to `SessionStoreObject`; typed as `wrangler types` writes it
   *   (`DurableObjectNamespace<SessionStoreObject>`) or declared by hand (`DurableObjectNamespace`).
   */
  constructor(
    binding: DurableObjectNamespace<SessionStoreObject> | DurableObjectNamespace,
    options: DurableObjectStoreOptions = {},
  ) {
    // A hand-declared namespace has no type for the class behind it; the binding's class is ours.
    this.#binding = binding as DurableObjectNamespace<SessionStoreObject>;
    this.#namespace = options.namespace ?? "sessions";
  }

  get(sessionId: string): Promise<string | null> {
    return this.#session(sessionId).get(sessionId);
  }

  set(sessionId: string, session: string, timeout: number): Promise<void> {
    return this.#session(sessionId).set(sessionId, session, minutesToMillis(timeout));
  }

  setIfVersion(
    sessionId: string,
    expectedVersion: number,
    version: number,
    session: string,
    timeout: number,
  ): Promise<StoredVersion | null> {
    return this.#session(sessionId).setIfVersion(
      sessionId,
      expectedVersion,
      version,
      session,
      minutesToMillis(timeout),
    );
  }

  getIfChanged(sessionId: string, knownVersion: number, refreshTimeout?: number): Promise<StoredVersion | null> {
    const ttlMs = refreshTimeout === undefined ? undefined : minutesToMillis(refreshTimeout);
    return this.#session(sessionId).getIfChanged(sessionId, knownVersion, ttlMs);
  }

  destroy(sessionId: string): Promise<void> {
    return this.#session(sessionId).destroy(sessionId);
  }

  async exists(sessionId: string): Promise<boolean> {
    return (await this.#session(sessionId).ttlMs(sessionId)) > 0;
  }

  async ttl(sessionId: string): Promise<number> {
    const ms = await this.#session(sessionId).ttlMs(sessionId);
    return ms < 0 ? ms : Math.ceil(ms / 1000);
  }

  resetTimer(sessionId: string, timeout: number): Promise<void> {
    return this.#session(sessionId).resetTimer(sessionId, minutesToMillis(timeout));
  }

  /** One call per user the changes name (atomic for that user), in parallel. */
  async changeIndex(changes: IndexChange[], { maxEntries, keepMinutes, graceMinutes }: IndexLimits): Promise<void> {
    const keepMs = minutesToMillis(keepMinutes);
    const graceMs = minutesToMillis(graceMinutes ?? 0);
    await Promise.all(
      [...changesByUser(changes)].map(([userKey, ofUser]) =>
        this.#user(userKey).changeIndex(ofUser, maxEntries, keepMs, graceMs),
      ),
    );
  }

  readIndex(userKey: string): Promise<UserIndex> {
    return this.#user(userKey).readIndex();
  }

  revokeBefore(userKey: string, time: number, keepMinutes: number): Promise<void> {
    return this.#user(userKey).revokeBefore(time, minutesToMillis(keepMinutes));
  }

  revokedBefore(userKey: string): Promise<number> {
    return this.#user(userKey).revokedBefore();
  }

  /** The session's object, with a stub for this request only (see the class comment). */
  #session(sessionId: string): DurableObjectStub<SessionStoreObject> {
    return this.#binding.get(this.#binding.idFromName(`${this.#namespace}/s/${sessionId}`));
  }

  /** The user's object, with a stub for this request only. */
  #user(userKey: string): DurableObjectStub<SessionStoreObject> {
    return this.#binding.get(this.#binding.idFromName(`${this.#namespace}/u/${userKey}`));
  }
}
