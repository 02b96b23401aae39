import type { LoadedSession } from "../tiers/load.js";
import { diff } from "../tiers/merge.js";
import type { MemoryEntry } from "../tiers/memory-tier.js";
import type { SessionChange } from "../tiers/save.js";
import { SessionDataError, SessionNotSavedError } from "../errors.js";
import type { Session, SessionData, SessionInfo } from "../types.js";
import { WorkingCopy } from "./working-copy.js";

/** A user id is sealed into every version of the session: the envelope's room around the data is bounded. */
const MAX_USER_ID_BYTES = 256;

/** What the handle asks of the tiers; each call returns the session as the store now holds it. */
export interface SessionOperations {
  load(): Promise<LoadedSession>;
  commit(change: SessionChange): Promise<LoadedSession | undefined>;
  update(loaded: LoadedSession, fn: (data: SessionData) => SessionData | void): Promise<LoadedSession>;
  regenerate(loaded: LoadedSession, data: SessionData, user: string | undefined): Promise<LoadedSession>;
  destroy(loaded: LoadedSession): Promise<void>;
  /** A new, empty session (after `destroy()`). */
  fresh(): LoadedSession;
  listSessions(user: string, currentId: string | undefined): Promise<SessionInfo[]>;
  /** Ends the user's sessions `which` picks; answers the ids it ended. */
  revoke(user: string, which: { handle?: string; keep?: string }): Promise<string[]>;
}

/**
 * The per-request side of a session: loads it lazily, tracks what the handler did, and says what changed.
 * `regenerate()`, `destroy()`, `commit()` and `update()` reach the store at once; plain changes are saved
 * after the handler.
 */
export class SessionHandle<T extends SessionData> {
  #loading: Promise<void> | undefined;
  #loaded: LoadedSession | undefined;
  #data: WorkingCopy | undefined;
  #user: string | undefined;
  /** The browser does not know this id yet (a new session, or regenerated here): the id cookie must be sent. */
  #newId = false;
  /** Destroyed in this request: unless something is written after, the cookies are cleared. */
  #ended = false;

  constructor(readonly operations: SessionOperations) {}

  readonly api: Session<T> = {
    get: (async (key?: keyof T & string) => {
      const data = await this.#ready();
      return key === undefined ? data.whole() : data.get(key);
    }) as Session<T>["get"],
    set: async (key, value) => {
      (await this.#ready()).set(key, value);
    },
    delete: async (key) => {
      (await this.#ready()).delete(key);
    },
    regenerate: async () => {
      const data = await this.#ready();
      const loaded = this.#loaded!;
      // A retired id (a login form sent twice, the second with the old cookie) starts afresh from what it
      // holds: there is no live session behind it to retire.
      const from = loaded.readOnly ? { ...loaded, isNew: true, readOnly: false } : loaded;
      const regenerated = await this.operations.regenerate(from, data.current(), this.#user);
      if (regenerated.isNew) return this.#end(); // it had ended meanwhile: nothing was carried over
      this.#adopt(regenerated);
      this.#newId = true;
      this.#ended = false;
    },
    destroy: async () => {
      await this.#ready();
      const loaded = this.#loaded!;
      // A retired id is already dead to writes; clearing its cookies could clear the browser's new id.
      if (loaded.readOnly) return;
      await this.operations.destroy(loaded);
      this.#end();
    },
    commit: async () => {
      const change = this.change();
      const saved = await this.operations.commit(change);
      if (saved !== undefined) this.#adopt(saved);
    },
    update: async (fn) => {
      await this.#ready();
      const loaded = this.#loaded!;
      if (loaded.readOnly) {
        throw new SessionNotSavedError("this session's id was retired by a regenerate; it takes no more writes");
      }
      // This request's own set/delete so far are kept on top of the updated data.
      const pending = diff(JSON.parse(loaded.json) as SessionData, this.#data!.current());
      const user = this.#user;
      const saved = await this.operations.update(loaded, fn as (data: SessionData) => SessionData | void);
      this.#adopt(saved);
      this.#user = user;
      for (const [key, value] of Object.entries(pending.set)) this.#data!.set(key, value);
      for (const key of pending.deleted) this.#data!.delete(key);
      return JSON.parse(saved.json) as T;
    },
    setUser: async (userId) => {
      await this.#ready();
      if (userId !== undefined && (typeof userId !== "string" || userId === "")) {
        throw new TypeError("setUser() takes a non-empty string, or undefined to untie the session");
      }
      if (userId !== undefined && new TextEncoder().encode(userId).length > MAX_USER_ID_BYTES) {
        throw new TypeError(`setUser() takes a user id of at most ${MAX_USER_ID_BYTES} bytes (UTF-8)`);
      }
      this.#user = userId;
    },
    getUser: async () => {
      await this.#ready();
      return this.#user;
    },
    listSessions: async (userId) => {
      await this.#ready();
      const user = userId ?? this.#user;
      if (user === undefined) return [];
      return await this.operations.listSessions(user, this.#loaded!.isNew ? undefined : this.#loaded!.id);
    },
    revokeSession: async (handle, userId) => {
      await this.#ready();
      const user = userId ?? this.#user;
      if (user === undefined) return false;
      return this.#revoked(await this.operations.revoke(user, { handle })) > 0;
    },
    revokeAllSessions: async (options = {}) => {
      await this.#ready();
      const user = options.userId ?? this.#user;
      if (user === undefined) return 0;
      return this.#revoked(await this.operations.revoke(user, options.keepCurrent ? { keep: this.#loaded!.id } : {}));
    },
  };

  /** If this request's own session was among the revoked ones, it ends as with `destroy()`. */
  #revoked(ids: string[]): number {
    if (ids.includes(this.#loaded!.id)) this.#end();
    return ids.length;
  }

  /** Destroyed: a new, empty session takes its place, and unless something is written the cookies go. */
  #end(): void {
    this.#loaded = this.operations.fresh();
    this.#data = new WorkingCopy({});
    this.#user = undefined;
    this.#newId = false;
    this.#ended = true;
  }

  /** Compares the data with what was loaded (so in-place mutations of nested values count too). */
  change(): SessionChange {
    const loaded = this.#loaded;
    if (loaded === undefined) return { kind: "untouched" };
    let json: string | undefined;
    try {
      json = this.#data!.changedJson(loaded.json);
    } catch (error) {
      // A BigInt, a cycle, or nesting deeper than JSON.stringify can go: an error of its own, not a store failure.
      return { kind: "rejected", loaded, error: new SessionDataError(error) };
    }
    const userChanged = this.#user !== loaded.user;
    if (loaded.readOnly) return { kind: "read-only", loaded, modified: json !== undefined || userChanged };
    if ((json === undefined && !userChanged) || (loaded.isNew && (json ?? "{}") === "{}" && !userChanged)) {
      return { kind: "unchanged", loaded, newId: this.#newId, ended: this.#ended };
    }
    return { kind: "changed", loaded, json: json ?? loaded.json, user: this.#user, newId: this.#newId };
  }

  /** The session as the store now holds it becomes this request's base (and its data). */
  #adopt(saved: LoadedSession): void {
    this.#loaded = saved;
    this.#user = saved.user;
    this.#data = new WorkingCopy(sharedData(saved.json, saved.entry));
  }

  async #ready(): Promise<WorkingCopy> {
    await (this.#loading ??= this.operations.load().then((loaded) => {
      this.#loaded = loaded;
      this.#user = loaded.user;
      this.#newId = loaded.isNew;
      this.#data = new WorkingCopy(sharedData(loaded.json, loaded.entry));
    }));
    return this.#data!;
  }
}

/** The parsed data of a memory-tier entry, parsed once per version and shared (read only) by its requests. */
function sharedData(json: string, entry: MemoryEntry | undefined): SessionData {
  if (entry === undefined || entry.json !== json) return JSON.parse(json) as SessionData;
  return (entry.parsed ??= JSON.parse(json) as SessionData);
}
