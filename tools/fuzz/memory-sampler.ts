import { readdirSync, readFileSync } from "node:fs";
import type { WorkerHeap } from "./worker-heap.js";

/*
 * "Memory flat", sampled while a fuzz runs: the fuzzed worker's V8 heap (the verdict) and the resident set
 * of its workerd process (reported). Miniflare spawns workerd as a child of this process; its pid is found
 * in /proc (Linux only).
 */

/** How far the worker heap's floor (lowest sample) in the last quarter may sit above the first quarter's. */
export const HEAP_GROWTH_LIMIT_BYTES = 32 * 1024 * 1024;
/*
 * Why the worker's heap. The resident set of workerd grows with the number of requests served whatever
 * the worker does: one that only answers `new Response("{}")` grows by ~3 KB per request under Miniflare
 * (102 → 408 MB over 10⁵ requests on this machine) while its own heap stays under 20 MB. So the RSS is
 * reported, but it cannot tell a leak of the session layer from the runtime's own growth; the heap can
 * (with the ArrayBuffers and runtime objects the worker holds, see worker-heap.ts).
 *
 * Why the floor. The heap in use is a saw-tooth: garbage piles up between collections, and V8 lets more
 * pile up as a process grows (the quarter medians of a blob run rise by 15–40 MB with nothing kept). The
 * lowest sample of a quarter is the heap just after a collection: what is really kept. A leak raises it.
 *
 * Why 32 MB. What the session layer may legitimately keep is bounded: the memory tier (8 MiB by its own
 * estimate, a few MB more of real heap for many tiny sessions) and the two caches of verified cookie values
 * (at most 10⁴ each, ~5 MB). A leak of half a kilobyte per request (a cookie, a body, a trace kept) keeps
 * ~37 MB over the last three quarters of 10⁵ requests.
 */

export interface Series {
  samples: number;
  startBytes: number;
  peakBytes: number;
  endBytes: number;
  firstQuarterMedianBytes: number;
  lastQuarterMedianBytes: number;
  /** Last quarter's median minus the first's. */
  growthBytes: number;
  /** The lowest sample of the first and of the last quarter: the heap right after a collection, its live set. */
  firstQuarterFloorBytes: number;
  lastQuarterFloorBytes: number;
  /** Last quarter's floor minus the first's: what the run kept. */
  floorGrowthBytes: number;
  /** The median of each tenth of the run, in order: the shape of the curve. */
  tenthsBytes: number[];
}

export interface MemoryReport {
  pid: number;
  /** workerd's resident set (the whole process: runtime, Miniflare's workers, the fuzzed worker). */
  rss: Series;
  /** The fuzzed worker's V8 heap in use. */
  heap: Series;
  heapLimitBytes: number;
  flat: boolean;
}

/** Pids of the workerd processes this process spawned (Miniflare's runtimes). */
export function workerdChildren(): Set<number> {
  const found = new Set<number>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces, so split after its closing paren.
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid && comm.startsWith("workerd")) found.add(Number(name));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** The workerd that `start` spawned: the one child that was not there before. */
export async function spawnedWorkerd<T>(start: () => Promise<T>): Promise<{ started: T; pid: number }> {
  const before = workerdChildren();
  const started = await start();
  const fresh = [...workerdChildren()].filter((pid) => !before.has(pid));
  if (fresh.length !== 1) throw new Error(`expected one new workerd process, found ${fresh.length}`);
  return { started, pid: fresh[0]! };
}

export function residentBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (kb === null) throw new Error(`no VmRSS for process ${pid}`);
  return Number(kb[1]) * 1024;
}

/** Samples workerd's RSS and the worker's heap every `everyMs` until `stop()`, which judges the samples. */
export class MemorySampler {
  readonly #rss: number[] = [];
  readonly #heap: number[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #busy = false;

  constructor(
    readonly pid: number,
    readonly workerHeap: WorkerHeap,
    everyMs = 100,
  ) {
    void this.#sample();
    this.#timer = setInterval(() => void this.#sample(), everyMs);
    this.#timer.unref();
  }

  async #sample(): Promise<void> {
    if (this.#busy) return; // the worker is slow to answer the inspector: skip a beat rather than pile up
    this.#busy = true;
    try {
      this.#rss.push(residentBytes(this.pid));
      this.#heap.push(await this.workerHeap.usedBytes());
    } catch {
      // The process is gone (a crash): the fuzz driver reports that through its failed requests.
    } finally {
      this.#busy = false;
    }
  }

  async stop(): Promise<MemoryReport> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((resolve) => setTimeout(resolve, 10));
    await this.#sample();
    const heap = series(this.#heap);
    return {
      pid: this.pid,
      rss: series(this.#rss),
      heap,
      heapLimitBytes: HEAP_GROWTH_LIMIT_BYTES,
      flat: heap.samples > 0 && heap.floorGrowthBytes <= HEAP_GROWTH_LIMIT_BYTES,
    };
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function series(samples: number[]): Series {
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const first = median(samples.slice(0, quarter));
  const last = median(samples.slice(-quarter));
  const floor = (values: number[]) => values.reduce((a, b) => Math.min(a, b), Infinity);
  const firstFloor = samples.length === 0 ? 0 : floor(samples.slice(0, quarter));
  const lastFloor = samples.length === 0 ? 0 : floor(samples.slice(-quarter));
  const tenth = (i: number) =>
    samples.slice(Math.floor((i * samples.length) / 10), Math.floor(((i + 1) * samples.length) / 10));
  return {
    samples: samples.length,
    startBytes: samples[0] ?? 0,
    peakBytes: samples.reduce((a, b) => Math.max(a, b), 0),
    endBytes: samples.at(-1) ?? 0,
    firstQuarterMedianBytes: first,
    lastQuarterMedianBytes: last,
    growthBytes: last - first,
    firstQuarterFloorBytes: firstFloor,
    lastQuarterFloorBytes: lastFloor,
    floorGrowthBytes: lastFloor - firstFloor,
    tenthsBytes: Array.from({ length: Math.min(10, samples.length) }, (_, i) => median(tenth(i))),
  };
}
