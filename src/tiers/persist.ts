import type { IsolateState } from "../request/isolate-state.js";
import type { LoadedSession } from "./load-session.js";
import { storeFailureLine } from "../errors.js";
import type { MemoryEntry } from "./memory-tier.js";
import { apply, diff } from "./patch.js";
import type { SessionCookie } from "../request/session-cookie.js";
import {
  nextEntry,
  type ReplacedId,
  type Saved,
  type SessionChange,
  type SessionData,
} from "../request/session-handle.js";
import { writeData, writeMarker, type WriteOutcome } from "./versioned-write.js";

/** What saving a request's change leaves for the middleware to do. */
export interface Persisted {
  /** The cookie the response must carry: a session, `"clear"`, or `undefined` to leave it as it is. */
  cookie: SessionCookie | "clear" | undefined;
  /** The session as saved (merged, perhaps), for changes later in the same request to build on. */
  saved: Saved;
  /** Store work for after the response. */
  background?: Promise<void>;
  /** Set when the store did not take the change (it stays in memory, or was dropped): `commit()` rejects with it. */
  failure?: unknown;
}

const parse = (json: string) => JSON.parse(json) as SessionData;

/**
 * Puts a request's change in the memory tier and the store. With a compare-and-set store the write happens
 * now and merges onto concurrent writes; without one it happens after the response (`wait` aside) and the
 * last writer wins.
 */
export async function persist(state: IsolateState, change: SessionChange, wait: boolean): Promise<Persisted> {
  const versioned = state.store.versioned;
  switch (change.kind) {
    case "untouched":
      return { cookie: undefined, saved: undefined };
    case "unchanged":
      return maintain(state, change.loaded);
    case "destroyed":
      return versioned
        ? await destroyWithTombstones(state, change.loaded, change.ids)
        : await settle(destroyAfterResponse(state, change.loaded, change.ids), wait);
    case "changed":
      return versioned ? await saveVersioned(state, change) : await settle(saveAfterResponse(state, change), wait);
  }
}

/** `update(fn)`: `fn` applied to the newest stored data, saved with compare-and-set (re-run on conflict). */
export async function updateAtomically(
  state: IsolateState,
  loaded: LoadedSession,
  fn: (data: SessionData) => SessionData | void,
): Promise<Saved> {
  const next = (current: SessionData) => fn(current) ?? current;
  if (!state.store.versioned) {
    const entry = nextEntry(loaded, JSON.stringify(next(parse(loaded.json))));
    const persisted = await settle(
      saveAfterResponse(state, { kind: "changed", loaded, id: loaded.id, entry, replaced: [] }),
      true,
    );
    if (persisted.failure !== undefined) throw persisted.failure;
    return persisted.saved;
  }
  const base = storedBase(loaded);
  const outcome = await writeData(
    state,
    {
      id: loaded.id,
      expected: base.version,
      floor: loaded.nextVersion - 1,
      data: parse(base.json),
      createdAt: loaded.createdAt,
    },
    next,
  );
  const { saved, failure } = record(state, loaded.id, outcome);
  if (failure !== undefined) throw failure;
  return saved;
}

/** An unchanged session: retry a backup that failed earlier, or keep the store's expiry ahead of the idle timeout. */
function maintain(state: IsolateState, loaded: LoadedSession): Persisted {
  const { memory, backups } = state;
  const result: Persisted = { cookie: loaded.deadCookie ? "clear" : undefined, saved: undefined };
  const entry = loaded.entry;
  if (loaded.isNew || entry === undefined) return result;
  if (loaded.cookie?.id !== loaded.id || loaded.cookie.version !== loaded.version) {
    result.cookie = { id: loaded.id, version: loaded.version };
  }
  if (!entry.backedUp) {
    if (!backups.pending(loaded.id) && memory.peek(loaded.id) === entry) {
      result.background = state.store.versioned
        ? retryVersioned(state, loaded.id, entry)
        : backups.write(loaded.id, entry);
    }
    return result;
  }
  result.background = backups.refreshIfDue(loaded.id, entry);
  return result;
}

async function saveVersioned(
  state: IsolateState,
  change: Extract<SessionChange, { kind: "changed" }>,
): Promise<Persisted> {
  const { loaded, entry, id } = change;
  const base = storedBase(loaded);
  let outcome: WriteOutcome;
  try {
    if (loaded.isNew || change.replaced.length > 0) {
      // A new id: nothing may stand under it yet.
      outcome = await writeData(
        state,
        { id, expected: 0, floor: 0, data: parse(entry.json), createdAt: entry.createdAt },
        (d) => d,
      );
    } else {
      const patch = diff(parse(base.json), parse(entry.json));
      outcome = await writeData(
        state,
        {
          id,
          expected: base.version,
          floor: loaded.nextVersion - 1,
          data: parse(base.json),
          createdAt: loaded.createdAt,
        },
        (current) => apply(patch, current),
      );
    }
  } catch (error) {
    return keepUnsaved(
      state,
      id,
      { ...entry, unsavedBase: loaded.isNew || change.replaced.length > 0 ? { version: 0, json: "{}" } : base },
      error,
    );
  }
  const recorded = record(state, id, outcome);
  if (outcome.kind === "written") await retire(state, change.replaced, outcome.id);
  const cookie =
    recorded.saved !== undefined
      ? { id: recorded.saved.id, version: recorded.saved.entry.version }
      : outcome.kind === "destroyed" && loaded.cookie !== undefined
        ? "clear"
        : undefined;
  return { cookie, ...recorded };
}

/** Regenerated ids resolve to the new one for the grace window, then stop working. */
async function retire(state: IsolateState, replaced: ReplacedId[], to: string): Promise<void> {
  const { config, memory } = state;
  const now = Date.now();
  for (const old of replaced) {
    memory.delete(old.id);
    try {
      await writeMarker(
        state,
        old.id,
        old.version,
        { kind: "redirect", to, createdAt: now, writtenAt: now },
        config.regenerateGraceSeconds / 60,
      );
    } catch (error) {
      config.logger.error(storeFailureLine(error, "a regenerated session's old id could not be retired"));
    }
  }
}

async function destroyWithTombstones(
  state: IsolateState,
  loaded: LoadedSession,
  ids: ReplacedId[],
): Promise<Persisted> {
  const { config, memory } = state;
  const now = Date.now();
  let failure: unknown;
  for (const { id, version } of ids) {
    memory.delete(id);
    try {
      // The tombstone outlives every request that could still write the session back.
      await writeMarker(
        state,
        id,
        version,
        { kind: "tombstone", createdAt: now, writtenAt: now },
        config.timeoutMinutes,
      );
    } catch (error) {
      failure = error;
      config.logger.error(storeFailureLine(error, "a destroyed session could not be marked in the store"));
    }
  }
  return { cookie: loaded.cookie !== undefined ? "clear" : undefined, saved: undefined, failure };
}

/** A write retried after a store failure: merged onto whatever the store holds now. */
async function retryVersioned(state: IsolateState, id: string, entry: MemoryEntry): Promise<void> {
  const base = entry.unsavedBase ?? { version: 0, json: "{}" };
  const patch = diff(parse(base.json), parse(entry.json));
  await state.backups.enqueue(id, async () => {
    const outcome = await writeData(
      state,
      { id, expected: base.version, floor: entry.version, data: parse(base.json), createdAt: entry.createdAt },
      (current) => apply(patch, current),
    );
    if (state.memory.peek(id) === entry || outcome.kind !== "written") record(state, id, outcome);
  });
}

/** Applies a compare-and-set outcome to the memory tier, and says what became of the write. */
function record(state: IsolateState, id: string, outcome: WriteOutcome): Pick<Persisted, "saved" | "failure"> {
  const { config, memory } = state;
  switch (outcome.kind) {
    case "written":
      if (outcome.id !== id) memory.delete(id);
      memory.set(outcome.id, outcome.entry);
      return { saved: { id: outcome.id, entry: outcome.entry } };
    case "destroyed":
      memory.delete(id);
      config.logger.warn("hono-edge-session: write dropped: the session was destroyed while the request ran");
      config.onEvent({ type: "write-dropped", reason: "destroyed" });
      return { saved: undefined, failure: new Error("the session was destroyed while this request ran") };
    case "gave-up":
      memory.delete(id);
      config.logger.error("hono-edge-session: write dropped: other requests kept writing the session in between");
      config.onEvent({ type: "write-dropped", reason: "conflicts" });
      return { saved: undefined, failure: new Error("the session changed too often to save this request's changes") };
  }
}

/** The store is unreachable: the change stays in this isolate's memory and is retried on the next request. */
function keepUnsaved(state: IsolateState, id: string, entry: MemoryEntry, error: unknown): Persisted {
  const unsaved: MemoryEntry = { ...entry, backedUp: false };
  state.memory.set(id, unsaved);
  state.config.logger.error(
    storeFailureLine(
      error,
      "store write failed; the session stays in this isolate's memory and is retried on its next request",
    ),
  );
  state.config.onEvent({ type: "backup-failed" });
  return { cookie: { id, version: unsaved.version }, saved: { id, entry: unsaved }, failure: error };
}

/** What the store held when this request's session was loaded (an unsaved entry remembers its own base). */
function storedBase(loaded: LoadedSession): { version: number; json: string } {
  if (loaded.isNew) return { version: 0, json: "{}" };
  return loaded.entry?.unsavedBase ?? { version: loaded.version, json: loaded.json };
}

/** Last writer wins: memory tier and cookie now, the store after the response. */
function saveAfterResponse(
  state: IsolateState,
  change: Extract<SessionChange, { kind: "changed" }>,
): Omit<Persisted, "failure"> & { work: Promise<void> } {
  const { memory, backups } = state;
  for (const old of change.replaced) memory.delete(old.id);
  memory.set(change.id, change.entry);
  const work = Promise.all([
    backups.write(change.id, change.entry),
    ...change.replaced.map((old) => backups.destroy(old.id)),
  ]).then(() => {});
  return {
    cookie: { id: change.id, version: change.entry.version },
    saved: { id: change.id, entry: change.entry },
    work,
  };
}

function destroyAfterResponse(
  state: IsolateState,
  loaded: LoadedSession,
  ids: ReplacedId[],
): Omit<Persisted, "failure"> & { work: Promise<void> } {
  for (const { id } of ids) state.memory.delete(id);
  const work = Promise.all(ids.map(({ id }) => state.backups.destroy(id))).then(() => {});
  return { cookie: loaded.cookie !== undefined ? "clear" : undefined, saved: undefined, work };
}

/** Waits for the store work (for `commit()`), or leaves it for after the response. */
async function settle(
  pending: Omit<Persisted, "failure"> & { work: Promise<void> },
  wait: boolean,
): Promise<Persisted> {
  const { work, ...persisted } = pending;
  if (!wait) return { ...persisted, background: work };
  try {
    await work;
    return persisted;
  } catch (error) {
    return { ...persisted, failure: error };
  }
}
