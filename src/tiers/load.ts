import type { StoreUnavailablePolicy } from "../config/options.js";
import { SessionUnavailableError, storeFailureLine, StoreMisconfiguredError } from "../errors.js";
import { newSessionId } from "../sealing/session-id.js";
import type { RequestTrace } from "../trace.js";
import type { SessionCookie } from "../types.js";
import { rebase, type LandDeps } from "./land.js";
import { isSaved, landedBeneath, landedIn, NOTHING_STORED, type MemoryEntry, type StoredState } from "./memory-tier.js";
import { UNCHANGED, type StoredSession, type StoreTier } from "./store-tier.js";
import type { WriteQueue } from "./write-queue.js";

/** The session a request starts from. */
export interface LoadedSession {
  id: string;
  /** No session stands behind this id yet. */
  isNew: boolean;
  json: string;
  version: number;
  tag: string;
  createdAt: number;
  /** The user the session is tied to, if any. */
  user: string | undefined;
  /** Which secret's store key holds it (0: the current one). */
  at: number;
  /** Above every version seen (this isolate's, the cookie's, the store's): a change is saved as this version. */
  nextVersion: number;
  /** What the store holds: the base a change of this request is merged from. */
  base: StoredState;
  /** The memory-tier entry it was served from, if any. */
  entry: MemoryEntry | undefined;
  /** The cookie the request came with (undefined if none, or not valid). */
  cookie: SessionCookie | undefined;
  /** A retired id within its grace window: served as it was, read only, and no cookie is sent. */
  readOnly: boolean;
  /** The cookie named a session that no longer exists (expired, destroyed, unreadable): clear it. */
  deadCookie: boolean;
  /** The store's expiry of this version is due to be pushed forward (after the response). */
  refreshDue: boolean;
}

/** How loading trades freshness for round trips, and what it does when the store misbehaves. */
export interface LoadPolicy {
  /** A memory entry confirmed against the store longer ago than this is confirmed again before it is served. */
  maxStalenessMs: number;
  /** How long to wait for a write in flight when the store is behind the cookie. */
  staleReadWaitMs: number;
  /** After that wait: serve what the store has (and report), or answer 503. */
  onStaleRead: "serve" | "reject";
  onStoreUnavailable: StoreUnavailablePolicy;
  /** An unchanged session's store expiry is pushed forward at most this often. */
  refreshIntervalMs: number;
  absoluteTimeoutMs: number | undefined;
}

export interface LoadDeps extends LandDeps {
  tier: StoreTier;
  policy: LoadPolicy;
  /** The isolate's write queue: while it writes a session, that session's entry is served without a re-read. */
  writes: WriteQueue;
}

/**
 * Memory tier first, the store when it must. An entry is served without asking the store only while it
 * serves the cookie (it is the version the cookie names, or newer) and was confirmed within the staleness
 * bound; past the bound one conditional read confirms or replaces it. A destroyed, expired or unreadable
 * session gives a new one; a regenerated id is read only within its grace window, dead after it.
 */
export async function loadSession(
  cookie: SessionCookie | undefined,
  deps: LoadDeps,
  trace: RequestTrace,
): Promise<LoadedSession> {
  if (cookie === undefined) {
    trace.servedBy = "new";
    return fresh(undefined, false);
  }
  const { memory, policy } = deps;
  const now = Date.now();
  let entry = memory.get(cookie.id);
  if (entry !== undefined && !withinLifetime(policy, entry.createdAt)) {
    memory.delete(cookie.id);
    return fresh(cookie, true);
  }
  if (entry?.retiredUntil !== undefined) return retired(cookie, entry, entry.retiredUntil, trace);
  if (entry !== undefined) {
    const writing = deps.writes.running(cookie.id);
    if (serves(entry, cookie) && (now - entry.confirmedAt < policy.maxStalenessMs || writing)) {
      trace.servedBy = "hit";
      deps.report.onEvent({ type: "hit" });
      return fromEntry(cookie, entry, refreshDue(entry, deps));
    }
    if (!isSaved(entry) && !writing) {
      // An earlier write of this isolate failed: write it now (merged onto what the store holds), then serve it.
      const written = await rewrite(cookie, entry, deps, trace);
      if (written !== undefined) return written;
      entry = memory.peek(cookie.id);
    }
  }
  return await fromStore(cookie, entry, deps, trace);
}

/** Past the bound, or not in memory: ask the store (conditionally, when this isolate knows a version). */
async function fromStore(
  cookie: SessionCookie,
  entry: MemoryEntry | undefined,
  deps: LoadDeps,
  trace: RequestTrace,
): Promise<LoadedSession> {
  const { tier, policy, report } = deps;
  const started = performance.now();
  const now = Date.now();
  const refresh =
    entry !== undefined &&
    isSaved(entry) &&
    now - entry.refreshedAt >= policy.refreshIntervalMs &&
    tier.store.revalidating
      ? deps.timeoutMinutes
      : undefined;
  let read: StoredSession | typeof UNCHANGED;
  try {
    read =
      entry === undefined
        ? await tier.find(cookie.id, trace)
        : await tier.read(cookie.id, entry.stored.version, refresh, trace, entry.at, entry.stored.user);
    // Moved to another secret's store key since this isolate last looked (a rotation): read it there.
    if (read !== UNCHANGED && read.kind === "moved") read = await tier.findMoved(cookie.id, read.at, trace);
  } catch (error) {
    return unavailable(cookie, entry, error, deps, trace);
  }
  let state: StoredSession;
  if (read === UNCHANGED) {
    entry!.confirmedAt = Date.now();
    if (refresh !== undefined) {
      entry!.refreshedAt = entry!.confirmedAt;
      entry!.expiresAt = entry!.confirmedAt + deps.timeoutMinutes * 60_000;
    }
    if (serves(entry!, cookie)) {
      trace.servedBy = "revalidated";
      report.onEvent({ type: "revalidated", changed: false, durationMs: performance.now() - started });
      return fromEntry(cookie, entry!, refreshDue(entry!, deps));
    }
    // The store still holds what this isolate knows, but the cookie names a newer write.
    const { createdAt, expiresAt, user, at } = entry!;
    state = { kind: "data", ...entry!.stored, prior: entry!.stored.prior ?? [], createdAt, expiresAt, user, at };
  } else {
    state = read;
  }
  if (behind(state, cookie)) state = await waitForCookie(cookie, state, deps, trace);

  trace.servedBy = entry === undefined ? "miss" : "revalidated";
  const durationMs = performance.now() - started;
  report.onEvent(
    entry === undefined
      ? { type: "miss", found: state.kind === "data", durationMs }
      : { type: "revalidated", changed: true, durationMs },
  );
  return await settle(cookie, entry, state, deps, trace);
}

/** Room for the clocks of the isolate and the store to disagree about an expiry. */
const CLOCK_MARGIN_MS = 1_000;

/** What the store answered, as this request's session. */
async function settle(
  cookie: SessionCookie,
  entry: MemoryEntry | undefined,
  state: StoredSession,
  deps: LoadDeps,
  trace: RequestTrace,
): Promise<LoadedSession> {
  const { memory, report } = deps;
  switch (state.kind) {
    case "retired":
      if (entry !== undefined) {
        entry.retiredUntil = state.graceUntil;
        return retired(cookie, entry, state.graceUntil, trace);
      }
      return retired(cookie, undefined, state.graceUntil, trace);
    case "nothing":
      if (entry !== undefined && deps.writer.merges && Date.now() < entry.expiresAt - CLOCK_MARGIN_MS) {
        // Nothing stored, though this isolate knows the session live (a store that lost its data, like a
        // restarted Redis without persistence; destroy and regenerate leave markers): write it back.
        const unsaved: MemoryEntry = { ...entry, stored: NOTHING_STORED };
        memory.set(cookie.id, unsaved);
        const written = await rewrite(cookie, unsaved, deps, trace);
        if (written !== undefined) return written;
      }
      memory.delete(cookie.id);
      // Only a store with markers tells an expired id from a regenerated one; without them (last writer
      // wins), the browser may hold a newer id by now, so its cookies are left alone.
      return fresh(cookie, deps.writer.merges);
    case "tombstone":
    case "tampered":
    case "moved": // followed in fromStore; one left here leads nowhere
      memory.delete(cookie.id);
      return fresh(cookie, true);
    case "data": {
      if (entry !== undefined && state.version < entry.stored.version) {
        // Older than a version this isolate saw stored: a lagging replica, or an old value put back. Never
        // roll back to it; this isolate's copy stands (and the store is reported behind).
        report.onEvent({
          type: "stale-read",
          storedVersion: state.version,
          cookieVersion: entry.stored.version,
          waitedMs: 0,
          served: false,
        });
        return fromEntry(cookie, entry, false);
      }
      if (!withinLifetime(deps.policy, state.createdAt)) {
        memory.delete(cookie.id);
        return fresh(cookie, true);
      }
      const stored = { version: state.version, tag: state.tag, json: state.json, user: state.user, prior: state.prior };
      const fromStore: MemoryEntry = {
        ...stored,
        createdAt: state.createdAt,
        user: state.user,
        at: state.at,
        stored,
        confirmedAt: Date.now(),
        expiresAt: state.expiresAt,
        refreshedAt: state.expiresAt - deps.timeoutMinutes * 60_000,
      };
      // A change of this isolate not written yet (made while this request read the store, or before) is
      // never replaced: it moves onto what the store holds now, and its write follows.
      const current = await ownWriteAnswered(cookie, state, deps, trace);
      // A regenerate of this isolate retired the id while this request read the store.
      if (current?.retiredUntil !== undefined) return retired(cookie, current, current.retiredUntil, trace);
      if (current !== undefined && !isSaved(current)) {
        if (landedIn(state, current.tag)) {
          // Its write landed (its answer lost, or still on the way), and what the store holds is built on it.
          memory.set(cookie.id, fromStore);
          return fromEntry(cookie, fromStore, false);
        }
        if (fromStore.version <= current.stored.version || deps.writes.running(cookie.id)) {
          return fromEntry(cookie, current, false);
        }
        // Only its own keys: those it changed since a change beneath it that landed after all, if one did.
        const moved = rebase(current, landedBeneath(current, state)?.json ?? current.stored.json, fromStore);
        memory.set(cookie.id, moved);
        return fromEntry(cookie, moved, false);
      }
      // A newer version put in memory meanwhile by a concurrent request of this isolate stands.
      if (current !== undefined && current !== entry && current.version >= fromStore.version) {
        return fromEntry(cookie, current, false);
      }
      memory.set(cookie.id, fromStore);
      return fromEntry(cookie, fromStore, refreshDue(fromStore, deps));
    }
  }
}

/**
 * This isolate's entry of the session, once the store has answered the write of it that is on its way.
 * That write may have landed already, answer not yet back: the newer version just read is then built on
 * it, and moving the change onto that version would apply it a second time, over what others wrote since.
 * Waits up to `staleReadWaitMs`; past that the entry is served as it is (reported, or refused, as a stale
 * read) and the write settles it: landed, or merged onto the newest version.
 */
async function ownWriteAnswered(
  cookie: SessionCookie,
  stored: Extract<StoredSession, { kind: "data" }>,
  deps: LoadDeps,
  trace: RequestTrace,
): Promise<MemoryEntry | undefined> {
  const { memory, writes, policy } = deps;
  const inFlight = (entry: MemoryEntry | undefined) =>
    entry !== undefined &&
    !isSaved(entry) &&
    entry.stored.version < stored.version &&
    !landedIn(stored, entry.tag) &&
    writes.running(cookie.id);
  let current = memory.peek(cookie.id);
  if (!inFlight(current)) return current;
  const started = performance.now();
  let delay = 2;
  while (inFlight(current) && performance.now() - started < policy.staleReadWaitMs) {
    await new Promise((resolve) => setTimeout(resolve, delay));
    delay = Math.min(delay * 2, 20);
    current = memory.peek(cookie.id);
  }
  trace.waitedMs += performance.now() - started;
  if (inFlight(current) && !serves(current!, cookie)) {
    staleRead("this isolate's copy (its write still unanswered)", current!.version, cookie, started, deps);
  }
  return current;
}

/**
 * After the wait, what would be served (`version`, held by `holder`) is still older than the cookie names:
 * reported and logged, then served, or refused with a 503, as `onStaleRead` says.
 */
function staleRead(holder: string, version: number, cookie: SessionCookie, started: number, deps: LoadDeps): void {
  const { policy, report } = deps;
  const served = policy.onStaleRead === "serve";
  const waitedMs = Math.round(performance.now() - started);
  report.onEvent({ type: "stale-read", storedVersion: version, cookieVersion: cookie.version, waitedMs, served });
  const line = `hono-edge-session: ${holder} holds version ${version} but the cookie names ${cookie.version}`;
  if (!served) {
    report.logger.error(`${line}; answering 503 (onStaleRead: "reject")`);
    throw new SessionUnavailableError(new Error(`${holder} is behind the session cookie`));
  }
  report.logger.warn(`${line}; serving it`);
}

/**
 * The store is behind the cookie: it holds an older write, or nothing at all, while the cookie names a
 * write (a write still on its way from another isolate, a new session's first one included; or a lagging
 * replica).
 */
function behind(state: StoredSession, cookie: SessionCookie): boolean {
  return (state.kind === "data" && !serves(state, cookie)) || (state.kind === "nothing" && cookie.version > 0);
}

/**
 * Reads again, a little later each time, for up to `staleReadWaitMs`. Then it serves the newest the store
 * has and reports it, or refuses, as the policy says; nothing at all by then is a session that is gone.
 */
async function waitForCookie(
  cookie: SessionCookie,
  state: StoredSession,
  deps: LoadDeps,
  trace: RequestTrace,
): Promise<StoredSession> {
  const { tier, policy } = deps;
  const started = performance.now();
  let delay = 10;
  let waited = 0;
  let current: StoredSession = state;
  while (behind(current, cookie) && waited < policy.staleReadWaitMs) {
    const pause = Math.min(delay, policy.staleReadWaitMs - waited);
    await new Promise((resolve) => setTimeout(resolve, pause));
    waited += pause;
    delay *= 2;
    let again;
    try {
      again = await tier.read(cookie.id, current.version, undefined, trace);
    } catch {
      break; // the store is failing: what it said last is all there is
    }
    if (again !== UNCHANGED) current = again;
  }
  trace.waitedMs += performance.now() - started;
  if (current.kind === "data" && !serves(current, cookie))
    staleRead("the store", current.version, cookie, started, deps);
  return current;
}

/** Writes an entry whose earlier write failed; `undefined` when it cannot be served (dropped, or the store is down). */
async function rewrite(
  cookie: SessionCookie,
  entry: MemoryEntry,
  deps: LoadDeps,
  trace: RequestTrace,
): Promise<LoadedSession | undefined> {
  // Through the write queue (this request's own run of it), so it is never written twice at once.
  await deps.writes.flush(cookie.id, deps, trace, false);
  const now = deps.memory.peek(cookie.id);
  if (now === undefined) return undefined; // dropped: the session ended
  // Written (or still failing: this isolate's copy is the newest there is, and stays unsaved).
  trace.servedBy = isSaved(now) ? "revalidated" : "hit";
  return fromEntry(cookie, now, false);
}

/** The store could not be read. An isolate that holds the session serves it; otherwise the policy decides. */
function unavailable(
  cookie: SessionCookie,
  entry: MemoryEntry | undefined,
  error: unknown,
  deps: LoadDeps,
  trace: RequestTrace,
): LoadedSession {
  const { policy, report } = deps;
  report.onEvent({ type: "store-failure", operation: "read", misconfigured: error instanceof StoreMisconfiguredError });
  if (entry !== undefined && serves(entry, cookie)) {
    report.logger.error(storeFailureLine(error, "store read failed; serving this isolate's copy of the session"));
    trace.servedBy = "hit";
    return fromEntry(cookie, entry, false);
  }
  if (policy.onStoreUnavailable === "reject") {
    report.logger.error(storeFailureLine(error, "store read failed, answering 503"));
    throw new SessionUnavailableError(error);
  }
  report.logger.error(storeFailureLine(error, "store read failed, starting a new session"));
  return fresh(cookie, false);
}

/** A retired id: read only (as this isolate last held it, or empty) until the grace window ends, then dead. */
function retired(
  cookie: SessionCookie,
  entry: MemoryEntry | undefined,
  graceUntil: number,
  trace: RequestTrace,
): LoadedSession {
  trace.servedBy = entry === undefined ? "miss" : "hit";
  if (Date.now() >= graceUntil) return fresh(cookie, true);
  const loaded = entry !== undefined ? fromEntry(cookie, entry, false) : { ...fresh(cookie, false), id: cookie.id };
  return { ...loaded, readOnly: true };
}

/** The entry is the version the cookie names, or newer: serving it cannot hide the browser's own writes. */
function serves(state: { version: number; tag: string }, cookie: SessionCookie): boolean {
  return state.version > cookie.version || (state.version === cookie.version && state.tag === cookie.tag);
}

/** The absolute lifetime counts from `createdAt`, which is sealed: no client can move it. */
function withinLifetime(policy: LoadPolicy, createdAt: number): boolean {
  return policy.absoluteTimeoutMs === undefined || Date.now() - createdAt < policy.absoluteTimeoutMs;
}

/** A session in use gets its store expiry pushed forward once per refresh interval (after the response). */
function refreshDue(entry: MemoryEntry, deps: LoadDeps): boolean {
  return isSaved(entry) && Date.now() - entry.refreshedAt >= deps.policy.refreshIntervalMs;
}

function fromEntry(cookie: SessionCookie, entry: MemoryEntry, refreshDue: boolean): LoadedSession {
  return {
    id: cookie.id,
    isNew: false,
    json: entry.json,
    version: entry.version,
    tag: entry.tag,
    createdAt: entry.createdAt,
    user: entry.user,
    at: entry.at,
    nextVersion: Math.max(entry.version, entry.stored.version, cookie.version) + 1,
    base: entry.stored,
    entry,
    cookie,
    readOnly: false,
    deadCookie: false,
    refreshDue,
  };
}

export function fresh(cookie: SessionCookie | undefined, deadCookie: boolean): LoadedSession {
  return {
    id: newSessionId(),
    isNew: true,
    json: "{}",
    version: 0,
    tag: "",
    createdAt: Date.now(),
    user: undefined,
    at: 0,
    nextVersion: 1,
    base: NOTHING_STORED,
    entry: undefined,
    cookie,
    readOnly: false,
    deadCookie,
    refreshDue: false,
  };
}
