import { SessionNotSavedError } from "../errors.js";
import { endedHeld, notLanded, viewOf } from "../protocol/held.js";
import { apply } from "../protocol/patch.js";
import { freshSession, markOf, type Loaded, type RequestChange } from "../protocol/request.js";
import type { EndReason, Held, LiveHeld, Tie, Version } from "../protocol/types.js";
import { afterEnd, MAX_WRITE_ATTEMPTS, planEnd } from "../protocol/write.js";
import type { RequestTrace } from "../trace.js";
import type { Engine } from "./engine.js";
import { localCell, memoryCell, reportStoreFailure, startOf, writeChanges, type WriteResult } from "./write.js";

/*
 * Ending ids: `destroy()` (a tombstone), `regenerate()` (the old id retired, the data under a new one) and
 * revocation. A marker is final: no write brings the id back.
 */

/** What an end replaced: the live version it ended, nothing, or a marker already there. */
export type Ended = { kind: "live"; version: Version | null } | { kind: "already"; reason: EndReason };

/**
 * Writes the marker over whatever stands there (`known`: the version this isolate last saw stored); throws
 * (logged) when the store fails.
 */
export async function endId(
  id: string,
  known: Version | null,
  reason: EndReason,
  createdAt: number,
  engine: Engine,
  trace: RequestTrace,
): Promise<Ended> {
  let plan = planEnd(known?.version ?? 0, reason, engine.runtime.newTag());
  let replacing: Version | null = known;
  // Forgotten here at once: a request of this isolate that loads it meanwhile must not serve it.
  const ended = () => endedHeld(reason, engine.runtime.now(), engine.policy);
  const before = engine.memory.peek(id);
  engine.memory.set(id, ended());
  const end = () => engine.store.end(id, plan, createdAt, engine.policy.markerTtlMs, trace);
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    let answer;
    try {
      // Tried once more when it fails: the marker may have landed with its answer lost (a retirement whose
      // caller then gives up would leave the session under neither id). The same plan, so the second attempt
      // writes nothing twice, and knows the marker for its own if it finds it.
      answer = await end().catch((error: unknown) => {
        reportStoreFailure(error, "mark", "the end is tried once more", engine);
        return end();
      });
    } catch (error) {
      // The marker may not have landed: this isolate's copy comes back (it is confirmed again past the bound).
      if (engine.memory.peek(id)?.kind === "ended") {
        if (before?.kind === "live") engine.memory.set(id, { ...before, confirmedAt: 0 });
        else engine.memory.delete(id);
      }
      const what = reason === "destroyed" ? "destroyed" : "regenerated";
      reportStoreFailure(error, "mark", `the session could not be ${what} in the store`, engine);
      throw error;
    }
    const outcome = afterEnd(plan, answer, replacing);
    engine.memory.set(id, ended());
    if (outcome.kind === "ended") return { kind: "live", version: outcome.replaced };
    if (outcome.kind === "already") return { kind: "already", reason: outcome.reason };
    plan = outcome.plan;
    replacing = outcome.live;
  }
  throw new SessionNotSavedError("the session could not be ended: other writes kept landing in between");
}

/** `destroy()`: a tombstone where the session was, before this returns; its user's index entry goes too. */
export async function destroySession(loaded: Loaded, engine: Engine, trace: RequestTrace): Promise<void> {
  if (loaded.isNew) {
    engine.memory.delete(loaded.id);
    return;
  }
  const held = engine.memory.peek(loaded.id);
  const known = knownVersion(held, loaded);
  const ended = await endId(loaded.id, known, "destroyed", loaded.view.createdAt, engine, trace);
  // The user the store had it tied to, which a copy from before a sign-in elsewhere does not know of.
  await unindex([loaded.view.user, tiedIn(ended)], loaded.id, engine, trace);
}

/**
 * `regenerate()`: the old id is retired first (so nothing written to it afterwards counts), and only a live
 * session is carried over to the new id (a session destroyed or revoked meanwhile never is), with this
 * isolate's changes and the request's own on top. Both land before this returns. The retired marker never
 * names the new id. Answers the request's session under the new id (empty when nothing was carried).
 */
export async function regenerateSession(
  loaded: Loaded,
  change: RequestChange,
  engine: Engine,
  trace: RequestTrace,
): Promise<Loaded | UnsavedRegeneration> {
  const { runtime, policy } = engine;
  let carried: LiveHeld | undefined = loaded.readOnly ? undefined : startOf(loaded, engine);
  /** A store failure after the old id was retired: the session lives on under the new id, the caller hears of it. */
  let failure: { error: unknown } | undefined;
  if (!loaded.isNew && !loaded.readOnly) {
    const held = engine.memory.peek(loaded.id);
    const from = held?.kind === "live" ? held : carried!;
    const ended = await endId(loaded.id, knownVersion(held, loaded), "retired", loaded.view.createdAt, engine, trace);
    carried = carriedOver(ended, from);
    // A new tie made with the regenerate (setUser() before it) would take a revoked session out of its
    // user's reach, as a write changing the tie would: the cut-off is read afresh for it, as that write does.
    if (carried !== undefined) {
      try {
        if (await retiesRevoked(ended, change, engine, trace)) carried = undefined;
      } catch (error) {
        // The old id is retired already: the session lives on under the new id, but with the tie the store had
        // (checked against its cut-off as any session's is), not the new one; regenerate() rejects all the same.
        failure = { error };
        change = { ...change, tie: undefined };
      }
    }
    if (carried === undefined) {
      engine.report.onEvent({ type: "write-dropped", reason: "destroyed" });
      engine.report.logger.warn(
        "hono-edge-session: regenerate of a session that had ended meanwhile: a new, empty session instead",
      );
    }
    await unindex([from.view.user, tiedIn(ended)], loaded.id, engine, trace);
  }
  const id = runtime.newId();
  const now = runtime.now();
  if (carried === undefined) return freshSession(id, now, undefined);
  const data = apply(change.patch, JSON.parse(carried.view.json) as Record<string, unknown>);
  const tie: Tie = change.tie ?? { user: carried.view.user, since: carried.view.since };
  // The new id's first version: the whole data, written before this returns.
  const first = { tag: runtime.newTag(), patch: { set: data, deleted: [] }, tie, version: 1, at: now, bytes: 0 };
  const held: LiveHeld = {
    kind: "live",
    base: null,
    changes: [first],
    view: viewOf(null, [first], carried.view),
    confirmedAt: now,
    refreshedAt: now,
    expiresAt: now + policy.idleTimeoutMs,
    floor: 0,
    settled: [],
  };
  const kept = engine.memory.set(id, held);
  const cell = kept ? memoryCell(engine, id) : localCell(held);
  let result: WriteResult | "failed";
  try {
    result = await writeChanges(id, cell, engine, trace, false);
  } catch (error) {
    // The old id is retired: the session lives on only under the new one. Kept in this isolate's memory, it
    // is written again after the response, as any failed write is, so the browser must still get the new id.
    if (!kept || cell.get()?.kind !== "live") throw error;
    result = "failed";
    failure = { error };
  }
  const saved = cell.get();
  if (result !== "failed" && (result.kind !== "saved" || saved?.kind !== "live")) {
    throw new SessionNotSavedError(
      `the regenerated session was not saved (${result.kind === "dropped" ? result.reason : result.kind})`,
    );
  }
  const live = saved as LiveHeld;
  const regenerated: Loaded = {
    ...loaded,
    id,
    isNew: false,
    readOnly: false,
    view: live.view,
    held: live,
    ending: undefined,
    served: markOf(live, policy.idleTimeoutMs),
  };
  return failure === undefined ? regenerated : new UnsavedRegeneration(regenerated, failure.error);
}

/**
 * `regenerate()`'s session under its new id when the store failed its first write, the old id retired already:
 * held in this isolate's memory only (written again after the response); or when the store failed the cut-off
 * read a new tie needs (the session then keeps the tie it had). The request must adopt it, so that the
 * response gives the browser the new id, and still hear of the failure.
 */
export class UnsavedRegeneration {
  constructor(
    readonly loaded: Loaded,
    readonly error: unknown,
  ) {}
}

/** What a retirement leaves to carry over: the newest live data with this isolate's changes that did not land in it. */
function carriedOver(ended: Ended, from: LiveHeld): LiveHeld | undefined {
  if (ended.kind === "already") return undefined;
  const replaced = ended.version;
  if (replaced === null) {
    // Nothing stood there: a session never written (carried as it is), or one that expired (not carried).
    return from.base === null ? from : undefined;
  }
  const changes = notLanded(from.changes, replaced.tags);
  return { ...from, base: replaced, changes, view: viewOf(replaced, changes, replaced) };
}

/** The version this isolate last saw stored for the request's session. */
function knownVersion(held: Held | undefined, loaded: Loaded): Version | null {
  const live = held?.kind === "live" ? held : loaded.held;
  return live?.base != null && !live.missing ? live.base : null;
}

/** The user the version an end replaced was tied to. */
function tiedIn(ended: Ended): string | undefined {
  return ended.kind === "live" ? ended.version?.user : undefined;
}

/** The regenerate's own new tie replaces a stored tie that a sign-out everywhere revoked. */
async function retiesRevoked(
  ended: Ended,
  change: RequestChange,
  engine: Engine,
  trace: RequestTrace,
): Promise<boolean> {
  const stored = ended.kind === "live" ? ended.version : null;
  const tie = change.tie;
  if (tie === undefined || stored === null || stored.user === undefined || !engine.store.indexed) return false;
  if (tie.user === stored.user && tie.since === stored.since) return false;
  const startedAt = engine.runtime.now();
  const revokedBefore = await engine.store.revokedBefore(stored.user, trace);
  engine.cutoffs.remember(stored.user, { revokedBefore, confirmedAt: startedAt });
  return stored.since < revokedBefore;
}

/**
 * Takes an ended session out of its users' index (the one this request knew, and the one the store had); a
 * failure is logged (the entry expires with the session).
 */
async function unindex(users: (string | undefined)[], id: string, engine: Engine, trace: RequestTrace): Promise<void> {
  const ops = [...new Set(users)].flatMap((user) => (user === undefined ? [] : [{ op: "remove" as const, user, id }]));
  if (ops.length === 0 || !engine.store.indexed) return;
  try {
    await engine.store.changeIndex(ops, trace);
  } catch (error) {
    reportStoreFailure(error, "mark", "the ended session could not be taken out of its user's index", engine);
  }
}
