import { openEnvelope } from "./envelope.js";
import { SessionUnavailableError } from "./errors.js";
import type { IsolateState } from "./isolate-state.js";
import { storeKeyOf } from "./keys.js";
import type { MemoryEntry } from "./memory-tier.js";
import type { SessionCookie } from "./session-cookie.js";
import { newSessionId } from "./session-id.js";

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
  /** The cookie named a session that no longer exists (expired, or unreadable): it should be cleared. */
  deadCookie: boolean;
}

/** Memory tier first; the store only on a miss or when this isolate's copy is older than the cookie says. */
export async function loadSession(state: IsolateState, cookie: SessionCookie | undefined): Promise<LoadedSession> {
  if (cookie === undefined) return fresh(undefined, false);
  const cached = state.memory.get(cookie.id);
  if (cached !== undefined && cached.version >= cookie.version) return fromEntry(cookie, cached);

  const { config, keys, store } = state;
  let sealed: string | null;
  try {
    sealed = await store.get(await storeKeyOf(keys, cookie.id));
  } catch (error) {
    if (config.onStoreUnavailable === "reject") {
      config.logger.error(`hono-edge-session: store read failed, answering 503 (${describe(error)})`);
      throw new SessionUnavailableError(error);
    }
    config.logger.error(`hono-edge-session: store read failed, starting a new session (${describe(error)})`);
    return fresh(cookie, false);
  }
  if (sealed === null) return cached !== undefined ? fromEntry(cookie, cached) : fresh(cookie, true);

  let stored;
  try {
    stored = await openEnvelope(keys, cookie.id, sealed);
  } catch (error) {
    config.logger.warn(`hono-edge-session: stored session rejected, starting a new session (${describe(error)})`);
    return cached !== undefined ? fromEntry(cookie, cached) : fresh(cookie, true);
  }
  if (stored.version < cookie.version) {
    config.logger.warn(
      `hono-edge-session: store holds version ${stored.version} but the cookie names ${cookie.version}; a newer backup was lost`,
    );
  }
  if (cached !== undefined && cached.version >= stored.version) return fromEntry(cookie, cached);
  const entry: MemoryEntry = {
    version: stored.version,
    json: stored.json,
    createdAt: stored.createdAt,
    backedUp: true,
    refreshedAt: stored.writtenAt,
  };
  state.memory.set(cookie.id, entry);
  return fromEntry(cookie, entry);
}

function fromEntry(cookie: SessionCookie, entry: MemoryEntry): LoadedSession {
  return {
    id: cookie.id,
    version: entry.version,
    nextVersion: Math.max(entry.version, cookie.version) + 1,
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

/** Error text for logs: short, and never a value (store errors may quote the command they ran). */
export function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 160 ? `${text.slice(0, 160)}…` : text;
}
