import { describeError, SealError, SessionIndexUnsupportedError } from "../errors.js";
import { seal, unseal } from "../sealing/codec.js";
import { openEnvelope, wrap, type Envelope } from "../sealing/envelope.js";
import { handleOf, storeKeyOf, userKeyOf, type KeyRing } from "../sealing/keys.js";
import type { GuardedStore } from "../stores/guarded-store.js";
import type { IndexChange, IndexLimits, StoredVersion } from "../stores/types.js";
import type { RequestTrace } from "../trace.js";
import type { SessionLogger } from "../types.js";

/** A session as the store holds it, opened and checked; `at` is the secret whose store key holds it (0: current). */
export type StoredSession =
  /** Nothing (never written, expired, or removed). */
  | { kind: "nothing"; version: 0; at: number }
  | {
      kind: "data";
      version: number;
      tag: string;
      /** The tags of the writes before this version, newest first (a few). */
      prior: readonly string[];
      json: string;
      createdAt: number;
      user: string | undefined;
      /** When the store's copy expires: as the store tells, else at least `timeout` after it was written. */
      expiresAt: number;
      at: number;
    }
  | { kind: "tombstone"; version: number; at: number }
  | { kind: "retired"; version: number; graceUntil: number; at: number }
  /** Moved to the current secret's store key (after a rotation): look there. */
  | { kind: "moved"; version: number; at: number }
  /** A value that does not open, or whose stored version disagrees with the sealed one. */
  | { kind: "tampered"; version: number; at: number };

/** A session of a user, as the user's index lists it. */
export interface UserSession {
  handle: string;
  id: string;
  createdAt: number;
  expiresAt: number;
}

/** The conditional read found the version the caller knows. */
export const UNCHANGED = "unchanged";

/**
 * Sealed sessions in the store, by session id: the only place where sealing meets the store. It decides
 * nothing about sessions; the writers and the loader do. Everything is sealed with the current secret;
 * `at` says under which secret's store key a session lives (0, the current one, unless it has not been
 * written since a rotation).
 */
export class StoreTier {
  constructor(
    readonly ring: KeyRing,
    readonly store: GuardedStore,
    readonly logger: SessionLogger,
    /** The idle timeout: how long a written session lives in the store. */
    readonly timeoutMinutes: number,
    /** The largest session plaintext a stored blob may open to. */
    readonly maxBytes: number,
  ) {}

  /**
   * What the store holds for `id`, or `UNCHANGED` when it still holds `knownVersion` (conditional stores
   * only answer that; others send the whole value). With `refreshMinutes`, a conditional store pushes the
   * known version's expiry forward in the same step.
   */
  async read(
    id: string,
    knownVersion: number,
    refreshMinutes: number | undefined,
    trace: RequestTrace,
    at = 0,
    /** The session's user: a refresh pushes their index entry's expiry forward too. */
    user?: string,
  ): Promise<StoredSession | typeof UNCHANGED> {
    const key = await this.#key(id, at);
    if (this.store.revalidating) {
      const index =
        refreshMinutes !== undefined && user !== undefined ? await this.#touch(id, user, refreshMinutes, at) : [];
      const stored = await trace.store(() => this.store.getIfChanged(key, knownVersion, refreshMinutes));
      if (stored === null) await this.#changeIndex(index, trace);
      return stored === null ? UNCHANGED : await this.#open(id, stored, at, trace);
    }
    const sealed = await trace.store(() => this.store.get(key));
    return sealed === null
      ? { kind: "nothing", version: 0, at }
      : await this.#open(id, { version: -1, session: sealed }, at, trace);
  }

  /**
   * A miss: the current secret's store key, then (only if nothing is there) each previous secret's, so a
   * session not written since a rotation is still found: one extra read per previous secret, at most.
   */
  async find(id: string, trace: RequestTrace): Promise<StoredSession> {
    let found: StoredSession | typeof UNCHANGED = { kind: "nothing", version: 0, at: 0 };
    for (let at = 0; at < this.ring.all.length && found !== UNCHANGED && found.kind === "nothing"; at++) {
      found = await this.read(id, 0, undefined, trace, at);
    }
    return found === UNCHANGED ? { kind: "nothing", version: 0, at: 0 } : found;
  }

  /**
   * A session marked "moved" under the key of secret `from`: where it went (the first key of the ring,
   * other than `from`, that holds anything), or nothing.
   */
  async findMoved(id: string, from: number, trace: RequestTrace): Promise<StoredSession> {
    for (let at = 0; at < this.ring.all.length; at++) {
      if (at === from) continue;
      const found = await this.read(id, 0, undefined, trace, at);
      if (found !== UNCHANGED && found.kind !== "nothing" && found.kind !== "moved") return found;
    }
    return { kind: "nothing", version: 0, at: from };
  }

  /**
   * Compare-and-set at the store key of secret `at`: stores `envelope` as `version` if the store holds
   * `expected`. Answers `null` when written (also when a lost response's retry finds this very write in
   * place), else what stands there.
   */
  async compareAndSet(
    id: string,
    expected: number,
    version: number,
    envelope: Envelope,
    ttlMinutes: number,
    trace: RequestTrace,
    at = 0,
    /** The user whose index holds the session now, if any: its entry moves with the write. */
    previousUser?: string,
    /** The secret whose index holds that entry (the one that wrote it). */
    previousIndexAt = 0,
  ): Promise<StoredSession | null> {
    const sealed = await trace.sealing(() => seal(this.ring.current, id, version, wrap(envelope)));
    const key = await this.#key(id, at);
    const index = await this.#indexFor(id, envelope, previousUser, previousIndexAt, ttlMinutes);
    const conflict = await trace.store(() => this.store.setIfVersion(key, expected, version, sealed, ttlMinutes));
    // The client retries a call whose response was lost; the first attempt may have landed. The sealed value
    // is unique (a fresh IV each time), so finding it in place means this write landed.
    if (conflict === null || conflict.session === sealed) {
      await this.#changeIndex(index, trace);
      return null;
    }
    return await this.#open(id, conflict, at, trace);
  }

  /** Last writer wins: stores `envelope` as `version` under the current secret's key, whatever is there. */
  async put(id: string, version: number, envelope: Envelope, ttlMinutes: number, trace: RequestTrace): Promise<void> {
    const sealed = await trace.sealing(() => seal(this.ring.current, id, version, wrap(envelope)));
    const key = await this.#key(id, 0);
    await trace.store(() => this.store.set(key, sealed, ttlMinutes));
  }

  async remove(id: string, trace: RequestTrace, at = 0): Promise<void> {
    const key = await this.#key(id, at);
    await trace.store(() => this.store.destroy(key));
  }

  /** Pushes the expiry forward (stores without conditional reads; a conditional store does it in `read`). */
  async refresh(id: string, ttlMinutes: number, trace: RequestTrace, at = 0): Promise<void> {
    const key = await this.#key(id, at);
    await trace.store(() => this.store.resetTimer(key, ttlMinutes));
  }

  /**
   * A user's live sessions, from the indexes of every secret of the ring (an entry made before a rotation
   * stays in the old secret's index until it expires): id, creation and expiry, by opaque handle.
   */
  async listUser(user: string, trace: RequestTrace): Promise<UserSession[]> {
    if (!this.store.indexed) throw new SessionIndexUnsupportedError();
    const byId = new Map<string, UserSession>();
    for (const keys of this.ring.all) {
      const userKey = await userKeyOf(keys, user);
      const { entries } = await trace.store(() => this.store.readIndex(userKey));
      for (const { handle, entry, expiresAt } of entries) {
        const opened = await this.#openEntry(`${userKey}/${handle}`, entry);
        if (opened === undefined) continue;
        const known = byId.get(opened.id);
        if (known === undefined || known.expiresAt < expiresAt) {
          byId.set(opened.id, { ...opened, handle, expiresAt });
        }
      }
    }
    return [...byId.values()];
  }

  /** The index changes that go with writing `envelope` where `previousUser`'s entry was (on an indexed store). */
  async #indexFor(
    id: string,
    envelope: Envelope,
    previousUser: string | undefined,
    previousIndexAt: number,
    ttlMinutes: number,
  ) {
    if (!this.store.indexed) return [];
    const user = envelope.kind === "data" ? envelope.user : undefined;
    if (user === undefined && previousUser === undefined) return [];
    const keys = this.ring.current;
    const previousKeys = this.ring.all[previousIndexAt] ?? keys;
    const changes: IndexChange[] = [];
    if (previousUser !== undefined && (previousUser !== user || previousKeys !== keys)) {
      const [userKey, handle] = await Promise.all([userKeyOf(previousKeys, previousUser), handleOf(previousKeys, id)]);
      changes.push({ userKey, handle, op: "remove" });
    }
    if (user !== undefined) {
      const [userKey, handle] = await Promise.all([userKeyOf(keys, user), handleOf(keys, id)]);
      // The entry says which session the handle stands for, sealed to the handle and the user's index:
      // only this layer reads it, and it opens nowhere else.
      const entry = await seal(keys, `${userKey}/${handle}`, 0, JSON.stringify({ i: id, c: envelope.createdAt }));
      changes.push({
        userKey,
        handle,
        op: "put",
        entry,
        expiresAt: Date.now() + ttlMinutes * 60_000,
        since: envelope.createdAt,
      });
    }
    return changes;
  }

  /** The index entry's expiry moves with the session's: in the index of the secret that wrote it (`at`). */
  async #touch(id: string, user: string, minutes: number, at: number): Promise<IndexChange[]> {
    if (!this.store.indexed) return [];
    const keys = this.ring.all[at] ?? this.ring.current;
    const [userKey, handle] = await Promise.all([userKeyOf(keys, user), handleOf(keys, id)]);
    return [{ userKey, handle, op: "touch", expiresAt: Date.now() + minutes * 60_000 }];
  }

  /**
   * The index changes that go with a write that landed, as a call of their own (the store no longer makes
   * them in the write's atomic step). A failure is logged: the write stands, and the entry catches up with
   * the session's next write or expires.
   */
  async #changeIndex(changes: IndexChange[], trace: RequestTrace): Promise<void> {
    if (changes.length === 0) return;
    const limits: IndexLimits = { maxEntries: 100, keepMinutes: 2 * this.timeoutMinutes };
    try {
      await trace.store(() => this.store.changeIndex(changes, limits));
    } catch (error) {
      this.logger.warn(`hono-edge-session: user index not changed (${describeError(error)})`);
    }
  }

  async #openEntry(boundTo: string, entry: string): Promise<{ id: string; createdAt: number } | undefined> {
    try {
      const { plaintext } = await unseal(this.ring, boundTo, entry, 4096);
      const { i, c } = JSON.parse(plaintext) as { i?: unknown; c?: unknown };
      return typeof i === "string" && typeof c === "number" ? { id: i, createdAt: c } : undefined;
    } catch {
      return undefined; // an entry no key opens (a removed secret, or altered): not a session of this user
    }
  }

  #key(id: string, at: number): Promise<string> {
    return storeKeyOf(this.ring.all[at] ?? this.ring.current, id);
  }

  /** Opens a stored value; `stored.version` is the store's claim (-1: it makes none), checked against the seal. */
  async #open(id: string, stored: StoredVersion, at: number, trace: RequestTrace): Promise<StoredSession> {
    if (stored.session === null) return { kind: "nothing", version: 0, at };
    let envelope;
    try {
      envelope = await trace.unsealing(() => openEnvelope(this.ring, id, stored.session!, this.maxBytes));
    } catch (error) {
      if (!(error instanceof SealError)) throw error;
      this.logger.warn(`hono-edge-session: stored session rejected (${error.message})`);
      return { kind: "tampered", version: Math.max(stored.version, 0), at };
    }
    if (stored.version >= 0 && stored.version !== envelope.version) {
      // The version compare-and-set compares sits beside the sealed value, unauthenticated: a value whose
      // two versions disagree was altered in the store, and is never trusted.
      this.logger.warn(
        `hono-edge-session: stored session rejected (the store's version ${stored.version} is not the sealed version ${envelope.version})`,
      );
      return { kind: "tampered", version: stored.version, at };
    }
    const version = envelope.version;
    switch (envelope.kind) {
      case "data":
        return {
          kind: "data",
          version,
          tag: envelope.tag,
          prior: envelope.prior ?? [],
          json: envelope.json,
          createdAt: envelope.createdAt,
          user: envelope.user,
          expiresAt:
            stored.ttlMs !== undefined && stored.ttlMs > 0
              ? Date.now() + stored.ttlMs
              : envelope.writtenAt + this.timeoutMinutes * 60_000,
          at,
        };
      case "retired":
        return { kind: "retired", version, graceUntil: envelope.graceUntil, at };
      default:
        return { kind: envelope.kind, version, at };
    }
  }
}
