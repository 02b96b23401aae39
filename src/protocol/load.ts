import { endedHeld, holding, isSaved, mayStillLand, serves, settle } from "./held.js";
import type { Claim, GoneHeld, Held, LiveHeld, Policy, ReadAnswer, ReadingHeld } from "./types.js";
import { UNCHANGED } from "./types.js";

/*
 * What a request does with its session on first use: serve this isolate's copy, wait for another request's
 * read of it, or read the store; and what the store's answer means. Pure: the caller (src/engine/load.ts)
 * reads memory and the store and carries the decisions out.
 */

/** A user's revocation cut-off as this isolate last read it. */
export interface Cutoff {
  revokedBefore: number;
  confirmedAt: number;
}

/** Why a request gets a new session instead of the one its cookie names. */
export type Ending =
  /** Destroyed, revoked one by one, or tampered with: the cookies are cleared. */
  | "destroyed"
  /** Retired by a regenerate: the browser may hold the new id by now, so its cookies are left alone. */
  | "retired"
  /** Nothing live stored (expired, or never written): the cookies are cleared, unless the store cannot tell. */
  | "gone"
  /** Past the absolute lifetime. */
  | "expired"
  /** Tied to its user before that user's "sign out everywhere": ended (a tombstone follows). */
  | "revoked";

export interface LoadInput {
  claim: Claim;
  held: Held | undefined;
  now: number;
  policy: Policy;
  /** The cut-off of the held view's user, if this isolate read it within the staleness bound. */
  cutoff: Cutoff | undefined;
}

export type LoadStep =
  /** Serve this isolate's copy as it is: it shows the claimed write and was confirmed within the bound. */
  | { kind: "serve"; held: LiveHeld }
  /** No session: a new one (the ending says what becomes of the cookies). */
  | { kind: "end"; ending: Ending; held: Held | undefined }
  /** Another request of this isolate is reading the store for this session: look again in `pollMs`. */
  | { kind: "join"; pollMs: number }
  /** The copy is fresh, but its user's cut-off is not known within the bound: read it, then decide again. */
  | { kind: "cutoff"; user: string }
  /**
   * Read the store: conditionally on `known` (0: the whole value), pushing the expiry forward if `refresh`.
   * `held` is what memory holds meanwhile (marked as being read, so other requests wait for this read).
   */
  | { kind: "read"; known: number; refresh: boolean; held: LiveHeld | ReadingHeld };

/** The first decision of a request whose cookies name a session (`joined`: polls of another's read so far). */
export function decideLoad({ claim, held, now, policy, cutoff }: LoadInput, joined = 0): LoadStep {
  switch (held?.kind) {
    case "ended":
      return { kind: "end", ending: held.reason, held };
    case "gone":
      if (now - held.confirmedAt < policy.maxStalenessMs && !awaits(claim, held.settled, now, policy)) {
        return { kind: "end", ending: "gone", held };
      }
      return { kind: "read", known: 0, refresh: false, held: readingSince(now) };
    case "reading":
      if (joinable(held.since, now, policy)) return { kind: "join", pollMs: pollDelay(joined) };
      return { kind: "read", known: 0, refresh: false, held: readingSince(now) };
    case undefined:
      return { kind: "read", known: 0, refresh: false, held: readingSince(now) };
    case "live":
      break;
  }
  if (outlived(held.view.createdAt, now, policy)) return { kind: "end", ending: "expired", held: undefined };
  if (now - held.confirmedAt < policy.maxStalenessMs && serves(held, claim)) {
    const tie = checkTie(held, cutoff);
    // Revoked: this request gets a new session. The copy stays as it is (the store may hold a newer tie, a
    // sign-in since; it is confirmed past the bound like any copy), so nothing is ended for good here.
    if (tie === "revoked") return { kind: "end", ending: "revoked", held };
    if (tie === "unknown") return { kind: "cutoff", user: held.view.user! };
    return { kind: "serve", held };
  }
  if (joinable(held.reading, now, policy)) return { kind: "join", pollMs: pollDelay(joined) };
  const refresh = isSaved(held) && now - held.refreshedAt >= policy.refreshIntervalMs;
  return {
    kind: "read",
    known: held.missing ? 0 : (held.base?.version ?? 0),
    refresh,
    held: { ...held, reading: now },
  };
}

/** Another request's read that started at `since` is recent enough to wait for rather than read again. */
function joinable(since: number | undefined, now: number, policy: Policy): boolean {
  return since !== undefined && policy.maxStalenessMs > 0 && now - since < policy.maxStalenessMs;
}

/** The entry of a session this request is reading, with nothing held before. */
function readingSince(now: number): ReadingHeld {
  return { kind: "reading", since: now };
}

/** Waits for another request's read: 1, 2, 4, then 8 ms apart. */
function pollDelay(joined: number): number {
  return Math.min(8, 2 ** joined);
}

/**
 * Whether the held view's tie to its user still stands: "revoked" when it was made before the user's
 * cut-off, "unknown" when the cut-off was not read within the staleness bound. A new tie to the same user
 * that has not landed yet (a sign-out everywhere else whose call failed after making it) does not count: its
 * write is refused if the stored tie was revoked, so the stored tie decides.
 */
export function checkTie(held: LiveHeld, cutoff: Cutoff | undefined): "ok" | "revoked" | "unknown" {
  const { user, since } = held.view;
  if (user === undefined) return "ok";
  if (cutoff === undefined) return "unknown";
  const stored = held.base !== null && held.missing !== true && held.base.user === user ? held.base.since : since;
  return Math.min(since, stored) < cutoff.revokedBefore ? "revoked" : "ok";
}

export interface ReadInput {
  claim: Claim;
  /** What memory holds now (other requests may have changed it while the store answered). */
  held: Held | undefined;
  answer: ReadAnswer;
  /** When the read was sent: the store held its answer at that moment or later. */
  startedAt: number;
  /** The read pushed the store's expiry forward (it was a refresh, and the version was unchanged). */
  refreshed: boolean;
  now: number;
  policy: Policy;
  /** How long this request has waited so far for the store to catch up with its claim. */
  waitedMs: number;
}

export type ReadOutcome =
  /** Serve `held` (`changed`: the store held another version than this isolate knew). */
  | { kind: "serve"; held: LiveHeld; changed: boolean }
  /** The store lost a session this isolate holds: serve it, and write it back. */
  | { kind: "restore"; held: LiveHeld }
  /** The store holds an older version than this isolate saw stored: never go back; serve what is held. */
  | { kind: "rollback"; held: LiveHeld; storedVersion: number }
  /** The store is behind the claim: read again after `pauseMs`. */
  | { kind: "wait"; held: Held; pauseMs: number }
  /**
   * Waited long enough: the claimed write is taken as lost. `held` (serving what is stored, or `gone`)
   * remembers that, so no request waits for it again; the response's cookie names what was served.
   */
  | { kind: "settle"; held: LiveHeld | GoneHeld; storedVersion: number }
  | { kind: "end"; ending: Ending; held: Held | undefined };

/** What a store's answer to a read means for the request and for this isolate's copy. */
export function afterRead(input: ReadInput): ReadOutcome {
  const { claim, answer, startedAt, now, policy } = input;
  const held = input.held?.kind === "live" ? { ...input.held, reading: undefined } : input.held;
  if (held?.kind === "ended") return { kind: "end", ending: held.reason, held };
  if (answer === UNCHANGED) {
    // The store still holds the version this isolate knows (unless memory lost it meanwhile: read it whole).
    if (held?.kind !== "live" || held.base === null) {
      return { kind: "wait", held: { kind: "reading", since: now }, pauseMs: 0 };
    }
    const confirmed: LiveHeld = { ...held, confirmedAt: Math.max(held.confirmedAt, startedAt) };
    if (input.refreshed) {
      confirmed.refreshedAt = startedAt;
      confirmed.expiresAt = Math.max(held.expiresAt, startedAt + policy.idleTimeoutMs);
    }
    return claimed(input, confirmed, false);
  }
  switch (answer.kind) {
    case "live": {
      if (
        held?.kind === "live" &&
        held.base !== null &&
        !held.missing &&
        answer.version <= held.base.version &&
        held.confirmedAt >= startedAt
      ) {
        // Older news: this isolate saw a version at least as new after the read was sent (another request's).
        return claimed(input, held, false);
      }
      if (held?.kind === "live" && held.base !== null && !held.missing && answer.version < held.base.version) {
        // Older than a version this isolate saw stored: a lagging replica, or an old value put back. Never
        // roll back to it; this isolate's copy stands (reported).
        return { kind: "rollback", held, storedVersion: answer.version };
      }
      if (outlived(answer.createdAt, now, policy)) return { kind: "end", ending: "expired", held: undefined };
      const fresh = holding({ ...stripKind(answer) }, startedAt, held, policy.idleTimeoutMs);
      const changed = held?.kind !== "live" || held.base?.version !== answer.version;
      return claimed(input, fresh, changed);
    }
    case "none": {
      if (held?.kind === "live" && held.base !== null && policy.merges && mayRestore(held, now)) {
        // Nothing stored, though this isolate knows the session live (a store that lost its data, like a
        // restarted Redis without persistence; an end leaves a marker, an expiry is past `expiresAt`):
        // write it back.
        return { kind: "restore", held: { ...held, missing: true, confirmedAt: startedAt } };
      }
      if (held?.kind === "live" && held.base === null) {
        // A new session of this isolate whose first write has not landed yet: its own copy stands.
        return { kind: "serve", held: { ...held, confirmedAt: Math.max(held.confirmedAt, startedAt) }, changed: false };
      }
      const gone: GoneHeld = { kind: "gone", confirmedAt: startedAt, settled: settledOf(held) };
      if (awaits(claim, gone.settled, now, policy)) return wait(input, gone);
      return { kind: "end", ending: "gone", held: gone };
    }
    case "ended":
      return { kind: "end", ending: answer.reason, held: endedHeld(answer.reason, now, policy) };
    case "tampered":
      return { kind: "end", ending: "destroyed", held: { kind: "gone", confirmedAt: startedAt, settled: [] } };
  }
}

function stripKind<T extends { kind: string }>(value: T): Omit<T, "kind"> {
  const { kind: _kind, ...rest } = value;
  return rest;
}

/** The store answered; does what this isolate now holds show the write the cookie names? */
function claimed(input: ReadInput, held: LiveHeld, changed: boolean): ReadOutcome {
  if (serves(held, input.claim) || !awaits(input.claim, held.settled, input.now, input.policy)) {
    return { kind: "serve", held, changed };
  }
  return wait(input, held);
}

/** The claim's write is not there yet: read again a little later, until `staleReadWaitMs` has passed. */
function wait(input: ReadInput, held: LiveHeld | GoneHeld): ReadOutcome {
  const { waitedMs, policy, claim } = input;
  if (waitedMs >= policy.staleReadWaitMs) {
    const storedVersion = held.kind === "live" ? (held.base?.version ?? 0) : 0;
    return { kind: "settle", held: { ...held, settled: settle(held.settled, claim.tag) }, storedVersion };
  }
  // 10, 20, 40 … ms apart, never past the wait's end.
  const pauseMs = Math.min(Math.max(10, waitedMs), policy.staleReadWaitMs - waitedMs);
  return { kind: "wait", held, pauseMs };
}

/** The claim names a write that may still land, and was not settled as lost. */
function awaits(claim: Claim, settled: readonly string[], now: number, policy: Policy): boolean {
  return mayStillLand(claim, now, policy.idleTimeoutMs) && !settled.includes(claim.tag);
}

function settledOf(held: Held | undefined): readonly string[] {
  return held?.kind === "live" || held?.kind === "gone" ? held.settled : [];
}

/** Room for the clocks of the isolate and the store to disagree about an expiry. */
const CLOCK_MARGIN_MS = 1_000;

/**
 * A session the store holds nothing of may be written back from this copy: the copy is live by the
 * store's own expiry as last seen. (A store that loses its data loses its markers too: see docs/security.md's
 * security model.)
 */
export function mayRestore(held: LiveHeld, now: number): boolean {
  return held.missing === true || now < held.expiresAt - CLOCK_MARGIN_MS;
}

/** The absolute lifetime counts from `createdAt`, which is sealed: no client can move it. */
export function outlived(createdAt: number, now: number, policy: Policy): boolean {
  return policy.absoluteTimeoutMs !== undefined && now - createdAt >= policy.absoluteTimeoutMs;
}

/** Whether a request that got a new session for `ending` clears the browser's cookies (if it writes nothing). */
export function clearsCookies(ending: Ending, merges: boolean): boolean {
  // Only a store with markers tells an expired id from a regenerated one; without them, the browser may
  // hold a newer id by now, so its cookies are left alone.
  if (ending === "gone") return merges;
  return ending !== "retired";
}
