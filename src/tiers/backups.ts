import { seal } from "../sealing/codec.js";
import type { SessionConfig } from "../config/parse-config.js";
import { wrap } from "../sealing/envelope.js";
import { storeKeyOf, type SessionKeys } from "../sealing/keys.js";
import type { MemoryEntry, MemoryTier } from "./memory-tier.js";
import type { GuardedStore } from "../stores/guarded-store.js";

/**
 * Store writes of this isolate, queued per session so that an older version's slow write can never land
 * after a newer one, and a destroy never lands before a write it followed.
 */
export class Backups {
  readonly #queues = new Map<string, Promise<void>>();

  constructor(
    readonly config: SessionConfig,
    readonly keys: SessionKeys,
    readonly store: GuardedStore,
    readonly memory: MemoryTier,
  ) {}

  /** True while a write or destroy of this session is queued or running. */
  pending(id: string): boolean {
    return this.#queues.has(id);
  }

  /** Seals the entry and stores it; marks it backed up on success, rejects (and leaves it unsaved) on failure. */
  write(id: string, entry: MemoryEntry): Promise<void> {
    return this.enqueue(id, async () => {
      const current = this.memory.peek(id);
      if (current !== undefined && current !== entry && current.version > entry.version) return; // a newer write follows
      const writtenAt = Date.now();
      const sealed = await seal(
        this.keys,
        id,
        entry.version,
        wrap({ kind: "data", json: entry.json, createdAt: entry.createdAt, writtenAt }),
      );
      await this.store.set(await storeKeyOf(this.keys, id), sealed, this.config.timeoutMinutes);
      entry.backedUp = true;
      entry.refreshedAt = writtenAt;
    });
  }

  destroy(id: string): Promise<void> {
    return this.enqueue(id, async () => this.store.destroy(await storeKeyOf(this.keys, id)));
  }

  /** Pushes the store's expiry of an unchanged session forward, at most once per refresh interval. */
  refreshIfDue(id: string, entry: MemoryEntry): Promise<void> | undefined {
    const now = Date.now();
    const interval = this.config.timeoutMinutes * 60_000 * this.config.ttlRefreshFraction;
    if (!entry.backedUp || now - entry.refreshedAt < interval) return undefined;
    const previous = entry.refreshedAt;
    entry.refreshedAt = now; // claimed before the call, so concurrent requests do not refresh twice
    return this.enqueue(id, async () => {
      try {
        await this.store.resetTimer(await storeKeyOf(this.keys, id), this.config.timeoutMinutes);
      } catch (error) {
        entry.refreshedAt = previous;
        throw error;
      }
    });
  }

  /** Runs `task` after every queued store call of this session. */
  enqueue(id: string, task: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(id);
    const run = previous === undefined ? task() : previous.then(task, task);
    this.#queues.set(id, run);
    const forget = () => {
      if (this.#queues.get(id) === run) this.#queues.delete(id);
    };
    run.then(forget, forget);
    return run;
  }
}
