import type { RequestTrace } from "../trace.js";
import { land, planFor, type LandDeps } from "./land.js";
import { isSaved } from "./memory-tier.js";

/**
 * A queue that has not moved for this long died with its request (a `waitUntil` is cut short after 30 s):
 * start anew. Longer than any one write can take, so two queues never write one session at once.
 */
const STALLED_MS = 35_000;
/** One request's `waitUntil` writes at most this many rounds; the next change starts a new queue. */
const MAX_ROUNDS = 16;

/**
 * The store writes of this isolate, one session at a time. A change made while a write of its session is
 * running is not written beside it (the two would conflict with each other); the running write, once
 * landed, writes the newest change in turn. So a burst of changes on one isolate costs a few writes.
 *
 * No request waits on another request's promise (on Workers that can hang): the request that started the
 * queue runs it in its own `waitUntil`, and the others only leave their change in the memory tier.
 */
export class WriteQueue {
  readonly #running = new Map<string, { beat: number }>();

  /** A write of this session is running in this isolate. */
  running(id: string): boolean {
    const state = this.#running.get(id);
    return state !== undefined && Date.now() - state.beat < STALLED_MS;
  }

  /**
   * Writes the session's newest unsaved change, and the next, until memory holds no unsaved change of it.
   * `undefined` when a write of it is already running (it will write this change too). Never rejects:
   * failures are logged, and the change stays unsaved for the session's next request.
   */
  flush(id: string, deps: LandDeps, trace: RequestTrace, deferred: boolean): Promise<void> | undefined {
    if (this.running(id)) return undefined;
    const state = { beat: Date.now() };
    this.#running.set(id, state);
    return this.#write(id, state, deps, trace, deferred);
  }

  async #write(id: string, state: { beat: number }, deps: LandDeps, trace: RequestTrace, deferred: boolean) {
    try {
      // A deferred write starts after this task, so none of its sealing (deflate, AES-GCM) runs before the
      // response is handed back; the queue is already marked running, so no change is left unwritten.
      if (deferred) await nextTask();
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const entry = deps.memory.peek(id);
        // Checked and given up in one synchronous step: a change made after this is never left unwritten.
        if (entry === undefined || isSaved(entry) || entry.retiredUntil !== undefined) return;
        state.beat = Date.now();
        await land(planFor(id, entry), entry, deps, trace, deferred);
      }
    } catch {
      // Logged and reported by land(); the change stays unsaved.
    } finally {
      if (this.#running.get(id) === state) this.#running.delete(id);
    }
  }
}

function nextTask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
