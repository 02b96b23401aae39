/** One session as this isolate last saw it. */
export interface MemoryEntry {
  version: number;
  /** The session data as JSON: every request parses its own copy, so a handler cannot mutate the cache. */
  json: string;
  createdAt: number;
  /** False until the store holds this version; such an entry is the only copy and is evicted last. */
  backedUp: boolean;
  /** When the store's expiry was last set or reset (ms since epoch). */
  refreshedAt: number;
  /** `json` parsed, once, when a request first reads it; shared read-only by the requests of this version. */
  parsed?: Record<string, unknown>;
  /** While not backed up: what the store held when this change was made, so a retry can merge onto newer data. */
  unsavedBase?: { version: number; json: string };
}

interface Slot {
  entry: MemoryEntry;
  bytes: number;
  expiresAt: number;
}

/** The constant covers the Map slot and the entry objects. */
const OVERHEAD_BYTES = 160;
/** Per character of JSON: 2 bytes of UTF-16 string, and about as much again for its parsed object. */
const BYTES_PER_JSON_CHAR = 4;

/**
 * The per-isolate first tier: an LRU map bounded by an estimate of the bytes it holds, whose entries
 * expire after the idle timeout (each hit extends it). Map iteration order is insertion order, so
 * re-inserting on a hit keeps the least recently used entry first.
 */
export class MemoryTier {
  readonly #slots = new Map<string, Slot>();
  #bytes = 0;

  constructor(
    readonly maxBytes: number,
    readonly idleMs: number,
    readonly onDropUnsaved: (count: number) => void = () => {},
    readonly now: () => number = Date.now,
  ) {}

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#slots.size;
  }

  get(id: string): MemoryEntry | undefined {
    const slot = this.#slots.get(id);
    if (slot === undefined) return undefined;
    const now = this.now();
    if (slot.expiresAt <= now) {
      this.#remove(id, slot);
      return undefined;
    }
    slot.expiresAt = now + this.idleMs;
    this.#slots.delete(id);
    this.#slots.set(id, slot);
    return slot.entry;
  }

  /** The current entry without counting it as a use. */
  peek(id: string): MemoryEntry | undefined {
    return this.#slots.get(id)?.entry;
  }

  /** Returns false when the entry alone is larger than the bound and so is not kept. */
  set(id: string, entry: MemoryEntry): boolean {
    const old = this.#slots.get(id);
    if (old !== undefined) this.#remove(id, old);
    const bytes = OVERHEAD_BYTES + 2 * id.length + BYTES_PER_JSON_CHAR * entry.json.length;
    if (bytes > this.maxBytes) return false;
    this.#slots.set(id, { entry, bytes, expiresAt: this.now() + this.idleMs });
    this.#bytes += bytes;
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
  }

  /** Least recently used first, but an entry the store does not hold yet only when nothing else is left. */
  #evict(): void {
    if (this.#bytes <= this.maxBytes) return;
    const now = this.now();
    for (const [id, slot] of this.#slots) {
      if (this.#bytes <= this.maxBytes) return;
      if (slot.entry.backedUp || slot.expiresAt <= now) this.#remove(id, slot);
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
