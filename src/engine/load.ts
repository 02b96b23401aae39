import { SessionUnavailableError, storeFailureLine, StoreMisconfiguredError } from "../errors.js";
import { serves } from "../protocol/held.js";
import { refreshedEntry } from "../protocol/index-ops.js";
import { afterRead, checkTie, decideLoad, type Ending, type ReadOutcome } from "../protocol/load.js";
import { freshSession, servedFrom, type Loaded } from "../protocol/request.js";
import { UNCHANGED, type Claim, type Held, type LiveHeld, type ReadAnswer } from "../protocol/types.js";
import type { RequestTrace } from "../trace.js";
import type { Engine } from "./engine.js";
import { reportStoreFailure } from "./write.js";

/**
 * The session at once, without awaiting anything, when this isolate's copy serves the cookie's claim (a
 * memory-tier hit); `undefined` when `loadSession` must decide (a read, a wait, an end, a new session).
 */
export function servedAtOnce(claim: Claim, engine: Engine, trace: RequestTrace): Loaded | undefined {
  const { memory, policy } = engine;
  const now = engine.runtime.now();
  const held = memory.get(claim.id);
  if (held?.kind !== "live") return undefined;
  const cutoff = engine.cutoffs.fresh(userOf(held), now, policy.maxStalenessMs);
  const step = decideLoad({ claim, held, now, policy, cutoff });
  return step.kind === "serve" ? served(step.held, claim, now, engine, trace) : undefined;
}

function served(held: LiveHeld, claim: Claim, now: number, engine: Engine, trace: RequestTrace): Loaded {
  trace.servedBy = "hit";
  engine.report.onEvent({ type: "hit" });
  return servedFrom(held, claim, now, engine.policy.idleTimeoutMs);
}

/**
 * The session a request starts from, on its first use: this isolate's copy while it is fresh and shows the
 * write the cookie names; otherwise one read of the store (which other requests of this isolate that come
 * meanwhile wait for instead of reading too). The decisions are `decideLoad` and `afterRead`.
 */
export async function loadSession(claim: Claim | undefined, engine: Engine, trace: RequestTrace): Promise<Loaded> {
  const { runtime, memory, policy } = engine;
  if (claim === undefined) {
    trace.servedBy = "new";
    return freshSession(runtime.newId(), runtime.now(), undefined);
  }
  let joined = 0;
  /** When this request first waited for another's read. */
  let joinedAt: number | undefined;
  let waitedMs = 0;
  let knewIt: boolean | undefined;
  const started = runtime.now();
  for (;;) {
    const now = runtime.now();
    const held = memory.get(claim.id);
    knewIt ??= held?.kind === "live";
    const cutoff = engine.cutoffs.fresh(userOf(held), now, policy.maxStalenessMs);
    const step = decideLoad({ claim, held, now, policy, cutoff }, joined);
    switch (step.kind) {
      case "serve":
        return served(step.held, claim, now, engine, trace);
      case "end":
        remember(engine, claim.id, step.held);
        return ended(claim, step.ending, engine, trace, step.held);
      case "join":
        // Another request of this isolate is reading this session: wait on memory, never on its I/O.
        joined++;
        joinedAt ??= now;
        await runtime.sleep(step.pollMs);
        trace.waitedMs += step.pollMs;
        continue;
      case "cutoff":
        try {
          await readCutoff(step.user, engine, trace);
        } catch (error) {
          return unavailable(claim, held, error, engine, trace);
        }
        continue;
      case "read": {
        // The read this request waited for failed: its failure is this request's too. Reading again would
        // add a whole store timeout to the wait, and one more for each request waiting behind this one.
        const failed = joinedAt === undefined ? undefined : engine.readFailures.get(claim.id);
        if (failed !== undefined && failed.at >= joinedAt!)
          return unavailable(claim, held, failed.error, engine, trace);
        memory.set(claim.id, step.held);
        const startedAt = now;
        const user = step.held.kind === "live" ? step.held.view.user : undefined;
        const created = step.held.kind === "live" ? step.held.view.createdAt : 0;
        const refreshMs = step.refresh && engine.store.revalidating ? policy.idleTimeoutMs : undefined;
        let answer: ReadAnswer;
        try {
          if (user === undefined) answer = await engine.store.read(claim.id, step.known, refreshMs, trace);
          else {
            // The session and its user's cut-off, together (one call where the store can); a read that pushes
            // the session's expiry forward pushes its entry in the user's index too, beside it.
            const [confirmed] = await Promise.all([
              engine.store.confirm(claim.id, step.known, refreshMs, user, trace),
              refreshMs === undefined ? undefined : touchIndexEntry(claim.id, user, created, startedAt, engine, trace),
            ]);
            engine.cutoffs.remember(user, { revokedBefore: confirmed.revokedBefore, confirmedAt: startedAt });
            answer = confirmed.answer;
          }
        } catch (error) {
          engine.readFailures.set(claim.id, { at: runtime.now(), error });
          doneReading(engine, claim.id);
          return unavailable(claim, memory.peek(claim.id), error, engine, trace);
        }
        const outcome = afterRead({
          claim,
          held: memory.peek(claim.id),
          answer,
          startedAt,
          refreshed: refreshMs !== undefined && answer === UNCHANGED,
          now: runtime.now(),
          policy,
          waitedMs,
        });
        if (outcome.kind === "wait") {
          remember(engine, claim.id, outcome.held);
          await runtime.sleep(outcome.pauseMs);
          waitedMs += outcome.pauseMs;
          trace.waitedMs += outcome.pauseMs;
          continue;
        }
        trace.servedBy = knewIt ? "revalidated" : "miss";
        const durationMs = runtime.now() - started;
        engine.report.onEvent(
          knewIt
            ? { type: "revalidated", changed: outcome.kind !== "serve" || outcome.changed, durationMs }
            : { type: "miss", found: outcome.kind !== "end", durationMs },
        );
        return await settled(claim, outcome, engine, trace, waitedMs);
      }
    }
  }
}

/**
 * Pushes a session's entry in its user's index forward with the session (else a session kept alive by reads
 * alone dropped out of "your sessions", and out of the count `maxSessionsPerUser` keeps, one idle timeout
 * after its last write). Never rejects: a failure is logged, and the next refresh tries again.
 */
async function touchIndexEntry(
  id: string,
  user: string,
  createdAt: number,
  refreshedAt: number,
  engine: Engine,
  trace: RequestTrace,
): Promise<void> {
  if (!engine.store.indexed) return;
  try {
    await engine.store.changeIndex([refreshedEntry(id, user, createdAt, refreshedAt, engine.policy)], trace);
  } catch (error) {
    reportStoreFailure(
      error,
      "refresh",
      "the user index entry's expiry could not be pushed forward; a later refresh tries again",
      engine,
    );
  }
}

/** What the request is served once the store answered (the tie to its user checked). */
async function settled(
  claim: Claim,
  outcome: Exclude<ReadOutcome, { kind: "wait" }>,
  engine: Engine,
  trace: RequestTrace,
  waitedMs: number,
): Promise<Loaded> {
  const { policy, report } = engine;
  if (outcome.kind === "end") {
    remember(engine, claim.id, outcome.held);
    return ended(claim, outcome.ending, engine, trace);
  }
  if (outcome.kind === "settle" && outcome.held.kind === "gone") {
    remember(engine, claim.id, outcome.held);
    return ended(claim, "gone", engine, trace);
  }
  const held = outcome.held as LiveHeld;
  remember(engine, claim.id, held);
  if (checkTie(held, engine.cutoffs.fresh(held.view.user, engine.runtime.now(), policy.maxStalenessMs)) === "unknown") {
    // A user learnt only from this read (a miss): their cut-off, before the session is served.
    try {
      await readCutoff(held.view.user!, engine, trace);
    } catch (error) {
      return unavailable(claim, held, error, engine, trace);
    }
  }
  const cutoff = engine.cutoffs.fresh(held.view.user, engine.runtime.now(), Number.POSITIVE_INFINITY);
  if (checkTie(held, cutoff) === "revoked") return ended(claim, "revoked", engine, trace, held);
  const loaded = servedFrom(held, claim, engine.runtime.now(), policy.idleTimeoutMs);
  if (outcome.kind !== "rollback" && outcome.kind !== "settle") return loaded;
  // The store is behind: a version older than this isolate saw (never gone back to), or the claimed write
  // did not come within the wait. Reported; a claim is settled once, so no later request waits for it.
  const served = outcome.kind === "settle" && policy.onStaleRead === "serve";
  report.onEvent({
    type: "stale-read",
    storedVersion: outcome.storedVersion,
    cookieVersion: claim.version,
    waitedMs: Math.round(waitedMs),
    served: outcome.kind === "rollback" ? false : served,
  });
  const line = `hono-edge-session: the store holds version ${outcome.storedVersion} but ${outcome.kind === "rollback" ? "this isolate saw a newer one stored; serving that" : `the cookie names ${claim.version}`}`;
  if (outcome.kind === "settle" && !served) {
    report.logger.error(`${line}; answering 503 once (onStaleRead: "reject"), and the cookie names what is stored`);
    return { ...loaded, refused: true, settled: true };
  }
  report.logger.warn(`${line}; serving it`);
  return outcome.kind === "settle" ? { ...loaded, settled: true } : loaded;
}

/** A new session instead of the one the cookie named (which ended for `ending`). */
function ended(claim: Claim, ending: Ending, engine: Engine, trace: RequestTrace, held?: Held): Loaded {
  if (trace.servedBy === "none") trace.servedBy = "new";
  // A retired id keeps its id for the request (read only, empty): nothing it does reaches the browser.
  const id = ending === "retired" ? claim.id : engine.runtime.newId();
  const loaded = freshSession(id, engine.runtime.now(), claim, ending);
  const revokedAt = ending === "revoked" && held?.kind === "live" && held.base !== null ? held.base.version : undefined;
  return revokedAt === undefined ? loaded : { ...loaded, revokedAt };
}

/** Reads the user's cut-off into the isolate's cache. */
async function readCutoff(user: string, engine: Engine, trace: RequestTrace): Promise<void> {
  if (!engine.store.indexed)
    return engine.cutoffs.remember(user, { revokedBefore: 0, confirmedAt: engine.runtime.now() });
  const startedAt = engine.runtime.now();
  const revokedBefore = await engine.store.revokedBefore(user, trace);
  engine.cutoffs.remember(user, { revokedBefore, confirmedAt: startedAt });
}

/** The store could not be read. An isolate that holds the session serves it; otherwise the policy decides. */
function unavailable(
  claim: Claim,
  held: Held | undefined,
  error: unknown,
  engine: Engine,
  trace: RequestTrace,
): Loaded {
  const { report, policy } = engine;
  report.onEvent({ type: "store-failure", operation: "read", misconfigured: error instanceof StoreMisconfiguredError });
  if (held?.kind === "live" && serves(held, claim)) {
    report.logger.error(storeFailureLine(error, "store read failed; serving this isolate's copy of the session"));
    trace.servedBy = "hit";
    return { ...servedFrom(held, claim, engine.runtime.now(), policy.idleTimeoutMs), degraded: true };
  }
  if (engine.onStoreUnavailable === "reject") {
    report.logger.error(storeFailureLine(error, "store read failed, answering 503"));
    throw new SessionUnavailableError(error);
  }
  report.logger.error(storeFailureLine(error, "store read failed, starting a new session"));
  trace.servedBy = "new";
  // The cookies are kept: the session may well be there once the store is back.
  return { ...freshSession(engine.runtime.newId(), engine.runtime.now(), undefined), degraded: true };
}

/** Puts what the protocol decided into memory (a new holding, a marker of the end, or nothing). */
function remember(engine: Engine, id: string, held: Held | undefined): void {
  if (held === undefined) engine.memory.delete(id);
  else if (!engine.memory.set(id, held) && held.kind !== "live") engine.memory.delete(id);
}

/** A read that failed: other requests stop waiting for it. */
function doneReading(engine: Engine, id: string): void {
  const held = engine.memory.peek(id);
  if (held?.kind === "reading") engine.memory.delete(id);
  else if (held?.kind === "live" && held.reading !== undefined) engine.memory.set(id, { ...held, reading: undefined });
}

function userOf(held: Held | undefined): string | undefined {
  return held?.kind === "live" ? held.view.user : undefined;
}
