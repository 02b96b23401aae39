import type { LoadedSession } from "../tiers/load-session.js";
import type { MemoryEntry } from "../tiers/memory-tier.js";
import { diff } from "../tiers/patch.js";
import { newSessionId } from "../sealing/session-id.js";
import { WorkingCopy } from "./working-copy.js";

/** Session data: a JSON object. Values must survive `JSON.stringify`. */
export type SessionData = Record<string, unknown>;

/** What a handler gets as `c.var.session`. The session loads on first use; a request that never uses it costs nothing. */
export interface Session<T extends SessionData = SessionData> {
  /** The whole data object. It is this request's own copy: mutate it freely, changes are saved after the handler. */
  get(): Promise<T>;
  /** One value. */
  get<K extends keyof T & string>(key: K): Promise<T[K] | undefined>;
  set<K extends keyof T & string>(key: K, value: T[K]): Promise<void>;
  delete(key: keyof T & string): Promise<void>;
  /** New session id for the same data; the old id stops working (session fixation defence, e.g. at login). */
  regenerate(): Promise<void>;
  /** Ends the session in memory and in the store, and clears the cookie. */
  destroy(): Promise<void>;
  /** Saves now and waits until the store holds the session (e.g. before answering a login); rejects if it failed. */
  commit(): Promise<void>;
  /**
   * Applies `fn` to the newest stored data (it may mutate its argument or return new data) and saves the
   * result at once with compare-and-set, running `fn` again if another request wrote in between. Returns the
   * saved data. Changes this request made with `set`/`delete` are kept on top.
   */
  update(fn: (data: T) => T | void): Promise<T>;
}

/** What a request did to its session, decided once the handler has returned. */
export type SessionChange =
  | { kind: "untouched" }
  | { kind: "unchanged"; loaded: LoadedSession }
  | { kind: "changed"; loaded: LoadedSession; id: string; entry: MemoryEntry; replaced: ReplacedId[] }
  | { kind: "destroyed"; loaded: LoadedSession; ids: ReplacedId[] };

/** A session id this request moved away from or ended, with the version it had. */
export interface ReplacedId {
  id: string;
  version: number;
}

/** A saved change, as it ended up in the store (after any merge), or `undefined` if nothing was saved. */
export type Saved = { id: string; entry: MemoryEntry } | undefined;

/** Saves a change now (for `commit()`); rejects when the store failed. */
export type SaveChange = (change: Extract<SessionChange, { kind: "changed" | "destroyed" }>) => Promise<Saved>;

/** Applies `fn` to the newest stored data and saves it atomically; returns the saved state. */
export type AtomicUpdate = (loaded: LoadedSession, fn: (data: SessionData) => SessionData | void) => Promise<Saved>;

/** The per-request side of a session: loads it lazily, tracks what the handler did, and says what changed. */
export class SessionHandle<T extends SessionData> {
  #loading: Promise<void> | undefined;
  #loaded: LoadedSession | undefined;
  #data: WorkingCopy | undefined;
  /** Ids this request moved away from (regenerate) that must be deleted from the store. */
  #replaced: ReplacedId[] = [];
  #destroyed = false;
  /** A regenerated id must be stored even if the data did not change. */
  #mustWrite = false;

  constructor(
    readonly load: () => Promise<LoadedSession>,
    readonly save: SaveChange,
    readonly atomicUpdate: AtomicUpdate,
  ) {}

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
      await this.#ready();
      const loaded = this.#loaded!;
      if (!loaded.isNew) this.#replaced.push({ id: loaded.id, version: loaded.version });
      this.#loaded = { ...loaded, id: newSessionId(), version: 0, nextVersion: 1, entry: undefined, isNew: true };
      this.#mustWrite = true;
    },
    destroy: async () => {
      await this.#ready();
      this.#destroyed = true;
      this.#data = new WorkingCopy({});
    },
    commit: async () => {
      const change = this.change();
      if (change.kind !== "changed" && change.kind !== "destroyed") return;
      const saved = await this.save(change);
      this.#settle(change, saved);
    },
    update: async (fn) => {
      await this.#ready();
      // A regenerated id is stored first, so the update lands on the session the cookie will name.
      if (this.#mustWrite) await this.api.commit();
      const pending = diff(JSON.parse(this.#loaded!.json) as SessionData, this.#data!.current());
      const saved = await this.atomicUpdate(this.#loaded!, fn as (data: SessionData) => SessionData | void);
      if (saved === undefined) return this.#data!.whole() as T;
      this.#adopt(saved);
      for (const [key, value] of Object.entries(pending.set)) this.#data!.set(key, value);
      for (const key of pending.deleted) this.#data!.delete(key);
      return JSON.parse(saved.entry.json) as T;
    },
  };

  /** Compares the data with what was loaded (so in-place mutations of nested values count too). */
  change(): SessionChange {
    const loaded = this.#loaded;
    if (loaded === undefined) return { kind: "untouched" };
    if (this.#destroyed) {
      const ids = loaded.isNew ? [...this.#replaced] : [{ id: loaded.id, version: loaded.version }, ...this.#replaced];
      return { kind: "destroyed", loaded, ids };
    }
    const json = this.#data!.changedJson(loaded.json) ?? (this.#mustWrite ? loaded.json : undefined);
    if (json === undefined || (loaded.isNew && json === "{}" && !this.#mustWrite)) return { kind: "unchanged", loaded };
    return { kind: "changed", loaded, id: loaded.id, entry: nextEntry(loaded, json), replaced: [...this.#replaced] };
  }

  /** After a commit, the saved state (merged, perhaps) is what later changes are measured against. */
  #settle(change: Extract<SessionChange, { kind: "changed" | "destroyed" }>, saved: Saved): void {
    this.#replaced = [];
    this.#mustWrite = false;
    if (change.kind === "destroyed" || saved === undefined) {
      this.#loaded = { ...change.loaded, isNew: true, json: "{}", version: 0, nextVersion: 1, entry: undefined };
      this.#data = new WorkingCopy({});
      this.#destroyed = change.kind === "destroyed";
      return;
    }
    this.#adopt(saved);
  }

  /** The session as the store now holds it becomes this request's base (and its data). */
  #adopt({ id, entry }: NonNullable<Saved>): void {
    this.#loaded = {
      ...this.#loaded!,
      id,
      version: entry.version,
      nextVersion: entry.version + 1,
      json: entry.json,
      isNew: false,
      entry,
    };
    this.#data = new WorkingCopy(sharedData(entry.json, entry));
  }

  async #ready(): Promise<WorkingCopy> {
    await (this.#loading ??= this.load().then((loaded) => {
      this.#loaded = loaded;
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

/** The memory-tier entry of a session's next version, not yet in the store. */
export function nextEntry(loaded: LoadedSession, json: string): MemoryEntry {
  return { version: loaded.nextVersion, json, createdAt: loaded.createdAt, backedUp: false, refreshedAt: 0 };
}
