import { SessionDataError, SessionNotSavedError, SessionTooLargeError } from "../errors.js";
import { endedHeld } from "../protocol/held.js";
import { refreshedEntry } from "../protocol/index-ops.js";
import { afterRead } from "../protocol/load.js";
import {
  cookiesAfterWrite,
  cookiesFor,
  cookiesUnchanged,
  KEEP,
  bareClaim,
  servedAfterWrite,
  upkeepOf,
  withRequestChange,
  type WriteResult,
  type CookiePlan,
  type Loaded,
  type Mark,
  type RequestChange,
} from "../protocol/request.js";
import { UNCHANGED, type LiveHeld } from "../protocol/types.js";
import { byteLength, exceeds, planEnd } from "../protocol/write.js";
import { RequestTrace } from "../trace.js";
import type { SessionData } from "../types.js";
import type { Engine } from "./engine.js";
import { rememberParsed, type ParsedView } from "./parsed-views.js";
import {
  flushLater,
  localCell,
  memoryCell,
  reportRejected,
  reportStoreFailure,
  writeChanges,
  writingNow,
  type Cell,
} from "./write.js";

/** What a request did to its session, decided once the handler has returned. */
export type SessionChange =
  | { kind: "untouched" }
  /** `newId`: the id is new to the browser (regenerated here); `ended`: destroyed here, nothing written after. */
  | { kind: "unchanged"; loaded: Loaded; newId: boolean; ended: boolean }
  /**
   * `settled`: the data after the change, as parsing `change.json` gives it, and that JSON's layout (the next
   * request's, unparsed).
   */
  | { kind: "changed"; loaded: Loaded; change: RequestChange; newId: boolean; settled?: ParsedView }
  /** A change that cannot be saved (see `SessionDataError`, `SessionTooLargeError`). */
  | { kind: "rejected"; loaded: Loaded; error: SessionDataError | SessionTooLargeError };

export interface AfterHandler {
  cookies: CookiePlan;
  /** Store work for after the response (`waitUntil`); it never rejects. */
  background?: Promise<void>;
}

/**
 * A changed session goes into this isolate's memory and the cookies before the response; its write
 * (compare-and-set, merging onto concurrent writes) runs after the response, unless the options say to
 * wait. An unchanged one costs nothing but, sometimes, a write left over, an expiry refresh or the end of a
 * revoked id after the response.
 */
export function saveChange(
  change: SessionChange,
  engine: Engine,
  trace: RequestTrace,
): AfterHandler | Promise<AfterHandler> {
  switch (change.kind) {
    case "untouched":
      return { cookies: KEEP };
    case "rejected":
      reportRejected(change.error, engine);
      return {
        cookies: cookiesFor({
          loaded: change.loaded,
          mark: undefined,
          newId: false,
          ended: false,
          merges: engine.store.merges,
        }),
      };
    case "unchanged":
      return maintain(change, engine);
    case "changed":
      return write(change, engine, trace);
  }
}

/** Synchronous unless the write is awaited (the default leaves it to after the response: nothing to wait for). */
function write(
  change: Extract<SessionChange, { kind: "changed" }>,
  engine: Engine,
  trace: RequestTrace,
): AfterHandler | Promise<AfterHandler> {
  const { loaded } = change;
  const merges = engine.store.merges;
  const newId = change.newId || loaded.isNew;
  const held = joined(change, engine);
  // Dropped (retired or destroyed by another request meanwhile): that request's response set the cookies.
  if (held === "dropped") return { cookies: KEEP };
  if (held === "too-large")
    return { cookies: cookiesFor({ loaded, mark: undefined, newId: false, ended: false, merges }) };
  if (change.settled !== undefined && change.change.json !== undefined)
    rememberParsed(held.view, change.change.json, change.settled);
  const mine = held.changes.at(-1)!;
  const mark: Mark = { version: mine.version, tag: mine.tag, at: mine.at };
  // A copy the tier cannot hold (too large for one entry, or too many unsaved bytes) is written now.
  const kept = engine.memory.set(loaded.id, held);
  if (!engine.awaitWrites && kept) {
    trace.write = "deferred";
    const background = flushLater(loaded.id, engine, true);
    return {
      cookies: cookiesFor({ loaded, mark, newId, ended: false, merges }),
      ...(background ? { background } : {}),
    };
  }
  trace.write = "awaited";
  const cell = kept ? memoryCell(engine, loaded.id) : localCell(held);
  return writeNow(loaded.id, cell, mine.tag, kept, engine, trace).then((result) => {
    const cookies = cookiesAfterWrite(loaded, mark, newId, result, merges);
    // Kept, a change whose write failed is the browser's (the cookie names it): tried again after the
    // response, as a deferred write is, not only when the session's next request comes to this isolate.
    const background = result.kind === "failed" && result.kept ? flushLater(loaded.id, engine, true) : undefined;
    return { cookies, ...(background ? { background } : {}) };
  });
}

/** Writes a request's change before its response, and says how that ended. */
async function writeNow(
  id: string,
  cell: Cell,
  tag: string,
  kept: boolean,
  engine: Engine,
  trace: RequestTrace,
): Promise<WriteResult> {
  try {
    const result = await writeChanges(id, cell, engine, trace, false);
    if (result.kind === "dropped")
      return { kind: "dropped", gone: result.reason === "destroyed" || result.reason === "expired" };
    if (result.kind !== "saved") return { kind: "refused" };
  } catch {
    return { kind: "failed", kept };
  }
  const saved = cell.get();
  return { kind: "landed", version: saved?.kind === "live" && saved.base?.tags.includes(tag) ? saved.base.version : 0 };
}

/**
 * The request's change on top of this isolate's copy, ready to be kept; "dropped" when the id ended meanwhile
 * (or is retired), "too-large" when it is refused (reported).
 */
function joined(
  change: Extract<SessionChange, { kind: "changed" }>,
  engine: Engine,
): LiveHeld | "dropped" | "too-large" {
  const { loaded } = change;
  const { runtime, policy, report } = engine;
  const held = loaded.readOnly
    ? undefined
    : withRequestChange(
        loaded,
        engine.memory.peek(loaded.id),
        change.change,
        runtime.newTag(),
        runtime.now(),
        policy.idleTimeoutMs,
      );
  if (held === undefined) {
    // Retired or destroyed while the request ran (or a retired id to begin with): its old id takes no more writes.
    report.onEvent({ type: "write-dropped", reason: "regenerated" });
    report.logger.warn(
      "hono-edge-session: write dropped: the request's session was regenerated or ended by another request; its old id takes no more writes",
    );
    return "dropped";
  }
  if (exceeds(held.view.json, policy.maxSessionBytes)) {
    reportRejected(new SessionTooLargeError(byteLength(held.view.json), policy.maxSessionBytes), engine);
    return "too-large";
  }
  return held;
}

/** `commit()`: writes the request's change now and answers the session as it landed (merged, perhaps). */
export async function commitChange(
  change: SessionChange,
  engine: Engine,
  trace: RequestTrace,
): Promise<Loaded | undefined> {
  if (change.kind === "rejected") {
    reportRejected(change.error, engine);
    throw change.error;
  }
  if (change.kind !== "changed") return undefined;
  const held = joined(change, engine);
  if (held === "dropped")
    throw new SessionNotSavedError(
      "the session was regenerated or ended by another request; its old id takes no more writes",
    );
  if (held === "too-large")
    throw new SessionTooLargeError(byteLength(JSON.stringify(change.change.patch.set)), engine.policy.maxSessionBytes);
  const { loaded } = change;
  const cell = engine.memory.set(loaded.id, held) ? memoryCell(engine, loaded.id) : localCell(held);
  const result = await writeChanges(loaded.id, cell, engine, trace, false);
  if (result.kind === "dropped") throw new SessionNotSavedError(`the session was not saved: ${result.reason}`);
  if (result.kind === "rejected")
    throw new SessionTooLargeError(byteLength(held.view.json), engine.policy.maxSessionBytes);
  if (result.kind === "conflicts")
    throw new SessionNotSavedError("the session was not saved: other requests kept writing it in between");
  const saved = cell.get();
  if (saved?.kind !== "live") throw new SessionNotSavedError("the session was not saved: it ended meanwhile");
  // Landed means its tag is in the stored version's history (another run of this isolate's writes may have
  // carried it; if this isolate lost track of it, commit() cannot say yes).
  const mine = held.changes.at(-1)!.tag;
  if (saved.changes.some((c) => c.tag === mine) || !saved.base?.tags.includes(mine)) {
    throw new SessionNotSavedError("the session was not saved: its write is still in flight");
  }
  return servedAfterWrite(loaded, saved, engine.runtime.now(), engine.policy.idleTimeoutMs);
}

/** An unchanged request: its cookies, and the store work it leaves for after the response. */
function maintain(change: Extract<SessionChange, { kind: "unchanged" }>, engine: Engine): AfterHandler {
  const { loaded, newId, ended } = change;
  const current = engine.memory.peek(loaded.id);
  const cookies = cookiesUnchanged(loaded, newId, ended, current, engine.store.merges);
  const upkeep = upkeepOf(loaded, ended, current, engine.runtime.now(), engine.policy);
  switch (upkeep.kind) {
    case "none":
      return { cookies };
    case "end-revoked":
      return { cookies, background: endRevoked(upkeep.id, upkeep.version, engine) };
    case "write": {
      const background = writingNow(loaded.id, engine) ? undefined : flushLater(loaded.id, engine, true);
      return { cookies, ...(background ? { background } : {}) };
    }
    case "refresh":
      return { cookies, background: refresh(loaded.id, current as LiveHeld, engine) };
  }
}

/** One attempt: a tombstone over the revoked version; anything else standing there is left for the next load. */
async function endRevoked(id: string, version: number, engine: Engine): Promise<void> {
  try {
    const answer = await engine.store.end(
      id,
      planEnd(version, "destroyed", engine.runtime.newTag()),
      0,
      engine.policy.markerTtlMs,
      new RequestTrace(),
    );
    if (answer === null) engine.memory.set(id, endedHeld("destroyed", engine.runtime.now(), engine.policy));
  } catch (error) {
    reportStoreFailure(
      error,
      "mark",
      "a revoked session could not be ended in the store; its next load finds it revoked again",
      engine,
    );
  }
}

/**
 * Pushes the store's expiry of the version this isolate knows forward (claimed first, so concurrent
 * requests do it once). A conditional store does it only while that version is still the one stored,
 * never a newer version's or a marker's; the copy's own expiry moves only when the store confirms.
 */
async function refresh(id: string, held: LiveHeld, engine: Engine): Promise<void> {
  const { runtime, policy, store } = engine;
  const trace = new RequestTrace();
  const startedAt = runtime.now();
  engine.memory.set(id, { ...held, refreshedAt: startedAt });
  try {
    if (store.revalidating) {
      const answer = await store.read(id, held.base!.version, policy.idleTimeoutMs, trace);
      const outcome = afterRead({
        claim: bareClaim(id),
        held: engine.memory.peek(id),
        answer,
        startedAt,
        refreshed: answer === UNCHANGED,
        now: runtime.now(),
        policy,
        waitedMs: 0,
      });
      if (outcome.kind !== "wait" && outcome.held !== undefined && !engine.memory.set(id, outcome.held))
        engine.memory.delete(id);
      if (answer !== UNCHANGED) return;
    } else {
      await store.refresh(id, policy.idleTimeoutMs, trace);
      const now = engine.memory.peek(id);
      if (now?.kind === "live") engine.memory.set(id, { ...now, expiresAt: startedAt + policy.idleTimeoutMs });
    }
    const user = held.view.user;
    if (user !== undefined && store.indexed) {
      await store.changeIndex([refreshedEntry(id, user, held.view.createdAt, startedAt, policy)], trace);
    }
  } catch (error) {
    const now = engine.memory.peek(id);
    if (now?.kind === "live") engine.memory.set(id, { ...now, refreshedAt: held.refreshedAt });
    reportStoreFailure(error, "refresh", "store expiry refresh failed; it is tried again on a later request", engine);
  }
}
