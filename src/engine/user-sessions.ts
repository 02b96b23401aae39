import { sessionExpiry } from "../protocol/index-ops.js";
import type { RequestTrace } from "../trace.js";
import type { SessionInfo } from "../types.js";
import { endId } from "./end.js";
import type { Engine } from "./engine.js";

/*
 * "Your sessions" and "sign out everywhere". A user's index lists their sessions (an entry per session,
 * changed after the writes that tie or untie it); a per-user cut-off ends, on every isolate within the
 * staleness bound, every session tied to the user before it, including any made from them afterwards by
 * a regenerate (which carries the tie's time). So signing out everywhere is a few store calls, whatever
 * the number of sessions.
 */

/** A user's live sessions, newest first; `currentId` marks the one the request holds. */
export async function listSessions(
  user: string,
  currentId: string | undefined,
  engine: Engine,
  trace: RequestTrace,
): Promise<SessionInfo[]> {
  const { sessions, revokedBefore } = await engine.store.readIndex(user, trace);
  const now = engine.runtime.now();
  engine.cutoffs.remember(user, { revokedBefore, confirmedAt: now });
  return sessions
    .map((s) => ({ ...s, expiresAt: sessionExpiry(s.expiresAt, engine.policy) }))
    .filter((s) => s.since >= revokedBefore && s.expiresAt > now)
    .map(({ handle, id, createdAt, expiresAt }) => ({
      handle,
      createdAt,
      lastSeenAt: expiresAt - engine.policy.idleTimeoutMs,
      expiresAt,
      current: id === currentId,
    }))
    .sort((a, b) => b.lastSeenAt - a.lastSeenAt);
}

/** Ends the user's session listed under `handle`: a tombstone, on every isolate within the bound. Its id, if found. */
export async function revokeSession(
  user: string,
  handle: string,
  engine: Engine,
  trace: RequestTrace,
): Promise<string | undefined> {
  const { sessions, revokedBefore } = await engine.store.readIndex(user, trace);
  const target = sessions.find((s) => s.handle === handle && s.since >= revokedBefore);
  if (target === undefined) return undefined;
  const read = await engine.store.read(target.id, 0, undefined, trace);
  const known = read !== "unchanged" && read.kind === "live" ? read : null;
  await endId(target.id, known, "destroyed", target.createdAt, engine, trace);
  await engine.store.changeIndex([{ op: "remove", user, id: target.id }], trace);
  return target.id;
}

/**
 * Revokes every session tied to the user before now (a cut-off; one call per secret of the key ring) and
 * answers how many it ended. `keep`: this session stays: its tie is made anew first, just after the
 * cut-off, unless it was itself revoked already (a copied cookie must not tie itself anew this way).
 */
export async function revokeAllSessions(
  user: string,
  engine: Engine,
  trace: RequestTrace,
  keep: { id: string; since: number; restamp: (since: number) => Promise<void>; end: () => Promise<void> } | undefined,
): Promise<{ ended: string[]; kept: boolean }> {
  const { runtime, policy, store } = engine;
  const at = runtime.now();
  // Listed first (the index leaves revoked entries out), to answer how many it ends.
  const { sessions, revokedBefore } = await store.readIndex(user, trace);
  let kept = keep !== undefined && keep.since >= revokedBefore;
  // The session kept is tied anew one millisecond after the cut-off, before the cut-off is set.
  if (keep !== undefined && kept) {
    await keep.restamp(at + 1);
    // Another sign-out everywhere may have set its cut-off between the check above and the re-tie (two store
    // calls apart): that cut-off ended the session as it was tied, and the re-tie must not bring it back.
    // Read again, before this request's own cut-off is set (so a newer one is another request's).
    if ((await store.revokedBefore(user, trace)) > keep.since) {
      kept = false;
      await keep.end();
    }
  }
  await store.revokeBefore(user, at + 1, policy.markerTtlMs, trace);
  engine.cutoffs.remember(user, { revokedBefore: at + 1, confirmedAt: at });
  const ended = sessions.filter((s) => s.since <= at && !(kept && s.id === keep?.id));
  if (ended.length > 0)
    await store.changeIndex(
      ended.map(({ id }) => ({ op: "remove", user, id })),
      trace,
    );
  return { ended: ended.map((s) => s.id), kept };
}
