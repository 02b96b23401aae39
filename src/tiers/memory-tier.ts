import type { SessionData } from "../types.js";

/** What the store holds of a session, as last seen: version 0 means nothing. */
export interface StoredState {
  version: number;
  tag: string;
  json: string;
  /** The user the stored version is tied to (its user-index entry is theirs). */
  user?: string | undefined;
  /** The tags of the writes before the stored version, newest first (a few). */
  prior?: readonly string[] | undefined;
}

export const NOTHING_STORED: StoredState = { version: 0, tag: "", json: "{}" };

/** One session as this isolate knows it. */
export interface MemoryEntry {
  version: number;
  /** The write that produced this version (two writes of one version differ in their tag). */
  tag: string;
  /** The session data as JSON. */
  json: string;
  createdAt: number;
  /** The user the session is tied to (for "your sessions" and "log out everywhere"), if any. */
  user: string | undefined;
  /** Which secret's store key holds the session: 0, the current one, unless not written since a rotation. */
  at: number;
  /** `json` parsed once, when a request first reads it; shared read-only by the requests of this version. */
  parsed?: SessionData;
  /** What the store was last seen to hold: this entry itself once saved, else the base of its change. */
  stored: StoredState;
  /** When the store was last seen to hold `stored`: the entry is served without asking only within the bound. */
  confirmedAt: number;
  /** When the store's copy expires, as last set or seen: the entry never outlives it. */
  expiresAt: number;
  /** When the store's expiry was last pushed forward. */
  refreshedAt: number;
  /** Set when the id was retired by regenerate: requests in flight may read it until then, then it is dead. */
  retiredUntil?: number;
  /**
   * Changes of this isolate beneath this one (newest first) whose writes failed: they may have landed all
   * the same. This entry's change, made against `stored`, includes theirs; once the store shows one landed
   * (its tag in a version's history), only what this entry changed on top of that one is this entry's own.
   */
  beneath?: readonly Beneath[] | undefined;
}

export interface Beneath {
  tag: string;
  json: string;
}

/** A stored version and the tags of the few writes it was built on. */
interface History {
  tag: string;
  prior: readonly string[];
}

/** The write tagged `tag` is the stored version, or one of the few it was built on: it landed. */
export function landedIn(stored: History, tag: string): boolean {
  return stored.tag === tag || stored.prior.includes(tag);
}

/** The newest change beneath `entry` that landed in `stored`'s history, if any. */
export function landedBeneath(
  entry: { beneath?: readonly Beneath[] | undefined },
  stored: History,
): Beneath | undefined {
  return entry.beneath?.find((b) => landedIn(stored, b.tag));
}

/** The store holds exactly this entry. */
export function isSaved(entry: MemoryEntry): boolean {
  return entry.stored.version === entry.version && entry.stored.tag === entry.tag;
}

interface Slot {
  entry: MemoryEntry;
  bytes: number;
  /** Counted against the bound of unsaved bytes (the store did not hold it when it was set). */
  unsaved: boolean;
}

/** The constant covers the Map slot and the entry objects. */
const OVERHEAD_BYTES = 200;
/** Per character of JSON: 2 bytes of UTF-16 string, and about as much again for its parsed object. */
const BYTES_PER_JSON_CHAR = 4;

/**
 * The per-isolate first tier: an LRU map bounded by an estimate of the bytes it holds. An entry lives only
 * as long as the store's copy was last seen to live (a hit never extends it). One entry may take at most
 * an eighth of the bound (so one huge session cannot flush the others), and changes the store does not
 * hold yet at most a quarter (so a failing store cannot fill the tier with them). Map iteration order is
 * insertion order, so re-inserting on a hit keeps the least recently used entry first.
 */
export class MemoryTier {
  readonly #slots = new Map<string, Slot>();
  #bytes = 0;
  #unsavedBytes = 0;
  readonly maxEntryBytes: number;
  readonly maxUnsavedBytes: number;

  constructor(
    readonly maxBytes: number,
    readonly onDropUnsaved: (count: number) => void = () => {},
    readonly now: () => number = Date.now,
  ) {
    this.maxEntryBytes = maxBytes / 8;
    this.maxUnsavedBytes = maxBytes / 4;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#slots.size;
  }

  get unsavedBytes(): number {
    return this.#unsavedBytes;
  }

  /** The live entry, counted as a use. */
  get(id: string): MemoryEntry | undefined {
    const slot = this.#slots.get(id);
    if (slot === undefined) return undefined;
    if (slot.entry.expiresAt <= this.now()) {
      this.#remove(id, slot);
      return undefined;
    }
    this.#slots.delete(id);
    this.#slots.set(id, slot);
    return slot.entry;
  }

  /** The current entry without counting it as a use. */
  peek(id: string): MemoryEntry | undefined {
    return this.#slots.get(id)?.entry;
  }

  /**
   * Returns false when the entry is not kept: larger than one entry may be, or unsaved with the bound of
   * unsaved bytes reached. The entry it would replace then stays.
   */
  set(id: string, entry: MemoryEntry): boolean {
    const old = this.#slots.get(id);
    const unsaved = !isSaved(entry);
    const unsavedBase = entry.stored.json === entry.json ? 0 : entry.stored.json.length;
    const bytes = OVERHEAD_BYTES + 2 * id.length + BYTES_PER_JSON_CHAR * entry.json.length + 2 * unsavedBase;
    if (bytes > this.maxEntryBytes) return false;
    const unsavedElsewhere = this.#unsavedBytes - (old?.unsaved ? old.bytes : 0);
    if (unsaved && unsavedElsewhere + bytes > this.maxUnsavedBytes) return false;
    if (old !== undefined) this.#remove(id, old);
    this.#slots.set(id, { entry, bytes, unsaved });
    this.#bytes += bytes;
    if (unsaved) this.#unsavedBytes += bytes;
    this.#evict();
    return true;
  }

  delete(id: string): void {
    const slot = this.#slots.get(id);
    if (slot !== undefined) this.#remove(id, slot);
  }

  #remove(id: string, slot: Slot): void {
    this.#slots.delete(id);
    this.#bytes -= slot.bytes;
    if (slot.unsaved) this.#unsavedBytes -= slot.bytes;
  }

  /** Least recently used first, but an entry the store does not hold yet only when nothing else is left. */
  #evict(): void {
    if (this.#bytes <= this.maxBytes) return;
    const now = this.now();
    for (const [id, slot] of this.#slots) {
      if (this.#bytes <= this.maxBytes) return;
      if (isSaved(slot.entry) || slot.entry.expiresAt <= now) this.#remove(id, slot);
    }
    let dropped = 0;
    for (const [id, slot] of this.#slots) {
      if (this.#bytes <= this.maxBytes) break;
      this.#remove(id, slot);
      dropped++;
    }
    if (dropped > 0) this.onDropUnsaved(dropped);
  }
}
