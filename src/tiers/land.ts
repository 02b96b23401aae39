import { SessionTooLargeError, storeFailureLine, StoreMisconfiguredError } from "../errors.js";
import type { RequestTrace } from "../trace.js";
import type { Reporting } from "../types.js";
import { diff } from "./merge.js";
import { isSaved, type MemoryEntry, type MemoryTier } from "./memory-tier.js";
import type { Landed, SessionWriter, WriteOutcome, WritePlan } from "./writers/session-writer.js";

/** What landing a write needs. */
export interface LandDeps {
  memory: MemoryTier;
  writer: SessionWriter;
  report: Reporting;
  timeoutMinutes: number;
}

/** The plan that writes a memory entry's change: its top-level keys, made against what the store held. */
export function planFor(id: string, entry: MemoryEntry): WritePlan {
  return {
    id,
    base: entry.stored,
    change: { kind: "patch", patch: diff(JSON.parse(entry.stored.json), JSON.parse(entry.json)) },
    floor: entry.version - 1,
    tag: entry.tag,
    createdAt: entry.createdAt,
    user: entry.user,
    at: entry.at,
    restoreUntil: entry.expiresAt,
  };
}

/** The memory entry of a version that landed: the store holds exactly it, as of now. */
export function landedEntry(landed: Landed, timeoutMinutes: number, at = 0): MemoryEntry {
  const stored = { version: landed.version, tag: landed.tag, json: landed.json, user: landed.user };
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
    if (current !== undefined && (current === replaces || replaces === undefined)) memory.delete(plan.id);
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
  else if (
    replaces !== undefined &&
    !isSaved(current) &&
    current.stored === replaces.stored &&
    outcome.landed.json === replaces.json
  ) {
    // A later change of this isolate, made on top of this one: it now stands on what landed (which is exactly
    // what it was made from), so its own write expects this version instead of conflicting with it.
    current.stored = entry.stored;
    current.confirmedAt = entry.confirmedAt;
    memory.set(plan.id, current); // accounted again, on its new base
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
