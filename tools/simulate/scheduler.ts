import { Prng } from "../fuzz/prng.js";

/*
 * Simulated time. Every wait in the simulated world (a timer, a network hop, a store call) is an event in
 * one queue, ordered by time and then by the order it was scheduled; the run takes them one at a time and
 * lets the microtasks each one starts settle before the next. Nothing else can happen in between (no real
 * I/O, no real clock), so a seed gives the same run every time.
 */

interface Event {
  at: number;
  seq: number;
  /** The isolate whose timer or I/O this is: its events go with it when it dies. */
  owner: number | undefined;
  label: string;
  fire: () => void;
}

/** A binary min-heap of events by (time, sequence). */
class Queue {
  readonly #heap: Event[] = [];
  get size(): number {
    return this.#heap.length;
  }
  push(event: Event): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }
  pop(): Event | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < heap.length && before(heap[l]!, heap[smallest]!)) smallest = l;
        if (r < heap.length && before(heap[r]!, heap[smallest]!)) smallest = r;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Lets every microtask the last event started run to its next wait (real I/O never happens here). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Scheduler {
  now = 0;
  steps = 0;
  readonly rng: Prng;
  readonly #queue = new Queue();
  #seq = 0;
  readonly #dead = new Set<number>();

  constructor(seed: number) {
    this.rng = new Prng(seed);
  }

  /** Runs `fire` `delayMs` from now (never before now). */
  after(delayMs: number, fire: () => void, owner?: number, label = ""): void {
    this.#queue.push({ at: this.now + Math.max(0, delayMs), seq: this.#seq++, owner, label, fire });
  }

  /** A promise that resolves `delayMs` from now (an isolate's timer: it never fires once the isolate is dead). */
  sleep(delayMs: number, owner?: number): Promise<void> {
    return new Promise((resolve) => this.after(delayMs, resolve, owner, "timer"));
  }

  /** The isolate is gone: its timers never fire and its I/O never answers. */
  kill(owner: number): void {
    this.#dead.add(owner);
  }

  get pending(): number {
    return this.#queue.size;
  }

  /** Takes the next event (skipping a dead isolate's), fires it, and lets what it started settle. */
  async step(): Promise<boolean> {
    // Whatever was started since the last step gets to schedule its waits first.
    if (this.#queue.size === 0) await settle();
    for (;;) {
      const event = this.#queue.pop();
      if (event === undefined) return false;
      if (event.owner !== undefined && this.#dead.has(event.owner)) continue;
      this.now = event.at;
      this.steps++;
      event.fire();
      await settle();
      return true;
    }
  }
}
