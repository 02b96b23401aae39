import type { IndexOp, LiveHeld, Policy, Version } from "./types.js";

/**
 * The index changes a landed write calls for: the entry leaves the user it was tied to and joins the new
 * one; an entry whose tie did not change is touched once per refresh interval (it expires with the session).
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
      ops.push({ op: "put", user: after, id, createdAt, since, expiresAt });
    }
  }
  return ops;
}
