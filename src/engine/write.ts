import {
  SessionDataError,
  SessionNotSavedError,
  SessionTooLargeError,
  storeFailureLine,
  StoreMisconfiguredError,
} from "../errors.js";
import { endedHeld, holding, isSaved, retiedSince, viewOf } from "../protocol/held.js";
import type { Loaded } from "../protocol/request.js";
import { UNCHANGED, type Held, type IndexOp, type LiveHeld, type Version } from "../protocol/types.js";
import {
  afterWrite,
  byteLength,
  dropReason,
  exceeds,
  MAX_WRITE_ATTEMPTS,
  planUpdate,
  planWrite,
  refuse,
  type DropReason,
  type WritePlan,
} from "../protocol/write.js";
import { RequestTrace } from "../trace.js";
import type { Engine } from "./engine.js";
import { indexChangesOf } from "../protocol/index-ops.js";
import { MAX_DEPTH, tooDeep } from "../nesting.js";

/*
 * Writes: this isolate's changes of a session (the write queue, after the response), `commit()` and
 * `update(fn)`. Each is a compare-and-set loop whose every answer `afterWrite` interprets.
 */

/** Where a write finds and leaves this isolate's copy: the memory tier, or, for one it cannot hold, a local cell. */
export interface Cell {
  get(): Held | undefined;
  set(held: Held): void;
}

/**
 * The memory tier's entry of `id`. Should the tier stop holding it (grown past what one entry may be),
 * the write goes on from a local copy, so no change it carries is dropped on the way.
 */
export function memoryCell(engine: Engine, id: string): Cell {
  return new MemoryCell(engine, id);
}

export function localCell(initial: Held): Cell {
  return new LocalCell(initial);
}

// Classes, not objects of arrow functions: a write allocates no closures (and a build that keeps names,
// as wrangler's does, renames none per write).
class MemoryCell implements Cell {
  #local: Held | undefined;

  constructor(
    readonly engine: Engine,
    readonly id: string,
  ) {}

  get(): Held | undefined {
    return this.#local ?? this.engine.memory.peek(this.id);
  }

  set(held: Held): void {
    if (this.#local !== undefined) this.#local = held;
    else if (!this.engine.memory.set(this.id, held)) {
      this.engine.memory.delete(this.id);
      this.#local = held;
    }
  }
}

class LocalCell implements Cell {
  #held: Held | undefined;

  constructor(initial: Held) {
    this.#held = initial;
  }

  get(): Held | undefined {
    return this.#held;
  }

  set(next: Held): void {
    this.#held = next;
  }
}

/** How a run of writes ended. */
export type WriteResult =
  { kind: "saved" } | { kind: "dropped"; reason: DropReason } | { kind: "rejected" } | { kind: "conflicts" };

/**
 * Writes the changes this isolate holds of the session until none is left (new ones made meanwhile
 * included). Throws when the store fails: the changes stay for the session's next request.
 */
export async function writeChanges(
  id: string,
  cell: Cell,
  engine: Engine,
  trace: RequestTrace,
  deferred: boolean,
): Promise<WriteResult> {
  const { runtime, policy, report } = engine;
  let attempts = 0;
  let started = runtime.now();
  for (;;) {
    const held = cell.get();
    // Ended meanwhile (its changes go with it), or no longer held (evicted: reported by the tier).
    if (held?.kind === "ended") return { kind: "dropped", reason: dropReason(held.reason) };
    if (held?.kind !== "live") return { kind: "saved" };
    const plan = planWrite(held, policy);
    if (plan === undefined) return { kind: "saved" };
    if (plan === "too-large") {
      // What the merge made is too large: refused, never a store failure, and not kept to be written again
      // (it would fail the same way); the store keeps what it holds.
      cell.set(refuse(held));
      reportRejected(new SessionTooLargeError(byteLength(held.view.json), policy.maxSessionBytes), engine);
      return { kind: "rejected" };
    }
    if (++attempts > MAX_WRITE_ATTEMPTS) {
      report.logger.warn(
        "hono-edge-session: other requests kept writing the session in between; the change is written again later",
      );
      return { kind: "conflicts" };
    }
    const outcome = await writeOnce(id, plan, held, cell, engine, trace, attempts);
    switch (outcome.kind) {
      case "landed":
        report.onEvent({
          type: "write",
          deferred,
          attempts,
          merges: attempts - 1,
          durationMs: runtime.now() - started,
        });
        attempts = 0;
        started = runtime.now();
        continue;
      case "conflict":
        if (attempts > 1) await backOff(attempts, engine);
        continue;
      case "dropped":
        return { kind: "dropped", reason: outcome.reason };
    }
  }
}

/** One compare-and-set and what it means; memory is updated, the events reported. */
async function writeOnce(
  id: string,
  plan: WritePlan,
  before: LiveHeld,
  cell: Cell,
  engine: Engine,
  trace: RequestTrace,
  attempt: number,
): Promise<{ kind: "landed"; version: Version } | { kind: "conflict" } | { kind: "dropped"; reason: DropReason }> {
  const { runtime, policy, report, store } = engine;
  const startedAt = runtime.now();
  let answer;
  try {
    const revokedBefore = await untiesRevoked(plan, before, engine, trace);
    if (revokedBefore !== undefined) {
      // Revoked, or planned on a version older than the store's: then a conflict, planned again on it.
      const stored = await store.read(id, 0, undefined, trace);
      const newer = retiedSince(before.base!, stored, revokedBefore);
      if (newer !== undefined) {
        cell.set(holding(newer, runtime.now(), cell.get(), policy.idleTimeoutMs));
        return { kind: "conflict" };
      }
      cell.set(endedHeld("destroyed", runtime.now(), policy));
      report.onEvent({ type: "write-dropped", reason: "destroyed" });
      report.logger.warn(`hono-edge-session: write dropped: ${DROPPED.destroyed}`);
      return { kind: "dropped", reason: "destroyed" };
    }
    answer = await store.write(id, plan, policy.idleTimeoutMs, trace);
  } catch (error) {
    reportStoreFailure(
      error,
      "write",
      "store write failed; the change stays in this isolate's memory and is written again on the session's next request",
      engine,
    );
    throw error;
  }
  const outcome = afterWrite({ held: cell.get(), plan, answer, startedAt, now: runtime.now(), policy });
  switch (outcome.kind) {
    case "landed": {
      if (outcome.held !== undefined) cell.set(outcome.held);
      const index = indexChangesOf(id, before.base, outcome.version, before, runtime.now(), policy);
      if (index.length > 0) await changeIndex(id, index, outcome.version, engine, trace, cell);
      return { kind: "landed", version: outcome.version };
    }
    case "conflict":
      cell.set(outcome.held);
      report.onEvent({ type: "write-conflict", attempt });
      if (outcome.overwrites > 0) report.onEvent({ type: "write-overwrite", keys: outcome.overwrites });
      return { kind: "conflict" };
    case "restore":
      cell.set(outcome.held);
      return { kind: "conflict" };
    case "dropped":
      cell.set(outcome.held);
      report.onEvent({ type: "write-dropped", reason: outcome.reason });
      report.logger.warn(`hono-edge-session: write dropped: ${DROPPED[outcome.reason]}`);
      return { kind: "dropped", reason: outcome.reason };
  }
}

/**
 * A write that changes the tie of a session whose current tie was revoked (a sign-out everywhere this
 * isolate had not heard of yet): it would take the session out of its user's reach for good. The cut-off
 * is read afresh for it (ties change at sign-in and sign-out: rarely).
 */
async function untiesRevoked(
  plan: WritePlan,
  before: LiveHeld,
  engine: Engine,
  trace: RequestTrace,
): Promise<number | undefined> {
  const base = before.base;
  if (base === null || before.missing || base.user === undefined || !engine.store.indexed) return undefined;
  if (plan.tie.user === base.user && plan.tie.since === base.since) return undefined;
  const startedAt = engine.runtime.now();
  const revokedBefore = await engine.store.revokedBefore(base.user, trace);
  engine.cutoffs.remember(base.user, { revokedBefore, confirmedAt: startedAt });
  return base.since < revokedBefore ? revokedBefore : undefined;
}

/**
 * Index changes after the write that `landed`; a failure is logged (the session is written; its listing is
 * not). An end (logout, revokeSession, regenerate) writes its marker and then takes the entry out: both can
 * fall between this write and its put, which would then list the ended session until the entry expires. So
 * the session is read again after a put, and an ended one's entry goes: markers are final, and either this
 * read comes after the marker, or the put came before the end's removal (which took it out).
 */
async function changeIndex(
  id: string,
  ops: IndexOp[],
  landed: Version,
  engine: Engine,
  trace: RequestTrace,
  cell: Cell,
): Promise<void> {
  try {
    await engine.store.changeIndex(ops, trace);
    const held = cell.get();
    if (held?.kind === "live") cell.set({ ...held, indexedAt: engine.runtime.now() });
    const put = ops.find((op) => op.op === "put");
    if (put !== undefined && (await endedSince(id, landed, engine, trace)))
      await engine.store.changeIndex([{ op: "remove", user: put.user, id }], trace);
  } catch (error) {
    reportStoreFailure(error, "write", "the user index could not be updated; the session is saved", engine);
  }
}

/** The store holds a marker where `landed` was written: the session ended since. */
async function endedSince(id: string, landed: Version, engine: Engine, trace: RequestTrace): Promise<boolean> {
  const answer = await engine.store.read(id, landed.version, undefined, trace);
  return answer !== UNCHANGED && answer.kind === "ended";
}

/** Random back-off after a conflict, growing per attempt (up to 100 ms), so racing writers spread out. */
function backOff(attempt: number, engine: Engine): Promise<void> {
  const ceiling = Math.min(100, 4 * 2 ** (attempt - 1));
  return engine.runtime.sleep(Math.floor(engine.runtime.random() * ceiling));
}

/** A run of this isolate's writes of a session has not moved for this long: it died with its request. */
const STALLED_MS = 35_000;
/** One request's run writes at most this many rounds; the next change starts a new run. */
const MAX_ROUNDS = 16;
/** A run whose write failed tries again after these pauses (a lost answer, a blip), then leaves it to the next request. */
const RETRY_PAUSES_MS = [100, 400];

/**
 * The write queue: writes the session's changes after the response, one run per session per isolate. A
 * change made while a run is writing is left in memory, and the run writes it in its next round, so a burst
 * of changes costs a few writes. No request waits on another's promise (on Workers that can hang): the
 * request that starts the run carries it in its own `waitUntil`. `undefined` when a run is already going.
 */
export function flushLater(id: string, engine: Engine, deferred: boolean): Promise<void> | undefined {
  const now = engine.runtime.now();
  const beat = engine.writing.get(id);
  if (beat !== undefined && now - beat < STALLED_MS) return undefined;
  engine.writing.set(id, now);
  return run(id, engine, deferred, now);
}

async function run(id: string, engine: Engine, deferred: boolean, mine: number): Promise<void> {
  const trace = new RequestTrace();
  let failures = 0;
  try {
    // After this task: none of the sealing runs before the response is handed back. The run is already
    // marked, so no change made meanwhile is left unwritten.
    if (deferred) await engine.runtime.sleep(0);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const held = engine.memory.peek(id);
      // Checked and given up in one synchronous step: a change made after this is never left unwritten.
      if (held?.kind !== "live" || isSaved(held)) return;
      engine.writing.set(id, engine.runtime.now());
      try {
        const result = await writeChanges(id, memoryCell(engine, id), engine, trace, deferred);
        if (result.kind !== "saved") return;
      } catch {
        // Logged and reported where it failed. Tried again a little later (requests that came meanwhile
        // left their changes to this run), then left for the session's next request.
        const pause = RETRY_PAUSES_MS[failures++];
        if (pause === undefined) return;
        await engine.runtime.sleep(pause);
      }
    }
  } finally {
    const beat = engine.writing.get(id);
    if (beat !== undefined && beat >= mine) engine.writing.delete(id);
  }
}

/** A write of this session is running in this isolate. */
export function writingNow(id: string, engine: Engine): boolean {
  const beat = engine.writing.get(id);
  return beat !== undefined && engine.runtime.now() - beat < STALLED_MS;
}

/**
 * `update(fn)`: `fn` applied to this isolate's newest view of the session and written at once with
 * compare-and-set; on a conflict it runs again on what the store holds (with this isolate's changes that
 * did not land in it), never twice for one landed write. Answers the session as it landed.
 */
export async function updateSession(
  loaded: Loaded,
  fn: (data: Record<string, unknown>) => Record<string, unknown> | void,
  engine: Engine,
  trace: RequestTrace,
): Promise<LiveHeld> {
  const { runtime, policy, report } = engine;
  const tag = runtime.newTag();
  const cell =
    engine.memory.peek(loaded.id) !== undefined ? memoryCell(engine, loaded.id) : localCell(startOf(loaded, engine));
  const started = runtime.now();
  for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
    const current = cell.get();
    if (current?.kind === "ended") throw notSaved(current.reason === "retired" ? "regenerated" : "destroyed");
    const held = current?.kind === "live" ? current : startOf(loaded, engine);
    const json = runUpdate(fn, held.view.json, engine);
    if (exceeds(json, policy.maxSessionBytes)) {
      const error = new SessionTooLargeError(byteLength(json), policy.maxSessionBytes);
      reportRejected(error, engine);
      throw error;
    }
    const plan = planUpdate(held, json, tag);
    const outcome = await writeOnce(loaded.id, plan, held, cell, engine, trace, attempt);
    if (outcome.kind === "landed") {
      report.onEvent({
        type: "write",
        deferred: false,
        attempts: attempt,
        merges: attempt - 1,
        durationMs: runtime.now() - started,
      });
      const now = cell.get();
      // Memory may not keep it (too large for the tier): the landed version, as the request's own.
      return now?.kind === "live" ? now : holding(outcome.version, runtime.now(), undefined, policy.idleTimeoutMs);
    }
    if (outcome.kind === "dropped") throw notSaved(outcome.reason);
    if (attempt > 1) await backOff(attempt, engine);
  }
  throw new SessionNotSavedError("the session was not saved: other requests kept writing it in between");
}

/**
 * `fn` on a private copy of the data; what it returns (or the copy it changed) as JSON. The same rules as a
 * `set()`: the session stays an object (a plain-JS arrow without braces returns what it assigned, which must
 * not become the session), and nothing nests deeper than `MAX_DEPTH` (every later copy of it would overflow
 * the stack, on every isolate).
 */
function runUpdate(
  fn: (data: Record<string, unknown>) => Record<string, unknown> | void,
  json: string,
  engine: Engine,
): string {
  const copy = JSON.parse(json) as Record<string, unknown>;
  const result = fn(copy) ?? copy;
  const refused = (cause: unknown) => {
    const error = new SessionDataError(cause);
    reportRejected(error, engine);
    return error;
  };
  if (typeof result !== "object" || Array.isArray(result)) {
    const kind = Array.isArray(result) ? "an array" : typeof result;
    throw refused(new TypeError(`update() must change the data it is given or return an object, not ${kind}`));
  }
  // An async fn's promise would serialise as "{}": the session wiped, its changes made after the write.
  if (typeof (result as { then?: unknown }).then === "function") {
    throw refused(new TypeError("update() takes a synchronous function: this one returned a promise"));
  }
  let text: string;
  try {
    text = JSON.stringify(result);
  } catch (error) {
    throw refused(error);
  }
  // A Date or a boxed value is an object whose JSON is not an object's.
  if (!text.startsWith("{")) {
    throw refused(
      new TypeError("update() must return an object whose JSON is an object (not a Date or a boxed value)"),
    );
  }
  if (tooDeep(result)) throw refused(new RangeError(`nesting deeper than ${MAX_DEPTH} levels`));
  return text;
}

/** The copy a request's write starts from when memory holds none: what the request was served. */
export function startOf(loaded: Loaded, engine: Engine): LiveHeld {
  if (loaded.held !== undefined) return loaded.held;
  const now = engine.runtime.now();
  return {
    kind: "live",
    base: null,
    changes: [],
    view: viewOf(null, [], loaded.view),
    confirmedAt: now,
    refreshedAt: now,
    expiresAt: now + engine.policy.idleTimeoutMs,
    floor: loaded.claim?.version ?? 0,
    settled: [],
  };
}

function notSaved(reason: DropReason | "conflicts"): SessionNotSavedError {
  return new SessionNotSavedError(`the session was not saved: ${reason}`);
}

const DROPPED: Record<DropReason, string> = {
  destroyed: "the session was destroyed while the request ran",
  regenerated: "the session was regenerated while the request ran; its old id takes no more writes",
  expired: "the session expired in the store before the write",
  tampered: "the store holds a value for this session that does not open or was altered",
};

/** A change that cannot be saved (too large, or data JSON cannot hold): logged and reported, never a store failure. */
export function reportRejected(error: SessionDataError | SessionTooLargeError, engine: Engine): void {
  const reason = error instanceof SessionTooLargeError ? "too-large" : "unserialisable";
  engine.report.onEvent({ type: "write-rejected", reason });
  engine.report.logger.error(`hono-edge-session: ${error.message}`);
}

export function reportStoreFailure(
  error: unknown,
  operation: "read" | "write" | "mark" | "refresh",
  consequence: string,
  engine: Engine,
): void {
  engine.report.onEvent({ type: "store-failure", operation, misconfigured: error instanceof StoreMisconfiguredError });
  engine.report.logger.error(storeFailureLine(error, consequence));
}
