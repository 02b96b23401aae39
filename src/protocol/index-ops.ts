import type { IndexOp, LiveHeld, Policy, Version } from "./types.js";

/**
 * When a session's index entry expires in the store: one refresh interval after the session. A write puts the
 * entry again at most once per refresh interval, so an entry that expired with the session it was put for
 * could lapse up to that much before the session; a read that then kept the session alive would find no
 * entry to push forward, and the session would be out of "your sessions" for good. Listing takes the slack
 * off again (`sessionExpiry`).
 */
export function entryExpiry(
  sessionExpiresAt: number,
  policy: Pick<Policy, "refreshIntervalMs" | "absoluteTimeoutMs">,
  createdAt: number,
): number {
  // Never past the session's absolute lifetime: past it the session is ended on load, and its entry must
  // neither be listed nor count toward maxSessionsPerUser (a login would end a live session for it).
  if (policy.absoluteTimeoutMs !== undefined)
    sessionExpiresAt = Math.min(sessionExpiresAt, createdAt + policy.absoluteTimeoutMs);
  return sessionExpiresAt + policy.refreshIntervalMs;
}

/** The session's expiry an index entry stands for. */
export function sessionExpiry(entryExpiresAt: number, policy: Pick<Policy, "refreshIntervalMs">): number {
  return entryExpiresAt - policy.refreshIntervalMs;
}

/** The index change a push of the session's expiry (at `refreshedAt`) calls for: its entry pushed with it. */
export function refreshedEntry(
  id: string,
  user: string,
  createdAt: number,
  refreshedAt: number,
  policy: Policy,
): IndexOp {
  return { op: "touch", user, id, expiresAt: entryExpiry(refreshedAt + policy.idleTimeoutMs, policy, createdAt) };
}

/**
 * The index changes a landed write calls for: the entry leaves the user it was tied to and joins the new
 * one; an entry whose tie did not change is put again once per refresh interval (see `entryExpiry`).
 */
export function indexChangesOf(
  id: string,
  replaced: Version | null,
  landed: Version,
  held: LiveHeld,
  now: number,
  policy: Policy,
): IndexOp[] {
  const ops: IndexOp[] = [];
  const before = replaced?.user;
  const after = landed.user;
  if (before !== undefined && before !== after) ops.push({ op: "remove", user: before, id });
  if (after !== undefined) {
    const retied = before !== after || replaced?.since !== landed.since;
    if (retied || now - (held.indexedAt ?? 0) >= policy.refreshIntervalMs) {
      const { createdAt, since, expiresAt } = landed;
      ops.push({ op: "put", user: after, id, createdAt, since, expiresAt: entryExpiry(expiresAt, policy, createdAt) });
    }
  }
  return ops;
}

/**
 * How far past its own clock a sign-out everywhere takes a time it read from the store: a clock further ahead
 * is broken, and a cut-off pushed that far would keep the user's next sign-ins from standing for as long.
 */
export const MAX_CLOCK_LEAD_MS = 1_000;

/**
 * The time a sign-out everywhere acts at: its isolate's clock, but never below the cut-off or a tie it read
 * from the store. Cut-offs and ties are stamped by the clocks of the isolates that made them, which can read
 * ahead of this one's: a cut-off "before now" would then miss a session tied by such a clock before the call
 * (a sign-out everywhere else kept its session there a moment earlier), and a session kept at "now + 1" would
 * be tied below a cut-off already stored, and so end.
 */
export function signOutTime(now: number, revokedBefore: number, ties: readonly { since: number }[]): number {
  let seen = revokedBefore;
  for (const { since } of ties) seen = Math.max(seen, since);
  return Math.max(now, Math.min(seen, now + MAX_CLOCK_LEAD_MS));
}
