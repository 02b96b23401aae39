import { heldBytes, isSaved } from "../protocol/held.js";
import type { Held } from "../protocol/types.js";

interface Slot {
  held: Held;
  bytes: number;
  /** Holds changes the store does not hold yet: counted against the bound of unsaved bytes, evicted last. */
  unsaved: boolean;
}

/**
 * The per-isolate first tier: what this isolate holds of each session (see `Held`), in an LRU map bounded
 * by an estimate of the bytes each entry holds, everything it keeps counted. A live entry lives only as
 * long as the store's copy was last seen to live. One entry may take at most an eighth of the bound (one
 * huge session cannot flush the others), and changes the store does not hold yet at most a quarter (a
 * failing store cannot fill the tier with them). Map iteration order is insertion order, so re-inserting
 * on use keeps the least recently used entry first.
 */
export class MemoryTier {
  readonly #slots = new Map<string, Slot>();
  #bytes = 0;
  #unsavedBytes = 0;
  readonly maxEntryBytes: number;
  readonly maxUnsavedBytes: number;

  constructor(
    readonly maxBytes: number,
    readonly now: () => number,
    /** Told when changes the store does not hold yet had to be dropped to stay within the bound. */
    readonly onDropUnsaved: (count: number) => void = () => {},
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

  /** What this isolate holds of `id`, counted as a use (a live copy past its expiry is gone). */
  get(id: string): Held | undefined {
    const slot = this.#slots.get(id);
    if (slot === undefined) return undefined;
    const held = slot.held;
    if ((held.kind === "live" && held.expiresAt <= this.now()) || (held.kind === "ended" && held.until <= this.now())) {
      this.#remove(id, slot);
      return undefined;
    }
    this.#slots.delete(id);
    this.#slots.set(id, slot);
    return slot.held;
  }

  /** The current entry, without counting it as a use. */
  peek(id: string): Held | undefined {
    return this.#slots.get(id)?.held;
  }

  /**
   * Returns false when the entry is not kept: larger than one entry may be, or holding unsaved changes with
   * the bound of unsaved bytes reached. The entry it would replace then stays.
   */
  set(id: string, held: Held): boolean {
    const old = this.#slots.get(id);
    const bytes = heldBytes(id, held);
    if (bytes > this.maxEntryBytes) return false;
    const unsaved = held.kind === "live" && !isSaved(held) && held.changes.length + (held.missing ? 1 : 0) > 0;
    const unsavedElsewhere = this.#unsavedBytes - (old?.unsaved ? old.bytes : 0);
    if (unsaved && unsavedElsewhere + bytes > this.maxUnsavedBytes) return false;
    if (old !== undefined) this.#remove(id, old);
    this.#slots.set(id, { held, bytes, unsaved });
    this.#bytes += bytes;
    if (unsaved) this.#unsavedBytes += bytes;
    this.#evict();
    return true;
  }

  delete(id: string): void {
    const slot = this.#slots.get(id);
    if (slot !== undefined) this.#remove(id, slot);
  }

  /** Every entry's bytes counted again from what it holds (the simulator checks the running count). */
  recount(): { bytes: number; unsavedBytes: number } {
    let bytes = 0;
    let unsavedBytes = 0;
    for (const [id, slot] of this.#slots) {
      const counted = heldBytes(id, slot.held);
      bytes += counted;
      if (slot.unsaved) unsavedBytes += counted;
    }
    return { bytes, unsavedBytes };
  }

  #remove(id: string, slot: Slot): void {
    this.#slots.delete(id);
    this.#bytes -= slot.bytes;
    if (slot.unsaved) this.#unsavedBytes -= slot.bytes;
  }

  /** Least recently used first, but an entry holding unsaved changes only when nothing else is left. */
  #evict(): void {
    if (this.#bytes <= this.maxBytes) return;
    for (const [id, slot] of this.#slots) {
      if (this.#bytes <= this.maxBytes) return;
      if (!slot.unsaved) this.#remove(id, slot);
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
