import { seal } from "../sealing/codec.js";
import { openEnvelope, wrap, type Envelope } from "../sealing/envelope.js";
import { SealError } from "../errors.js";
import type { IsolateState } from "../request/isolate-state.js";
import { storeKeyOf } from "../sealing/keys.js";
import type { MemoryEntry } from "./memory-tier.js";
import type { SessionData } from "../request/session-handle.js";

/**
 * Conflicts after which a write gives up. Each conflict means another request's write landed in between,
 * so N writers racing for one session need at most N attempts; 32 covers a burst of parallel requests.
 */
const MAX_ATTEMPTS = 32;

/** Random back-off after a conflict, growing per attempt (up to 100 ms), so racing writers spread out. */
function backOff(attempt: number): Promise<void> {
  const ceiling = Math.min(100, 4 * 2 ** (attempt - 1));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

/** A session as the store holds it: its version and what it holds (`undefined` when nothing, or unreadable). */
export interface StoredSession {
  id: string;
  version: number;
  envelope: Envelope | undefined;
}

export type WriteOutcome =
  | { kind: "written"; id: string; entry: MemoryEntry }
  /** A tombstone stands where the session was: it was destroyed while this request ran. */
  | { kind: "destroyed" }
  /** Other requests kept writing in between, attempt after attempt. */
  | { kind: "gave-up" };

/** Where a compare-and-set write starts from: the version this request believes the store holds. */
export interface WriteBase {
  id: string;
  expected: number;
  /** Versions at or below this were seen (e.g. in the cookie); the next one is above it. */
  floor: number;
  data: SessionData;
  createdAt: number;
}

/**
 * Writes `next(data)` only if the store still holds the expected version. On a conflict it opens what the
 * store holds, follows a redirect (a regenerated id) or stops at a tombstone, and recomputes `next` from
 * the newer data, so the request's changes are applied onto the newest version instead of replacing it.
 */
export async function writeData(
  state: IsolateState,
  base: WriteBase,
  next: (current: SessionData) => SessionData,
): Promise<WriteOutcome> {
  let { id, expected, floor, data, createdAt } = base;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const json = JSON.stringify(next(structuredClone(data)));
    const version = Math.max(expected, floor) + 1;
    const writtenAt = Date.now();
    const conflict = await casWrite(
      state,
      id,
      expected,
      version,
      { kind: "data", json, createdAt, writtenAt },
      state.config.timeoutMinutes,
    );
    if (conflict === null) {
      return { kind: "written", id, entry: { version, json, createdAt, backedUp: true, refreshedAt: writtenAt } };
    }
    state.config.onEvent({ type: "write-conflict", attempt });
    if (attempt > 1) await backOff(attempt);
    let current = conflict;
    if (current.envelope?.kind === "redirect") current = await readStored(state, current.envelope.to);
    const envelope = current.envelope;
    if (envelope?.kind === "tombstone") return { kind: "destroyed" };
    id = current.id;
    expected = current.version;
    floor = Math.max(floor, version, current.version);
    if (envelope?.kind === "data") {
      data = JSON.parse(envelope.json) as SessionData;
      createdAt = envelope.createdAt;
    }
    // Nothing stored (it expired), or a blob no key opens: this request's data stands, written over it.
  }
  return { kind: "gave-up" };
}

/** Puts a tombstone or a redirect where a session was, whatever version is there now. */
export async function writeMarker(
  state: IsolateState,
  id: string,
  expected: number,
  marker: Envelope,
  ttlMinutes: number,
): Promise<void> {
  let version = expected + 1;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const conflict = await casWrite(state, id, expected, version, marker, ttlMinutes);
    if (conflict === null) return;
    if (marker.kind === "tombstone" && conflict.envelope?.kind === "tombstone") return;
    expected = conflict.version;
    version = Math.max(version, conflict.version) + 1;
  }
  throw new Error("gave up writing a session marker: conflicts did not stop");
}

/** The session stored under `id`, opened. */
export async function readStored(state: IsolateState, id: string): Promise<StoredSession> {
  const sealed = await state.store.get(await storeKeyOf(state.keys, id));
  return sealed === null ? { id, version: 0, envelope: undefined } : await open(state, id, sealed, 0);
}

/** `null` when written; otherwise what stands in the way. */
async function casWrite(
  state: IsolateState,
  id: string,
  expected: number,
  version: number,
  envelope: Envelope,
  ttlMinutes: number,
): Promise<StoredSession | null> {
  const { keys, store } = state;
  const sealed = await seal(keys, id, version, wrap(envelope));
  const conflict = await store.setIfVersion(await storeKeyOf(keys, id), expected, version, sealed, ttlMinutes);
  if (conflict === null) return null;
  if (conflict.session === null) return { id, version: conflict.version, envelope: undefined };
  return await open(state, id, conflict.session, conflict.version);
}

async function open(state: IsolateState, id: string, sealed: string, storeVersion: number): Promise<StoredSession> {
  try {
    const { version, ...envelope } = await openEnvelope(state.keys, id, sealed);
    return { id, version, envelope };
  } catch (error) {
    if (!(error instanceof SealError)) throw error;
    state.config.logger.warn(`hono-edge-session: stored session rejected (${error.message})`);
    return { id, version: Math.max(storeVersion, 1), envelope: undefined };
  }
}
