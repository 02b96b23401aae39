import { sessionExpiry } from "../protocol/index-ops.js";
import { outlived } from "../protocol/load.js";
import { UNCHANGED } from "../protocol/types.js";
import type { RequestTrace } from "../trace.js";
import type { SessionInfo } from "../types.js";
import { SessionUnavailableError } from "../errors.js";
import { endId } from "./end.js";
import { reportStoreFailure } from "./write.js";
import type { Engine } from "./engine.js";
import type { IndexedSession } from "./ports.js";

/*
 * "Your sessions" and "sign out everywhere". A user's index lists their sessions (an entry per session,
 * changed after the writes that tie or untie it); a per-user cut-off ends, on every isolate within the
 * staleness bound, every session tied to the user before it, including any made from them afterwards by
 * a regenerate (which carries the tie's time). So signing out everywhere is a few store calls, whatever
 * the number of sessions.
 */

/**
 * The session a request acts from, when it acts for the user it is tied to (its id, the time of its tie, and
 * the version this isolate knows stored): one that was revoked or ended, on an isolate that has not heard
 * of it yet (within the staleness bound), lists and revokes nothing.
 */
export type Acting = { id: string; since: number; known: number } | undefined;

/**
 * The user's index, and whether the acting session may act for them: it is read in the same step as the
 * index (in parallel), so a logout or a sign-out everywhere another isolate made is seen here at once.
 */
async function indexFor(
  user: string,
  acting: Acting,
  engine: Engine,
  trace: RequestTrace,
): Promise<{ sessions: IndexedSession[]; revokedBefore: number; refused: boolean; storedSince?: number }> {
  const [index, self] = await Promise.all([
    engine.store.readIndex(user, trace),
    acting === undefined ? undefined : engine.store.read(acting.id, acting.known, undefined, trace),
  ]);
  let refused = acting !== undefined && acting.since < index.revokedBefore;
  if (self !== undefined && self !== UNCHANGED) {
    if (self.kind === "ended" || self.kind === "tampered") refused = true;
    // As stored (this isolate's copy may be older): tied to another user, or before the cut-off.
    else if (self.kind === "live") refused = self.user !== user || self.since < index.revokedBefore;
    // "none": not stored yet (its first write still on its way) or expired; the copy's tie decides.
  }
  // The acting session's tie as stored, when this isolate's copy is older (tied anew elsewhere since).
  const storedSince = self !== undefined && self !== UNCHANGED && self.kind === "live" ? self.since : undefined;
  return { ...index, refused, ...(storedSince !== undefined ? { storedSince } : {}) };
}

/** A user's live sessions, newest first; `currentId` marks the one the request holds. */
export async function listSessions(
  user: string,
  currentId: string | undefined,
  engine: Engine,
  trace: RequestTrace,
  acting?: Acting,
): Promise<SessionInfo[]> {
  const { sessions, revokedBefore, refused } = await indexFor(user, acting, engine, trace);
  const now = engine.runtime.now();
  engine.cutoffs.remember(user, { revokedBefore, confirmedAt: now });
  if (refused) return [];
  const { policy } = engine;
  return (
    sessions
      .map((s) => ({ ...s, expiresAt: sessionExpiry(s.expiresAt, policy) }))
      // Past its absolute lifetime a session is ended on load, but its entry stays until its idle expiry.
      .filter((s) => s.since >= revokedBefore && s.expiresAt > now && !outlived(s.createdAt, now, policy))
      .map(({ handle, id, createdAt, expiresAt }) => ({
        handle,
        createdAt,
        lastSeenAt: expiresAt - policy.idleTimeoutMs,
        expiresAt:
          policy.absoluteTimeoutMs === undefined
            ? expiresAt
            : Math.min(expiresAt, createdAt + policy.absoluteTimeoutMs),
        current: id === currentId,
      }))
      .sort((a, b) => b.lastSeenAt - a.lastSeenAt)
  );
}

/** Ends the user's session listed under `handle`: a tombstone, on every isolate within the bound. Its id, if found. */
export async function revokeSession(
  user: string,
  handle: string,
  engine: Engine,
  trace: RequestTrace,
  acting?: Acting,
): Promise<string | undefined> {
  const { sessions, revokedBefore, refused } = await indexFor(user, acting, engine, trace);
  if (refused) return undefined;
  const target = sessions.find((s) => s.handle === handle && s.since >= revokedBefore);
  if (target === undefined) return undefined;
  const read = await engine.store.read(target.id, 0, undefined, trace);
  const known = read !== "unchanged" && read.kind === "live" ? read : null;
  if (known !== null && known.user !== user) {
    // The entry is stale (an index update that failed, or came late): the session is another user's now.
    await engine.store.changeIndex([{ op: "remove", user, id: target.id }], trace);
    return undefined;
  }
  await endId(target.id, known, "destroyed", target.createdAt, engine, trace);
  await engine.store.changeIndex([{ op: "remove", user, id: target.id }], trace);
  return target.id;
}

/**
 * Revokes every session tied to the user before now (a cut-off; one call per secret of the key ring) and
 * answers how many it ended. `keep`: this session stays: its tie is made anew first, just after the
 * cut-off, unless it was itself revoked already (a copied cookie must not tie itself anew this way), or
 * another session of the user was kept the same way in the same millisecond.
 */
export async function revokeAllSessions(
  user: string,
  engine: Engine,
  trace: RequestTrace,
  keep: { id: string; since: number; restamp: (since: number) => Promise<void>; end: () => Promise<void> } | undefined,
  acting?: Acting,
): Promise<{ ended: string[]; kept: boolean }> {
  const { runtime, policy, store } = engine;
  const now = runtime.now();
  // Listed first (the index leaves revoked entries out), to answer how many it ends.
  const { sessions, revokedBefore, refused, storedSince } = await indexFor(user, acting, engine, trace);
  // A revoked or ended session signs nothing out (the user's sessions made since stay).
  if (refused) return { ended: [], kept: false };
  // The kept session's tie as stored: this isolate's copy may predate a new tie made elsewhere (a retry of this
  // call, on another isolate, after the first attempt tied it anew and failed).
  const keptSince = storedSince ?? keep?.since ?? 0;
  // A session kept is tied anew past the cut-off stored, which a clock ahead of this one's may have set: below
  // it, the session kept would end at once.
  const at = keep === undefined ? now : Math.max(now, revokedBefore);
  let kept = keep !== undefined && keptSince >= revokedBefore;
  let listed = sessions;
  // The session kept is tied anew one millisecond after the cut-off, before the cut-off is set.
  if (keep !== undefined && kept) {
    await keep.restamp(at + 1);
    // Read again, before this request's own cut-off is set (so a newer one is another request's): another
    // sign-out everywhere may have set its cut-off between the check above and the re-tie (two store calls
    // apart), which ended the session as it was tied (the re-tie must not bring it back); or another sign-out
    // everywhere else may have kept its own session in the same millisecond.
    const again = await store.readIndex(user, trace).catch(async (error: unknown) => {
      // Whether another sign-out's cut-off came in between is not known: the session kept gives way, as it would
      // then (best effort: the store is failing), and the call fails.
      await keep.end().catch(() => undefined);
      throw error;
    });
    listed = again.sessions;
    if (again.revokedBefore > keptSince || keptAlongside(again.sessions, keep.id, at + 1)) {
      kept = false;
      await keep.end();
    }
  }
  // Everything tied before now. A sign-out everywhere (nothing kept) reaches one millisecond further: a sign-out
  // everywhere else of the same millisecond (an isolate's clock stands still while it computes, so two requests
  // of one isolate often share one) ties its session anew at `at + 1`, and may do so after this call's check and
  // before its cut-off lands; that session must end too, as it would in either order.
  const cutOff = async (before: number) => {
    await store.revokeBefore(user, before, policy.markerTtlMs, trace);
    engine.cutoffs.remember(user, { revokedBefore: before, confirmedAt: now });
  };
  const cutoff = keep === undefined ? at + 2 : at + 1;
  await cutOff(cutoff);
  const keptId = kept ? keep?.id : undefined;
  // What the cut-off does not reach (see endTiedPast): read again now it stands; a sign-out everywhere else ends
  // only what was tied past it before the call (a race with another one is settled by their new ties and cut-offs).
  const listedAfter = keep === undefined ? undefined : sessions;
  const past = await endTiedPast(user, sessions, listedAfter, cutoff, keptId, engine, trace);
  // Raised over those it could not end (a store failure that lasts fails the call here, after the cut-off stood).
  // Not past a session kept, tied anew at the cut-off: a sign-out everywhere else fails instead (below).
  let reach = cutoff;
  if (past.unreached > 0 && keep === undefined) {
    reach = Math.min(past.unreached + 1, now + MAX_CLOCK_LEAD_MS);
    await cutOff(reach);
  }
  // As listed after the re-tie: a session another request kept meanwhile (tied after the cut-off) keeps its entry.
  const revoked = listed.filter((s) => s.since < reach && s.id !== keptId).map((s) => s.id);
  const ended = [...new Set([...revoked, ...past.ended])];
  if (ended.length > 0)
    await store.changeIndex(
      ended.map((id) => ({ op: "remove", user, id })),
      trace,
    );
  // What it ended is out of the index: a retry (its session still kept) ends the rest.
  if (past.unreached > 0 && keep !== undefined)
    throw past.failure ?? new SessionUnavailableError(new Error(TOO_MANY_PAST));
  return { ended, kept };
}

/**
 * The most sessions tied past one sign-out everywhere's cut-off that it ends one by one (each a few store calls):
 * a handful at most in any real use (see `endTiedPast`), and the calls stay bounded.
 */
const MAX_TIED_PAST_ENDED = 4;
const TOO_MANY_PAST = `more than ${MAX_TIED_PAST_ENDED} sessions tied past the cut-off; the next call ends the rest`;

/**
 * How far past its own clock a sign-out everywhere raises its cut-off over sessions it could not end one by one:
 * a clock further ahead is broken, and every sign-in until then would be revoked too.
 */
const MAX_CLOCK_LEAD_MS = 1_000;

/**
 * Ends, one by one with a tombstone, the sessions that a sign-out everywhere listed when it began but that its
 * cut-off does not reach, being tied at or past it: by a clock ahead of this isolate's, before the call; or
 * anew while it ran, by a sign-out everywhere else between this call's listing and its cut-off that read the
 * index before the cut-off stood (and so did not give way). That is why a sign-out everywhere reads the index
 * again once its cut-off stands (`listedAfter` undefined): each side reads after its own write, so one sees the
 * other. A sign-in made after the call answered is never among them: it was not listed when the call began, and
 * it is tied past the cut-off on any clock not behind this one's. Answers the ids ended, and the latest tie of
 * those it could not end (a store failure, logged, or past the bound), for the cut-off to be raised over: 0 if none.
 */
async function endTiedPast(
  user: string,
  listedBefore: readonly IndexedSession[],
  listedAfter: readonly IndexedSession[] | undefined,
  cutoff: number,
  keptId: string | undefined,
  engine: Engine,
  trace: RequestTrace,
): Promise<{ ended: string[]; unreached: number; failure?: unknown }> {
  let after = listedAfter;
  try {
    after ??= (await engine.store.readIndex(user, trace)).sessions;
  } catch (error) {
    // The sessions tied past the cut-off before the call are still known; one tied anew meanwhile is not.
    reportStoreFailure(error, "read", "a sign-out everywhere could not read the index after its cut-off", engine);
    after = listedBefore;
  }
  const past = after.filter(
    (s) => s.since >= cutoff && s.id !== keptId && listedBefore.some((before) => before.id === s.id),
  );
  const ended: string[] = [];
  let unreached = 0;
  let failure: unknown;
  for (const [i, session] of past.entries()) {
    if (i >= MAX_TIED_PAST_ENDED) {
      unreached = Math.max(unreached, session.since);
      continue;
    }
    try {
      const read = await engine.store.read(session.id, 0, undefined, trace);
      if (read === UNCHANGED || read.kind !== "live" || read.user !== user || read.since < cutoff) continue;
      await endId(session.id, read, "destroyed", session.createdAt, engine, trace);
      ended.push(session.id);
    } catch (error) {
      reportStoreFailure(error, "mark", "a sign-out everywhere could not end a session tied past its cut-off", engine);
      unreached = Math.max(unreached, session.since);
      failure ??= error;
    }
  }
  return { ended, unreached, failure };
}

/**
 * Another session of the user tied anew at `since` too: kept by a sign-out everywhere else of the same
 * millisecond on another isolate. Its cut-off (equal to this one's) leaves this session, as this one leaves it:
 * both would live on. Each re-ties before it reads the index, so at least one of the two sees the other's
 * re-tie, and gives way (both may: then both are signed out).
 */
function keptAlongside(sessions: IndexedSession[], id: string, since: number): boolean {
  return sessions.some((s) => s.id !== id && s.since === since);
}
