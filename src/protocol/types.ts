/**
 * The session protocol's data: what the store holds, what a browser's cookies claim, and what an isolate
 * holds of a session. Plain values only (no identities, no I/O): every decision in `src/protocol/` is a
 * function of these, the time and the policy, so the same decisions run in workerd and in the simulator.
 *
 * @module
 */

/** A top-level-key change: the keys set (with their new values) and the keys deleted. */
export interface Patch {
  set: Record<string, unknown>;
  deleted: readonly string[];
}

/** Who a session belongs to, and since when (ms): "sign out everywhere" ends the ties made before its time. */
export interface Tie {
  user: string | undefined;
  since: number;
}

/** A live version of a session, as the store holds (or held) it. */
export interface Version extends Tie {
  version: number;
  /**
   * The tags of the changes this version holds, newest first: the writes that made it, then those before
   * (at most `HISTORY_TAGS`). A change whose tag is here has landed.
   */
  tags: readonly string[];
  json: string;
  /** When the session was created (sealed; regenerate carries it): the absolute lifetime counts from it. */
  createdAt: number;
  /** When the store's copy expires, as told or as written. */
  expiresAt: number;
}

/** Why an id ended: destroyed (a tombstone; logout, revocation) or retired by a regenerate. */
export type EndReason = "destroyed" | "retired";

/** What the store holds under a session's key, opened and checked. */
export type Stored =
  /** Nothing: never written, expired, or lost. */
  | { kind: "none" }
  | ({ kind: "live" } & Version)
  /**
   * A marker that ends the id for good: no write brings it back. `tag`: the end that wrote it (older markers have
   * none), so an end whose answer was lost knows its own marker when it tries again.
   */
  | { kind: "ended"; version: number; reason: EndReason; tag?: string | undefined }
  /** A value that does not open, or whose stored and sealed versions disagree. */
  | { kind: "tampered"; version: number };

/** What a conditional read answers when the store still holds the version the caller knows. */
export const UNCHANGED = "unchanged";
export type ReadAnswer = Stored | typeof UNCHANGED;

/**
 * What a browser's cookies say: which session, and the newest write of it the browser was told of
 * (version 0 and tag "" when none).
 */
export interface Claim {
  id: string;
  version: number;
  tag: string;
  /** When that write was made (ms, the writing isolate's clock); 0 when unknown. */
  at: number;
  /** A previous secret signed the cookies: the response signs them again. */
  resign: boolean;
}

/** One change an isolate made to a session and has not yet seen land. */
export interface Change {
  tag: string;
  patch: Patch;
  /** A new tie (setUser, or a re-stamp by "sign out everywhere, but this one"). */
  tie?: Tie | undefined;
  /** The version the browser's cookie names for it: the write lands at this version or above. */
  version: number;
  /** When it was made (ms). */
  at: number;
  /** Its estimated footprint in memory (the patch's JSON), counted against the memory tier's bounds. */
  bytes: number;
}

/** The data, tie and history a request is served: the stored base with this isolate's changes on top. */
export interface View extends Tie {
  json: string;
  createdAt: number;
  /**
   * The tags of the writes the view holds, newest first: its pending changes', then its base's, as many in
   * all as the version that lands them will carry (see `viewTags`; a base tag left out is still shown).
   */
  tags: readonly string[];
}

/**
 * What an isolate holds of a session id:
 * - `live`: the version it last saw stored (`base`, null when nothing is stored yet), when it saw it, and
 *   its own changes not yet seen landed (oldest first); `view` is the base with the changes applied;
 * - `ended`: the id ended for good (kept so repeats cost nothing);
 * - `gone`: the store held nothing live for it at `confirmedAt` (expired, unreadable, or a claim that
 *   named a write that never came); within the staleness bound repeats cost nothing;
 * - `reading`: nothing known yet, a read is in flight since `since` (requests that come meanwhile wait
 *   for it instead of reading again).
 */
export type Held = LiveHeld | EndedHeld | GoneHeld | ReadingHeld;

export interface LiveHeld {
  kind: "live";
  base: Version | null;
  changes: readonly Change[];
  view: View;
  /** When the store was last seen to hold `base` (or nothing, for a null base). */
  confirmedAt: number;
  /** When the store's expiry of `base` was last pushed forward. */
  refreshedAt: number;
  /** The session never outlives this (the store's expiry as last set or seen). */
  expiresAt: number;
  /** The highest version seen or handed out for this id: every new version goes above it. */
  floor: number;
  /** Tags of claims settled as never landing (refused, given up, lost): a claim naming one is not waited for. */
  settled: readonly string[];
  /** A read of the store is in flight since then: other requests wait for it instead of reading too. */
  reading?: number | undefined;
  /** The store lost `base` (it held nothing where this isolate saw it live): the next write puts the view back. */
  missing?: boolean | undefined;
  /** When this isolate last put or touched the session's entry in its user's index. */
  indexedAt?: number | undefined;
}

export interface EndedHeld {
  kind: "ended";
  reason: EndReason;
  /** Kept until the store's marker would have expired; after that the id is as good as never seen. */
  until: number;
}

export interface GoneHeld {
  kind: "gone";
  confirmedAt: number;
  settled: readonly string[];
}

export interface ReadingHeld {
  kind: "reading";
  since: number;
}

/** How the layer trades freshness for round trips, and how long things live. All times in ms. */
export interface Policy {
  /** An isolate serves its copy without asking the store only while it confirmed it this recently. */
  maxStalenessMs: number;
  /** How long to wait for a write a cookie names that the store does not hold yet. */
  staleReadWaitMs: number;
  /** After that wait: serve what the store holds (the claim is settled, reported) or answer 503 once. */
  onStaleRead: "serve" | "reject";
  /** The idle timeout: how long a written session lives in the store. */
  idleTimeoutMs: number;
  /** The absolute lifetime from `createdAt`, if any. */
  absoluteTimeoutMs: number | undefined;
  /** An unchanged session's store expiry is pushed forward at most this often. */
  refreshIntervalMs: number;
  /** How long markers (tombstones, retirements) and revocation cut-offs stand: longer than any copy lives. */
  markerTtlMs: number;
  /** The largest session, in bytes of JSON. */
  maxSessionBytes: number;
  /** The store merges concurrent writes (compare-and-set); without it the last writer wins. */
  merges: boolean;
}

/** One change to a user's index, by user id and session id (the store tier turns them into keys). */
export type IndexOp =
  | { op: "put"; user: string; id: string; createdAt: number; since: number; expiresAt: number }
  | { op: "touch"; user: string; id: string; expiresAt: number }
  | { op: "remove"; user: string; id: string };
