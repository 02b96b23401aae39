import { SessionTooLargeError } from "../../errors.js";
import type { Envelope } from "../../sealing/envelope.js";
import type { RequestTrace } from "../../trace.js";
import type { DropReason, SessionData } from "../../types.js";
import type { Patch } from "../merge.js";
import type { Beneath, StoredState } from "../memory-tier.js";

/** One change to write: what it was made against, and how to make it again on newer data. */
export interface WritePlan {
  id: string;
  /** What the store held when the change was made (version 0: nothing): the expected version and merge base. */
  base: StoredState;
  /** A request's change (its top-level keys), or `update(fn)`'s function, applied onto the data the store holds. */
  change: { kind: "patch"; patch: Patch } | { kind: "update"; fn: (data: SessionData) => SessionData | void };
  /** Changes beneath this one whose writes failed but may have landed (see `MemoryEntry.beneath`). */
  beneath?: readonly Beneath[] | undefined;
  /** Versions up to this one were seen (handed to the browser, say): what lands is above it. */
  floor: number;
  tag: string;
  createdAt: number;
  /** The session's user, written with it (the last writer's stands). */
  user: string | undefined;
  /** Which secret's store key holds the session now: a write moves it to the current one (0). */
  at: number;
  /**
   * The store lost the session (nothing stored) while this isolate knew it live until this time: the
   * write restores it. Past it, nothing stored means expired, and the write is dropped (never a revival).
   */
  restoreUntil: number;
}

/** A version as it landed in the store. */
export interface Landed {
  version: number;
  tag: string;
  json: string;
  createdAt: number;
  writtenAt: number;
  user: string | undefined;
  prior?: readonly string[] | undefined;
}

export type WriteOutcome =
  /** `at`: the secret whose store key it landed under (0, the current one, unless found elsewhere). */
  { kind: "written"; landed: Landed; attempts: number; at?: number } | { kind: "dropped"; reason: DropReason };

/** What a marker replaced: live data, nothing (never stored, or expired), or a marker already there. */
export type Ended = "data" | "nothing" | "tombstone" | "retired";

/** A marker that ends an id: destroyed, or retired by regenerate. */
export type Marker = Extract<Envelope, { kind: "tombstone" | "retired" }>;

/**
 * How a changed session reaches the store. Chosen once per isolate: compare-and-set (merging concurrent
 * writers) when the store can, else last-writer-wins. Both throw when the store fails.
 */
export interface SessionWriter {
  /** Whether concurrent writes merge (and markers are final), or the last writer wins. */
  readonly merges: boolean;
  write(plan: WritePlan, trace: RequestTrace): Promise<WriteOutcome>;
  /**
   * Ends an id with a marker (`knownVersion`: what this isolate last saw there; `at`: whose store key;
   * `user`: whose index holds it).
   */
  end(
    id: string,
    knownVersion: number,
    marker: Marker,
    trace: RequestTrace,
    at?: number,
    user?: string,
  ): Promise<Ended>;
}

/** The JSON a plan's change makes of `current`; past `maxBytes` it is refused (`SessionTooLargeError`). */
export function changedJson(plan: WritePlan, current: SessionData, maxBytes: number): string {
  const json = JSON.stringify(applyChange(plan, current));
  const tooLarge = sizeError(json, maxBytes);
  if (tooLarge !== undefined) throw tooLarge;
  return json;
}

/**
 * The error for session JSON of more than `maxBytes` UTF-8 bytes, else `undefined`. The bytes are counted
 * only when the length leaves any doubt (a character takes one to three bytes).
 */
export function sizeError(json: string, maxBytes: number): SessionTooLargeError | undefined {
  if (json.length * 3 <= maxBytes) return undefined;
  const bytes = json.length > maxBytes ? json.length : new TextEncoder().encode(json).length;
  return bytes > maxBytes ? new SessionTooLargeError(bytes, maxBytes) : undefined;
}

/** The data a plan's change makes of `current`. */
export function applyChange(plan: WritePlan, current: SessionData): SessionData {
  if (plan.change.kind === "patch") {
    const result: SessionData = { ...current, ...plan.change.patch.set };
    for (const key of plan.change.patch.deleted) delete result[key];
    return result;
  }
  const copy = structuredClone(current);
  return plan.change.fn(copy) ?? copy;
}
