import { SealError } from "../errors.js";
import type { IndexedSession, StorePort } from "../engine/ports.js";
import type { IndexOp, ReadAnswer, Stored } from "../protocol/types.js";
import { UNCHANGED } from "../protocol/types.js";
import type { EndPlan, WritePlan } from "../protocol/write.js";
import { seal, unseal } from "../sealing/codec.js";
import { openEnvelope, wrap, type Envelope } from "../sealing/envelope.js";
import { handleOf, storeKeyOf, userKeyOf, type KeyRing, type SessionKeys } from "../sealing/keys.js";
import type { GuardedStore } from "../stores/guarded-store.js";
import type { IndexChange, StoredVersion } from "../stores/types.js";
import type { RequestTrace } from "../trace.js";
import type { SessionLogger } from "../types.js";

/** Store timeouts are minutes in the application router's interface. */
const minutes = (ms: number) => ms / 60_000;

/**
 * Sealed sessions in the store, by session id: the only place where sealing meets the store, and the
 * engine's `StorePort` on Workers and Node. It decides nothing about sessions. Everything is sealed with
 * the current secret and opened with any secret of the ring; store keys are hashes of the ids, the same
 * under every secret (a rotation moves nothing). User indexes are keyed by a keyed hash of the user id per
 * secret: written under the current one, read and revoked under all of them.
 */
export class StoreTier implements StorePort {
  readonly merges: boolean;
  readonly revalidating: boolean;
  readonly indexed: boolean;

  constructor(
    readonly ring: KeyRing,
    readonly store: GuardedStore,
    readonly logger: SessionLogger,
    readonly now: () => number,
    /** The idle timeout: a stored version without a time to live from the store expires this long after its write. */
    readonly idleTimeoutMs: number,
    /** The largest session plaintext a stored blob may open to. */
    readonly maxBytes: number,
    /** A user's index: how many entries at most, and how long its record outlives its last change. */
    readonly limits: { maxEntries: number; keepMs: number; graceMs?: number },
  ) {
    this.merges = store.versioned;
    this.revalidating = store.revalidating;
    this.indexed = store.indexed;
  }

  async read(id: string, known: number, refreshMs: number | undefined, trace: RequestTrace): Promise<ReadAnswer> {
    const key = await storeKeyOf(id);
    if (this.revalidating) {
      const refresh = refreshMs === undefined ? undefined : minutes(refreshMs);
      const stored = await trace.store(() => this.store.getIfChanged(key, known, refresh));
      return stored === null ? UNCHANGED : await this.#open(id, stored, trace);
    }
    const sealed = await trace.store(() => this.store.get(key));
    return sealed === null ? { kind: "none" } : await this.#open(id, { version: -1, session: sealed }, trace);
  }

  async confirm(
    id: string,
    known: number,
    refreshMs: number | undefined,
    user: string,
    trace: RequestTrace,
  ): Promise<{ answer: ReadAnswer; revokedBefore: number }> {
    if (!this.indexed) return { answer: await this.read(id, known, refreshMs, trace), revokedBefore: 0 };
    if (!this.store.confirmsWithCutoff) {
      const [answer, revokedBefore] = await Promise.all([
        this.read(id, known, refreshMs, trace),
        this.revokedBefore(user, trace),
      ]);
      return { answer, revokedBefore };
    }
    const [key, userKeys] = await Promise.all([storeKeyOf(id), this.#userKeys(user)]);
    const refresh = refreshMs === undefined ? undefined : minutes(refreshMs);
    const { stored, revokedBefore } = await trace.store(() =>
      this.store.getIfChangedWithCutoff(key, known, refresh, userKeys),
    );
    return { answer: stored === null ? UNCHANGED : await this.#open(id, stored, trace), revokedBefore };
  }

  /** The user's key under every secret of the ring (a cut-off made before a rotation stands under the old one). */
  #userKeys(user: string): Promise<string[]> {
    return Promise.all(this.ring.all.map((keys) => userKeyOf(keys, user)));
  }

  async write(id: string, plan: WritePlan, ttlMs: number, trace: RequestTrace): Promise<Stored | null> {
    const envelope: Envelope = {
      kind: "data",
      json: plan.json,
      tags: plan.tags,
      createdAt: plan.createdAt,
      writtenAt: this.now(),
      user: plan.tie.user,
      since: plan.tie.since,
    };
    return await this.#put(id, plan.expected, plan.version, envelope, ttlMs, trace);
  }

  async end(id: string, plan: EndPlan, createdAt: number, ttlMs: number, trace: RequestTrace): Promise<Stored | null> {
    if (!this.merges) {
      // Without compare-and-set there are no markers: the key is removed.
      const key = await storeKeyOf(id);
      await trace.store(() => this.store.destroy(key));
      return null;
    }
    const kind = plan.reason === "destroyed" ? "tombstone" : "retired";
    const marker: Envelope = { kind, createdAt, writtenAt: this.now(), tag: plan.tag };
    return await this.#put(id, plan.expected, plan.version, marker, ttlMs, trace);
  }

  async refresh(id: string, ttlMs: number, trace: RequestTrace): Promise<void> {
    const key = await storeKeyOf(id);
    await trace.store(() => this.store.resetTimer(key, minutes(ttlMs)));
  }

  /**
   * The latest cut-off under any secret of the ring: one made before a rotation stands under the old
   * secret's user key (one call per secret, in parallel; one secret most of the time).
   */
  async revokedBefore(user: string, trace: RequestTrace): Promise<number> {
    const cutoffs = await Promise.all(
      this.ring.all.map(async (keys) => {
        const userKey = await userKeyOf(keys, user);
        return await trace.store(() => this.store.revokedBefore(userKey));
      }),
    );
    return Math.max(0, ...cutoffs);
  }

  /** Under every secret's user key, so an isolate whose current secret is another one of the ring sees it too. */
  async revokeBefore(user: string, time: number, keepMs: number, trace: RequestTrace): Promise<void> {
    await Promise.all(
      this.ring.all.map(async (keys) => {
        const userKey = await userKeyOf(keys, user);
        await trace.store(() => this.store.revokeBefore(userKey, time, minutes(keepMs)));
      }),
    );
  }

  /** The user's sessions from the index of every secret (an entry made before a rotation stays in the old one until it expires). */
  async readIndex(user: string, trace: RequestTrace): Promise<{ sessions: IndexedSession[]; revokedBefore: number }> {
    const byId = new Map<string, IndexedSession>();
    let revokedBefore = 0;
    for (const keys of this.ring.all) {
      const userKey = await userKeyOf(keys, user);
      const index = await trace.store(() => this.store.readIndex(userKey));
      revokedBefore = Math.max(revokedBefore, index.revokedBefore);
      for (const { handle, entry, expiresAt, since } of index.entries) {
        const opened = await this.#openEntry(`${userKey}/${handle}`, entry);
        if (opened === undefined) continue;
        const known = byId.get(opened.id);
        if (known === undefined || known.expiresAt < expiresAt) {
          byId.set(opened.id, { handle, id: opened.id, createdAt: opened.createdAt, since, expiresAt });
        }
      }
    }
    return { sessions: [...byId.values()], revokedBefore };
  }

  async changeIndex(ops: IndexOp[], trace: RequestTrace): Promise<void> {
    if (!this.indexed || ops.length === 0) return;
    const changes: IndexChange[] = [];
    for (const op of ops) {
      if (op.op === "put") {
        const keys = this.ring.current;
        const [userKey, handle] = await Promise.all([userKeyOf(keys, op.user), handleOf(keys, op.id)]);
        // The entry says which session the handle stands for, sealed to the handle and the user's index:
        // only this layer reads it, and it opens nowhere else.
        const entry = await seal(keys, `${userKey}/${handle}`, 0, JSON.stringify({ i: op.id, c: op.createdAt }));
        changes.push({ userKey, handle, op: "put", entry, expiresAt: op.expiresAt, since: op.since });
      } else if (op.op === "touch") {
        // Wherever the entry stands: one made before a rotation is under an older secret, and touching only
        // the current one's let it expire while its session lived on (a touch creates nothing where none is).
        for (const keys of this.ring.all) {
          const [userKey, handle] = await this.#entryKeys(keys, op.user, op.id);
          changes.push({ userKey, handle, op: "touch", expiresAt: op.expiresAt });
        }
      } else {
        // The entry may stand under any secret of the ring (made before a rotation).
        for (const keys of this.ring.all) {
          const [userKey, handle] = await this.#entryKeys(keys, op.user, op.id);
          changes.push({ userKey, handle, op: "remove" });
        }
      }
    }
    const limits = {
      maxEntries: this.limits.maxEntries,
      keepMinutes: minutes(this.limits.keepMs),
      graceMinutes: minutes(this.limits.graceMs ?? 0),
    };
    await trace.store(() => this.store.changeIndex(changes, limits));
  }

  #entryKeys(keys: SessionKeys, user: string, id: string): Promise<[string, string]> {
    return Promise.all([userKeyOf(keys, user), handleOf(keys, id)]);
  }

  async #put(
    id: string,
    expected: number,
    version: number,
    envelope: Envelope,
    ttlMs: number,
    trace: RequestTrace,
  ): Promise<Stored | null> {
    const sealed = await trace.sealing(() => seal(this.ring.current, id, version, wrap(envelope)));
    const key = await storeKeyOf(id);
    if (!this.merges) {
      await trace.store(() => this.store.set(key, sealed, minutes(ttlMs)));
      return null;
    }
    const conflict = await trace.store(() => this.store.setIfVersion(key, expected, version, sealed, minutes(ttlMs)));
    // The client retries a call whose response was lost; the first attempt may have landed. The sealed value
    // is unique (a fresh IV each time), so finding it in place means this write landed.
    if (conflict === null || conflict.session === sealed) return null;
    return await this.#open(id, conflict, trace);
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

  /** Opens a stored value; `stored.version` is the store's claim (-1: it makes none), checked against the seal. */
  async #open(id: string, stored: StoredVersion, trace: RequestTrace): Promise<Stored> {
    if (stored.session === null) return { kind: "none" };
    let envelope;
    try {
      envelope = await trace.unsealing(() => openEnvelope(this.ring, id, stored.session!, this.maxBytes));
    } catch (error) {
      if (!(error instanceof SealError)) throw error;
      this.logger.warn(`hono-edge-session: stored session rejected (${error.message})`);
      return { kind: "tampered", version: Math.max(stored.version, 0) };
    }
    if (stored.version >= 0 && stored.version !== envelope.version) {
      // The version compare-and-set compares sits beside the sealed value, unauthenticated: a value whose
      // two versions disagree was altered in the store, and is never trusted.
      this.logger.warn(
        `hono-edge-session: stored session rejected (the store's version ${stored.version} is not the sealed version ${envelope.version})`,
      );
      return { kind: "tampered", version: stored.version };
    }
    const version = envelope.version;
    switch (envelope.kind) {
      case "data":
        return {
          kind: "live",
          version,
          tags: envelope.tags,
          json: envelope.json,
          createdAt: envelope.createdAt,
          user: envelope.user,
          since: envelope.since ?? envelope.createdAt,
          expiresAt:
            stored.ttlMs !== undefined && stored.ttlMs > 0
              ? this.now() + stored.ttlMs
              : envelope.writtenAt + this.idleTimeoutMs,
        };
      case "tombstone":
        return { kind: "ended", version, reason: "destroyed", tag: envelope.tag };
      case "retired":
        return { kind: "ended", version, reason: "retired", tag: envelope.tag };
    }
  }
}
