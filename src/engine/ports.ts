import type { EndPlan, WritePlan } from "../protocol/write.js";
import type { IndexOp, ReadAnswer, Stored } from "../protocol/types.js";
import type { RequestTrace } from "../trace.js";

/*
 * What the engine needs from the world, as interfaces: the time, waiting, fresh ids and tags, and the
 * store of opened sessions. Workers and Node get the real ones (src/request/isolate-state.ts); the
 * simulator gives simulated ones, so the same engine runs there deterministically.
 */

/** Time, waiting and randomness: the only ones the engine uses. */
export interface Runtime {
  /** Milliseconds since the epoch, as this isolate's clock says. */
  now(): number;
  /** Resolves after `ms` (on this isolate's own timers: never another request's I/O). */
  sleep(ms: number): Promise<void>;
  /** A fresh session id (144 random bits). */
  newId(): string;
  /** A fresh write tag (48 random bits). */
  newTag(): string;
  /** A random number in [0, 1) (back-off). */
  random(): number;
}

/** A session of a user, as the user's index lists it. */
export interface IndexedSession {
  handle: string;
  id: string;
  createdAt: number;
  since: number;
  expiresAt: number;
}

/**
 * Sessions in the store, opened: the engine's only way to the store. Every call may throw (a store failure
 * or a timeout); none decides anything about sessions.
 */
export interface StorePort {
  /** Writes are compare-and-set and ends leave markers; without it the last writer wins and ends delete. */
  readonly merges: boolean;
  /** Reads can be conditional (a few bytes when unchanged) and push the expiry forward in the same step. */
  readonly revalidating: boolean;
  /** The store keeps user indexes and revocation cut-offs. */
  readonly indexed: boolean;
  /** What the store holds, or UNCHANGED when it still holds `known` (conditional stores only); `refreshMs` pushes its expiry. */
  read(id: string, known: number, refreshMs: number | undefined, trace: RequestTrace): Promise<ReadAnswer>;
  /** `read`, and the cut-off of the user the session is tied to (in one call where the store can). */
  confirm(
    id: string,
    known: number,
    refreshMs: number | undefined,
    user: string,
    trace: RequestTrace,
  ): Promise<{ answer: ReadAnswer; revokedBefore: number }>;
  /** Compare-and-set (or, without it, a plain write): `null` when written, else what stands there. */
  write(id: string, plan: WritePlan, ttlMs: number, trace: RequestTrace): Promise<Stored | null>;
  /** A marker that ends the id (without compare-and-set: the key is removed): `null` when written. */
  end(id: string, plan: EndPlan, createdAt: number, ttlMs: number, trace: RequestTrace): Promise<Stored | null>;
  /** Pushes the expiry forward, for stores without conditional reads. */
  refresh(id: string, ttlMs: number, trace: RequestTrace): Promise<void>;
  /** The time before which the user's ties are revoked (0: never). */
  revokedBefore(user: string, trace: RequestTrace): Promise<number>;
  /** Revokes every tie of the user made before `time`. */
  revokeBefore(user: string, time: number, keepMs: number, trace: RequestTrace): Promise<void>;
  /** The user's live sessions and cut-off. */
  readIndex(user: string, trace: RequestTrace): Promise<{ sessions: IndexedSession[]; revokedBefore: number }>;
  changeIndex(ops: IndexOp[], trace: RequestTrace): Promise<void>;
}
