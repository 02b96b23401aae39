import type { SessionConfig } from "../config/parse-config.js";
import { SessionUnavailableError, storeFailureLine } from "../errors.js";
import type { IsolateState } from "../request/isolate-state.js";
import type { MemoryEntry } from "./memory-tier.js";
import type { SessionCookie } from "../request/session-cookie.js";
import { newSessionId } from "../sealing/session-id.js";
import { readStored, type StoredSession } from "./versioned-write.js";

/** The session a request starts from. */
export interface LoadedSession {
  id: string;
  /** Version of `json`; 0 for a session never saved. */
  version: number;
  /** Every version this browser or this isolate has seen is below this one. */
  nextVersion: number;
  json: string;
  createdAt: number;
  isNew: boolean;
  /** The memory-tier entry it was served from, if any. */
  entry: MemoryEntry | undefined;
  /** The cookie the request came with (undefined if none, or not valid). */
  cookie: SessionCookie | undefined;
  /** The cookie named a session that no longer exists (expired, destroyed, unreadable): it should be cleared. */
  deadCookie: boolean;
}

/** Waits before reading the store again when it answered with an older version than the cookie names. */
const STALE_RETRY_DELAYS_MS = [20, 60];

/**
 * Memory tier first; the store only on a miss or when this isolate's copy is older than the cookie says.
 * A regenerated id (within its grace window) resolves to the new session; a destroyed or expired one, or
 * one past its absolute lifetime, gives a new session.
 */
export async function loadSession(state: IsolateState, cookie: SessionCookie | undefined): Promise<LoadedSession> {
  if (cookie === undefined) return fresh(undefined, false);
  const { config, memory } = state;
  const cached = memory.get(cookie.id);
  if (cached !== undefined && cached.version >= cookie.version) {
    return withinLifetime(config, cached) ? fromEntry(cookie, cookie.id, cached) : expire(state, cookie);
  }

  let stored: StoredSession;
  try {
    stored = await readStored(state, cookie.id);
    for (const delay of STALE_RETRY_DELAYS_MS) {
      if (stored.envelope?.kind !== "data" || stored.version >= cookie.version) break;
      await new Promise((resolve) => setTimeout(resolve, delay));
      stored = await readStored(state, cookie.id);
    }
    if (stored.envelope?.kind === "redirect") stored = await readStored(state, stored.envelope.to);
  } catch (error) {
    if (config.onStoreUnavailable === "reject") {
      config.logger.error(storeFailureLine(error, "store read failed, answering 503"));
      throw new SessionUnavailableError(error);
    }
    config.logger.error(storeFailureLine(error, "store read failed, starting a new session"));
    return fresh(cookie, false);
  }

  const envelope = stored.envelope;
  if (envelope?.kind !== "data") {
    // Nothing there (expired, or unreadable), or a tombstone: only this isolate's copy can still help.
    if (cached !== undefined && envelope?.kind !== "tombstone" && withinLifetime(config, cached)) {
      return fromEntry(cookie, cookie.id, cached);
    }
    return fresh(cookie, true);
  }
  if (stored.id === cookie.id && stored.version < cookie.version) {
    config.logger.warn(
      `hono-edge-session: store holds version ${stored.version} but the cookie names ${cookie.version}; serving the newest version available`,
    );
    config.onEvent({ type: "stale-read", storedVersion: stored.version, cookieVersion: cookie.version });
  }
  if (stored.id === cookie.id && cached !== undefined && cached.version >= stored.version) {
    return withinLifetime(config, cached) ? fromEntry(cookie, cookie.id, cached) : expire(state, cookie);
  }
  const entry: MemoryEntry = {
    version: stored.version,
    json: envelope.json,
    createdAt: envelope.createdAt,
    backedUp: true,
    refreshedAt: envelope.writtenAt,
  };
  if (!withinLifetime(config, entry)) return expire(state, cookie);
  memory.set(stored.id, entry);
  return fromEntry(cookie, stored.id, entry);
}

/** The absolute lifetime counts from `createdAt`, which is sealed: no client can move it. */
function withinLifetime(config: SessionConfig, entry: MemoryEntry): boolean {
  return (
    config.absoluteTimeoutMinutes === undefined || Date.now() - entry.createdAt < config.absoluteTimeoutMinutes * 60_000
  );
}

function expire(state: IsolateState, cookie: SessionCookie): LoadedSession {
  state.memory.delete(cookie.id);
  return fresh(cookie, true);
}

function fromEntry(cookie: SessionCookie, id: string, entry: MemoryEntry): LoadedSession {
  return {
    id,
    version: entry.version,
    nextVersion: (id === cookie.id ? Math.max(entry.version, cookie.version) : entry.version) + 1,
    json: entry.json,
    createdAt: entry.createdAt,
    isNew: false,
    entry,
    cookie,
    deadCookie: false,
  };
}

function fresh(cookie: SessionCookie | undefined, deadCookie: boolean): LoadedSession {
  return {
    id: newSessionId(),
    version: 0,
    nextVersion: 1,
    json: "{}",
    createdAt: Date.now(),
    isNew: true,
    entry: undefined,
    cookie,
    deadCookie,
  };
}
