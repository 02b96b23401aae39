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
