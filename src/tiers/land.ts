import { SessionDataError, SessionTooLargeError, storeFailureLine, StoreMisconfiguredError } from "../errors.js";
import type { RequestTrace } from "../trace.js";
import type { Reporting, SessionData } from "../types.js";
import { apply, diff } from "./merge.js";
import { isSaved, type MemoryEntry, type MemoryTier } from "./memory-tier.js";
import type { Ended, Landed, Marker, SessionWriter, WriteOutcome, WritePlan } from "./writers/session-writer.js";

/** What landing a write needs. */
export interface LandDeps {
  memory: MemoryTier;
  writer: SessionWriter;
  report: Reporting;
  timeoutMinutes: number;
}

/**
 * An unsaved entry moved onto a newer stored version: its own change (the top-level keys it changed
 * since `from`, what it was made on) applied onto that version's data. A new object: requests that loaded
 * the old one see it as a concurrent change and merge onto it.
 */
export function rebase(entry: MemoryEntry, from: string, onto: MemoryEntry): MemoryEntry {
  const own = diff(JSON.parse(from) as SessionData, JSON.parse(entry.json) as SessionData);
  const { parsed: _parsed, ...rest } = entry;
  return {
    ...rest,
    json: JSON.stringify(apply(own, JSON.parse(onto.json) as SessionData)),
    stored: onto.stored,
    confirmedAt: onto.confirmedAt,
    at: onto.at,
    beneath: undefined,
  };
}

/** The plan that writes a memory entry's change: its top-level keys, made against what the store held. */
export function planFor(id: string, entry: MemoryEntry): WritePlan {
  return {
    id,
    base: entry.stored,
    change: { kind: "patch", patch: diff(JSON.parse(entry.stored.json), JSON.parse(entry.json)) },
    floor: entry.version - 1,
    tag: entry.tag,
    beneath: entry.beneath,
    createdAt: entry.createdAt,
    user: entry.user,
    at: entry.at,
    restoreUntil: entry.expiresAt,
  };
}

/** The memory entry of a version that landed: the store holds exactly it, as of now. */
export function landedEntry(landed: Landed, timeoutMinutes: number, at = 0): MemoryEntry {
  const stored = {
    version: landed.version,
    tag: landed.tag,
    json: landed.json,
    user: landed.user,
    prior: landed.prior,
  };
  const now = Date.now();
  return {
    ...stored,
    createdAt: landed.createdAt,
    user: landed.user,
    at,
    stored,
    confirmedAt: now,
    expiresAt: landed.writtenAt + timeoutMinutes * 60_000,
    refreshedAt: landed.writtenAt,
  };
}

/**
 * Writes `plan` and puts what landed in memory, unless this isolate holds a newer change of the session
 * (whose own write will merge this one's result). `replaces` is the entry the write was made from. Reports
 * the outcome; a store failure is logged, reported and rethrown, and `replaces` stays in memory unsaved,
 * to be written again by the session's next request.
 */
export async function land(
  plan: WritePlan,
  replaces: MemoryEntry | undefined,
  deps: LandDeps,
  trace: RequestTrace,
  deferred: boolean,
): Promise<WriteOutcome & { entry?: MemoryEntry }> {
  const { memory, writer, report } = deps;
  const started = performance.now();
  let outcome: WriteOutcome;
  try {
    outcome = await writer.write(plan, trace);
  } catch (error) {
    if (error instanceof SessionTooLargeError) {
      // What update(fn) or a merge made is too large: refused, never a store failure, and not kept to be
      // written again (it would fail the same way); the store keeps the last saved version.
      if (replaces !== undefined && memory.peek(plan.id) === replaces) memory.delete(plan.id);
      reportRejected(error, report);
      throw error;
    }
    const current = memory.peek(plan.id);
    if (replaces !== undefined && current !== undefined && current !== replaces && !isSaved(current)) {
      if (current.stored === replaces.stored) {
        // A later change made on this one: this write may have landed all the same (an answer lost after the
        // store applied it), so the later change remembers it, to take only its own keys onto what landed.
        const failed = { tag: replaces.tag, json: replaces.json };
        current.beneath = [failed, ...(replaces.beneath ?? [])].slice(0, 8);
      }
    }
    report.onEvent({
      type: "store-failure",
      operation: "write",
      misconfigured: error instanceof StoreMisconfiguredError,
    });
    report.logger.error(
      storeFailureLine(
        error,
        "store write failed; the change stays in this isolate's memory and is written again on the session's next request",
      ),
    );
    throw error;
  }
  const current = memory.peek(plan.id);
  if (outcome.kind === "dropped") {
    // An ended session (destroyed, regenerated, expired, tampered) goes from memory, whatever entry is there;
    // writes given up after conflicts take only the entry they were made from.
    if (current !== undefined && (outcome.reason !== "conflicts" || current === replaces)) memory.delete(plan.id);
    report.onEvent({ type: "write-dropped", reason: outcome.reason });
    report.logger.warn(`hono-edge-session: write dropped: ${DROPPED[outcome.reason]}`);
    return outcome;
  }
  const entry = landedEntry(outcome.landed, deps.timeoutMinutes, outcome.at ?? 0);
  // Another entry of this session may have come since: a newer local change (its own write merges this
  // one's result), a newer saved version, or a retired id. Only an older saved one gives way.
  const newer =
    current !== undefined &&
    current !== replaces &&
    (current.retiredUntil !== undefined || !isSaved(current) || current.version >= entry.version);
  if (!newer) memory.set(plan.id, entry);
  else if (replaces !== undefined && !isSaved(current) && current.stored === replaces.stored) {
    // A later change of this isolate, made on top of this one: it now stands on what landed (merged onto
    // other writes, perhaps), with only its own keys on top, so its write neither conflicts with this one
    // nor carries this one's keys over newer writes of other isolates.
    memory.set(plan.id, rebase(current, replaces.json, entry));
  }
  report.onEvent({
    type: "write",
    deferred,
    attempts: outcome.attempts,
    merges: outcome.attempts - 1,
    durationMs: performance.now() - started,
  });
  return { ...outcome, entry };
}

const DROPPED = {
  destroyed: "the session was destroyed while the request ran",
  regenerated: "the session was regenerated while the request ran; its old id takes no more writes",
  expired: "the session expired in the store before the write",
  tampered: "the store holds a value for this session that does not open or was altered",
  conflicts: "other requests kept writing the session in between",
} as const;

/** A change that cannot be saved (too large, or data JSON cannot hold): logged and reported, never a store failure. */
export function reportRejected(error: SessionDataError | SessionTooLargeError, report: Reporting): void {
  const reason = error instanceof SessionTooLargeError ? "too-large" : "unserialisable";
  report.onEvent({ type: "write-rejected", reason });
  report.logger.error(`hono-edge-session: ${error.message}`);
}

/** Where an id to end lives: the version this isolate knows there, and which secret's key holds it. */
export interface EndTarget {
  id: string;
  knownVersion: number;
  at: number;
  /** Whose index holds it. */
  user: string | undefined;
}

/** Ends an id with `marker` in the store; a failure is logged and reported as one, and rethrown. */
export async function endId(target: EndTarget, marker: Marker, deps: LandDeps, trace: RequestTrace): Promise<Ended> {
  try {
    return await deps.writer.end(target.id, target.knownVersion, marker, trace, target.at, target.user);
  } catch (error) {
    deps.report.onEvent({
      type: "store-failure",
      operation: "mark",
      misconfigured: error instanceof StoreMisconfiguredError,
    });
    deps.report.logger.error(
      storeFailureLine(
        error,
        `the session could not be ${marker.kind === "tombstone" ? "destroyed" : "regenerated"} in the store`,
      ),
    );
    throw error;
  }
}

/** Ends an id for good (destroy, revoke): a tombstone in the store, and gone from this isolate's memory. */
export async function tombstone(
  target: EndTarget,
  createdAt: number,
  deps: LandDeps,
  trace: RequestTrace,
): Promise<void> {
  deps.memory.delete(target.id);
  await endId(target, { kind: "tombstone", createdAt, writtenAt: Date.now() }, deps, trace);
  // A load of this isolate may have put the session back while the tombstone was on its way.
  deps.memory.delete(target.id);
}
