// Turns bench/results.json into the console table, BENCHMARKS.md and bench/chart.svg.

import { DEFAULT_STALE_READ_WAIT_MS } from "../src/config/parse-config.js";
import { BROWSER_COOKIES, withBrowserCookies } from "./browser-cookies.js";

/** The browser's other cookies every timed request carries, described. */
const BROWSER = `the session's cookies amid ${BROWSER_COOKIES.count} others, ${withBrowserCookies("").length} bytes of them: analytics, consent, CSRF, bot management; \`bench/browser-cookies.ts\``;

export interface Figure {
  median: number;
  min: number;
  max: number;
}

/** µs per request of one contender and workload (the median of the repeats, and their spread). */
export interface LoopFigure extends Figure {
  /** Requests timed, over all repeats. */
  requests: number;
  /** µs per request of each repeat, in order. */
  samples: number[];
  /** Figures of one group were measured side by side, repeat by repeat (their samples pair up). */
  group: number;
  /** Time of the work handed to `waitUntil`, per write (µs), timed apart from the requests. */
  backgroundPerWrite?: Figure;
  /** `waitUntil` promises per request. */
  backgroundPerRequest: number;
  /** `waitUntil` promises that had settled before the timed requests ended (background work inside them). */
  settledEarly: number;
  /** The session events the requests reported (hit, miss, revalidated, write…), over all repeats. */
  events: Record<string, number>;
}
export type PerRequest = LoopFigure | { unsupported: string };

/** What a request costs in CPU, all of it: before the response and its background write. */
export interface CpuFigure {
  /** µs of the workerd process's CPU time per request (all threads), each repeat in `samples`. */
  cpu: Figure & { samples: number[] };
  /** µs per request timed inside the isolate before the response, and its background (drained after) apart. */
  critical: Figure;
  background: Figure;
  requests: number;
  backgroundPerRequest: number;
}

/** The profile of background writes on a store inside the isolate: µs per write, by function (`null`: absent). */
export interface BackgroundProfile {
  writes: number;
  busy: number;
  functions: Record<string, number | null>;
}

interface Quantiles {
  p50: number;
  p95: number;
  max: number;
}
export interface StaleRead {
  writes: number;
  distances: Record<
    string,
    {
      /** From the changed request's response (as the client got it) until Redis holds its version. */
      visibleAfterMs: Quantiles;
      /** The user's next request, sent at once to another isolate: from the first response to its answer. */
      otherIsolateMs: Quantiles;
      /** Store reads that next request made (1: the first read found the write; more: it waited). */
      otherIsolateReadsPerRequest: number;
      staleReadEvents: number;
    }
  >;
}
export interface RoundTrips {
  distanceMs: number;
  staleReads: number;
  conflicts: number;
  scenarios: Record<
    string,
    { requests: number; roundTrips: number; reads: number; fullReads: number; writes: number; noscript: number }
  >;
}

/** One fleet run (bench/fleet.ts): one store, one contender. */
export interface FleetRun {
  store: "redis" | "durable-object";
  /** "ours" (the middleware, default options) or "baseline" (no memory tier: a store read per request). */
  contender: string;
  sessions: number;
  users: number;
  loginSeconds: number;
  /** Store operations per login (regenerate + setUser + the data), in the login phase. */
  loginOperationsPerLogin: number;
  seconds: number;
  visits: number;
  activeBrowserSeconds: number;
  /** Requests per second of one browser while it is active (in a visit, until a think time after its last page). */
  requestsPerActiveBrowserSecond: number;
  requests: number;
  requestsByKind: Record<string, number>;
  requestsPerSecond: number;
  /** Redis commands counted at the gateway, or calls to Durable Objects counted at their stubs. */
  operations: number;
  operationsPerRequest: number;
  operationsByName: Record<string, number>;
  httpRequestsPerRequest?: number;
  events: Record<string, number>;
  hitRatio: number;
  /** The session middleware's own time per request, as workerd's clock sees it (it moves on I/O: the waits). */
  addedMs: { p50: number; p99: number; max: number };
  /** Each app isolate's memory at the end: V8 heap in use (garbage not collected yet included), runtime objects, ArrayBuffers. */
  heapBytes: number[];
  storedKeys?: number;
  errors: Record<string, number>;
  errorExamples: string[];
  /** Lines the runtime printed (uncaught errors, warnings): the workers themselves log nothing. */
  runtimeLines: number;
  runtimeExamples: string[];
}

export interface FleetResults {
  takenAt: string;
  durationSeconds: number;
  machine: { cpu: string; cores: number; loadAverage: { start: number; end: number } };
  settings: {
    sessions: number;
    seconds: number;
    warmSeconds: number;
    loginConcurrency?: number;
    rate: number;
    isolates: number;
    distanceMs: number;
    seed: number;
    stalenessMs: number;
    model: Record<string, unknown>;
    requestsPerVisit: number;
  };
  runs: FleetRun[];
}

export interface Results {
  takenAt: string;
  durationSeconds: number;
  machine: {
    cpu: string;
    cores: number;
    memoryGiB: number;
    os: string;
    node: string;
    workerd: string;
    /** The 1-minute load average when the run began and ended (other work on the machine). */
    loadAverage: { start: number; end: number };
  };
  method: {
    repeats: number;
    repeatsHit: number;
    repeatsChanged: number;
    /** Loops of the whole-CPU section (older results: the changed request's). */
    repeatsCpu?: number;
    requestsPerLoop: number;
    requestsPerLoopWithStore: Record<string, number>;
    changedSessions: Record<string, { sessions: number; rounds: number }>;
  };
  /** Key: "<contender> / <size> <read-only|changed>"; the peers have no store, so they were measured once. */
  peers: Record<string, PerRequest>;
  /** This project with the store 0, 20 and 80 ms away. Key: "<kind> / <size>" (bare: "bare / <size> <path>"). */
  distances: Array<{ distanceMs: number; perRequest: Record<string, LoopFigure> }>;
  /** µs per operation. */
  codec: Record<string, Figure>;
  sizes: Record<string, { json: number; sealed: number; approuter: number }>;
  /** Bytes redis-server holds per session tied to a user (MEMORY USAGE over the namespace's keys). */
  atRest?: Record<string, { sessions: number; keys: number; bytesPerSession: number }>;
  /** µs per request inside the session middleware, by function, from CPU profiles (store 0 ms away, small). */
  profile?: {
    hits: number;
    writes: number;
    hit: Record<string, number | null>;
    changed: Record<string, number | null>;
    /** By contender: hes-cpu (store in the isolate), hes-cpu-user (the same, tied to a user). */
    background?: Record<string, BackgroundProfile>;
  };
  /** Key: the request (see bench/run.ts, section cpu). */
  cpu?: Record<string, CpuFigure>;
  /** µs per operation of one step of the cookies' and the sealing's work, before and now. */
  micro?: Record<string, Figure>;
  roundTrips: RoundTrips;
  staleRead: StaleRead;
  memory: {
    sessionJsonBytes: number;
    unbounded: { bytes: number; entries: number; maxBytes: number };
    bounded: { bytes: number; entries: number; maxBytes: number };
  };
  http: Record<string, { requestsPerSecond: number; latencyP50Ms: number; errors: number }>;
}

const PEERS: Record<string, string> = {
  "hono-sessions-cookie": "hono-sessions, CookieStore",
  "hono-sessions-memory": "hono-sessions, MemoryStore",
  "hono-session-jwe": "@hono/session (encrypted JWT cookie)",
};
/** This project's rows: the key in `perRequest`, the label, and the bare route it is compared with. */
const OURS: Array<{ kind: string; label: string; path: "read-only" | "changed" }> = [
  { kind: "hit", label: "hit (memory tier, within the staleness bound)", path: "read-only" },
  { kind: "revalidated", label: "revalidated (past the bound: one conditional read)", path: "read-only" },
  { kind: "miss", label: "miss (store read + unseal)", path: "read-only" },
  { kind: "changed", label: "changed (write after the response: default)", path: "changed" },
  { kind: "changed, awaitWrites", label: "changed, `awaitWrites: true` (write before the response)", path: "changed" },
];

/** The default `maxStalenessMs`, which the bench's hit contender runs with. */
const STALENESS_BOUND_MS = 5000;
const us = (value: number) => value.toFixed(1);
const ms = (value: number) => value.toFixed(1);
const range = (f: Figure) => `${us(f.median)} (${us(f.min)}–${us(f.max)})`;
const isFigure = (p: PerRequest | undefined): p is LoopFigure => p !== undefined && "median" in p;
const SIZES = ["small", "large"];

type Distance = Results["distances"][number];

/**
 * How much more `a` takes than `b` per request: the median of the repeat-by-repeat differences when they were
 * measured side by side (so the machine's noise of each repeat falls on both), else the difference of medians.
 */
export function difference(a: LoopFigure, b: LoopFigure): number {
  if (a.group !== b.group || a.samples.length !== b.samples.length) return a.median - b.median;
  return medianOf(a.samples.map((value, i) => value - b.samples[i]!));
}
function medianOf(values: number[]): number {
  return [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)]!;
}

/** Added µs per request over the bare route at the same distance, for the same size and kind of request. */
export function addedAt(d: Distance, kind: string, size: string, path: "read-only" | "changed"): number | undefined {
  const own = d.perRequest[`${kind} / ${size}`];
  const bare = d.perRequest[`bare / ${size} ${path}`];
  return own !== undefined && bare !== undefined ? difference(own, bare) : undefined;
}

/** A peer's added µs over the bare route measured beside it. */
export function peerAdded(results: Results, peer: string, size: string, path: "read-only" | "changed") {
  const own = results.peers[`${peer} / ${size} ${path}`];
  const bare = results.peers[`bare / ${size} ${path}`];
  return isFigure(own) && isFigure(bare) ? difference(own, bare) : undefined;
}

/**
 * The write goal at one distance: the small changed request against the cheapest peer's write, both measured
 * in the same loops (taking turns); `margin` is ours minus theirs, paired repeat by repeat.
 */
export function writeGoal(d: Distance) {
  return beside(d, "changed / small", "changed");
}

const FLOOR_LABEL = "floor: a `Map` behind an unsigned cookie (no signature, store or staleness bound)";

/** The floor's added µs over the bare route at this distance (small session), measured beside ours. */
export function floorAdded(d: Distance, path: "read-only" | "changed"): number | undefined {
  const own = d.perRequest[`floor / small ${path}`];
  const bare = d.perRequest[`bare / small ${path}`];
  return own !== undefined && bare !== undefined ? difference(own, bare) : undefined;
}

/** The hit against the cheapest peer's read, measured beside it at this distance (small session). */
export function readGoal(d: Distance) {
  return beside(d, "hit / small", "read-only");
}

/** Ours against the cheapest peer measured beside it (taking turns) at this distance, both over the bare route. */
function beside(d: Distance, key: string, path: "changed" | "read-only") {
  const ours = d.perRequest[key];
  const bare = d.perRequest[`bare / small ${path}`];
  if (ours === undefined || bare === undefined) return undefined;
  let best: { peer: string; added: number; figure: LoopFigure } | undefined;
  for (const peer of Object.keys(PEERS)) {
    const figure = d.perRequest[`peer ${peer} / small ${path}`];
    if (figure === undefined) continue;
    const added = difference(figure, bare);
    if (best === undefined || added < best.added) best = { peer, added, figure };
  }
  if (best === undefined) return undefined;
  const paired = ours.samples.map((value, i) => value - best.figure.samples[i]!);
  return {
    ours: difference(ours, bare),
    peer: best.peer,
    theirs: best.added,
    margin: difference(ours, best.figure),
    range: { min: Math.min(...paired), max: Math.max(...paired) },
  };
}

function criticalPathTable(results: Results): string[] {
  const header = results.distances.map((d) => ` store ${d.distanceMs} ms |`).join("");
  const rows = [`| request | size |${header}`, `| --- | --- |${results.distances.map(() => " --- |").join("")}`];
  for (const size of SIZES) {
    for (const path of ["read-only", "changed"] as const) {
      const cells = results.distances.map((d) => {
        const bare = d.perRequest[`bare / ${size} ${path}`];
        return bare === undefined ? " – |" : ` ${range(bare)} µs total |`;
      });
      if (cells.every((c) => c === " – |")) continue;
      rows.push(`| bare route (baseline), ${path} | ${size} |${cells.join("")}`);
    }
    for (const path of ["read-only", "changed"] as const) {
      for (const [peer, label] of Object.entries(PEERS)) {
        const key = `peer ${peer} / ${size} ${path}`;
        if (!results.distances.some((d) => d.perRequest[key] !== undefined)) continue;
        const cells = results.distances.map((d) => {
          const own = d.perRequest[key];
          const bare = d.perRequest[`bare / ${size} ${path}`];
          return own === undefined || bare === undefined
            ? " – |"
            : ` +${us(difference(own, bare))} µs (total ${range(own)}) |`;
        });
        rows.push(`| peer: ${label}, ${path} (measured beside ours; no store) | ${size} |${cells.join("")}`);
      }
    }
    for (const path of ["read-only", "changed"] as const) {
      const cells = results.distances.map((d) => {
        const own = d.perRequest[`floor / ${size} ${path}`];
        const added = floorAdded(d, path);
        return own === undefined || added === undefined ? " – |" : ` +${us(added)} µs (total ${range(own)}) |`;
      });
      if (cells.every((c) => c === " – |")) continue;
      rows.push(`| ${FLOOR_LABEL}, ${path} (measured beside ours) | ${size} |${cells.join("")}`);
    }
    for (const row of OURS) {
      const cells = results.distances.map((d) => {
        const own = d.perRequest[`${row.kind} / ${size}`];
        const added = addedAt(d, row.kind, size, row.path);
        if (own === undefined || added === undefined) return " – |";
        return ` **+${us(added)} µs** (total ${range(own)}) |`;
      });
      rows.push(`| ${row.label} | ${size} |${cells.join("")}`);
    }
  }
  return rows;
}

function peerTable(results: Results): string[] {
  const columns = SIZES.flatMap((size) => (["read-only", "changed"] as const).map((path) => ({ size, path })));
  const rows = [
    `| contender |${columns.map((c) => ` ${c.size} ${c.path} |`).join("")}`,
    `| --- |${columns.map(() => " --- |").join("")}`,
  ];
  for (const [id, label] of [["bare", "bare Hono route (baseline)"], ...Object.entries(PEERS)] as const) {
    const cells = columns.map(({ size, path }) => {
      const figure = results.peers[`${id} / ${size} ${path}`];
      if (figure === undefined) return " – |";
      if (!isFigure(figure)) return ` n/a: ${figure.unsupported} |`;
      if (id === "bare") return ` ${range(figure)} µs total |`;
      return ` +${us(peerAdded(results, id, size, path)!)} µs (total ${range(figure)}) |`;
    });
    rows.push(`| ${label} |${cells.join("")}`);
  }
  return rows;
}

/** The cheapest peer's read (measured in the peers section), as added µs over the bare route. */
function cheapestPeerRead(results: Results, size: string): { peer: string; added: number } | undefined {
  let best: { peer: string; added: number } | undefined;
  for (const peer of Object.keys(PEERS)) {
    const added = peerAdded(results, peer, size, "read-only");
    if (added !== undefined && (best === undefined || added < best.added)) best = { peer, added };
  }
  return best;
}

/** The issue's goals, checked on this run's figures at each distance (small session). */
function goalRows(results: Results): string[] {
  const rows = [
    "| store | hit: added ≤ 0.5 × the bare route's own time | hit: ≥ 10 × below the cheapest peer's read (measured beside it) | changed: added ≤ 0.25 × the cheapest peer's write (measured beside it) | the floor (a `Map` behind a cookie), measured beside them: read-only, changed |",
    "| --- | --- | --- | --- | --- |",
  ];
  const verdict = (met: boolean) => (met ? "**met**" : "**not met**");
  const peerRead = cheapestPeerRead(results, "small");
  for (const d of results.distances) {
    const hit = addedAt(d, "hit", "small", "read-only");
    const bare = d.perRequest["bare / small read-only"];
    const w = writeGoal(d);
    const own =
      hit === undefined || bare === undefined
        ? "–"
        : `${verdict(hit <= 0.5 * bare.median)}: +${us(hit)} µs vs ${us(0.5 * bare.median)} µs (bare ${us(bare.median)} µs)`;
    const r = readGoal(d);
    const below =
      r !== undefined
        ? `${verdict(10 * r.ours <= r.theirs)}: +${us(r.ours)} µs vs +${us(r.theirs)} µs (${PEERS[r.peer]}, measured beside it; ${(r.theirs / Math.max(r.ours, 0.1)).toFixed(1)} × below)`
        : hit === undefined || peerRead === undefined
          ? "–"
          : `${verdict(10 * hit <= peerRead.added)}: +${us(hit)} µs vs +${us(peerRead.added)} µs (${PEERS[peerRead.peer]}; ${(peerRead.added / Math.max(hit, 0.1)).toFixed(1)} × below)`;
    const write =
      w === undefined
        ? "–"
        : `${verdict(w.ours <= 0.25 * w.theirs)}: +${us(w.ours)} µs vs ${us(0.25 * w.theirs)} µs (0.25 × +${us(w.theirs)}, ${PEERS[w.peer]}; ours − theirs ${us(w.margin)} µs, repeat by repeat ${us(w.range.min)} to ${us(w.range.max)})`;
    const floorRead = floorAdded(d, "read-only");
    const floorChanged = floorAdded(d, "changed");
    const floor =
      floorRead === undefined || floorChanged === undefined
        ? "–"
        : `+${us(floorRead)} µs${r !== undefined ? ` (${(r.theirs / Math.max(floorRead, 0.1)).toFixed(1)} × below the peer's read)` : ""}, +${us(floorChanged)} µs`;
    rows.push(`| ${d.distanceMs} ms | ${own} | ${below} | ${write} | ${floor} |`);
  }
  return rows;
}

function backgroundRows(results: Results): string[] {
  const rows = [
    "| store | size | response → landed, one write at a time (ms per write) | of it, beyond the simulated distance (ms) | `awaitWrites: true` instead: added before the response (ms) |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const d of results.distances) {
    for (const size of SIZES) {
      const bg = d.perRequest[`changed, one write at a time / ${size}`]?.backgroundPerWrite;
      const awaited = addedAt(d, "changed, awaitWrites", size, "changed");
      if (bg === undefined) continue;
      rows.push(
        `| ${d.distanceMs} ms | ${size} | ${ms(bg.median / 1000)} (${ms(bg.min / 1000)}–${ms(bg.max / 1000)}) | ${ms(bg.median / 1000 - d.distanceMs)} | ${awaited === undefined ? "–" : ms(awaited / 1000)} |`,
      );
    }
  }
  return rows;
}

/** Where the time of a hit and of a changed request goes inside the middleware (CPU profiles). */
function profileRows(results: Results): string[] {
  const p = results.profile;
  if (p === undefined) return [];
  const rows = [
    "| inside the session middleware | hit (µs per request) | changed (µs per request) |",
    "| --- | --- | --- |",
  ];
  const cell = (map: Record<string, number | null>, name: string) => {
    const value = map[name];
    return value === undefined || value === null ? "–" : us(value);
  };
  for (const [name, label] of PROFILE_LABELS)
    rows.push(`| ${label} | ${cell(p.hit, name)} | ${cell(p.changed, name)} |`);
  return rows;
}
const PROFILE_LABELS: Array<[string, string]> = [
  ["session", "all of it (`session`), the handler's own work included"],
  ["sentCookie", "finding the two cookies in the Cookie header by name, as sent (`sentCookie`)"],
  [
    "equalStrings",
    "matching them with the values verified before (`equalStrings`, in constant time: no decoding, no HMAC)",
  ],
  ["loadSession", "the memory-tier lookup and the protocol's decision on it (`loadSession`)"],
  ["#change", "telling whether the handler changed the session (`SessionHandle.#change`)"],
  ["saveChange", "saving (`saveChange`)"],
  ["joined", "… of it, the change onto this isolate's copy (`joined`: the size checked, the copy kept)"],
  ["withRequestChange", "… … of that, the protocol's step (`withRequestChange`: the new view)"],
  ["flushLater", "… of it, scheduling the write (`flushLater`, before the response)"],
  ["planWrite", "the write's plan (`planWrite`; it runs after the response: should be 0)"],
  ["seal", "sealing (`seal`; it runs after the response: should be 0)"],
  [
    "signCookieValue",
    "signing the version cookie (`signCookieValue`, the key imported once; its synchronous part: the HMAC itself completes on an await)",
  ],
];

function cpuRows(results: Results): string[] {
  const near = results.distances.find((d) => d.distanceMs === 0);
  if (near === undefined) return [];
  const rows = [
    "| size | store in the isolate, writes drained together (µs CPU per write) | store in the isolate, one write at a time (µs per write) | Redis 0 ms away, writes drained together (µs per write) | Redis 0 ms away, one write at a time (µs per write) |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const size of SIZES) {
    const cell = (key: string) => {
      const bg = near.perRequest[`${key} / ${size}`]?.backgroundPerWrite;
      return bg === undefined ? "–" : range(bg);
    };
    rows.push(
      `| ${size} | ${cell("changed, store in the isolate")} | ${cell("changed, store in the isolate, one write at a time")} | ${cell("changed")} | ${cell("changed, one write at a time")} |`,
    );
  }
  return rows;
}

function checks(results: Results): string[] {
  const notes: string[] = [];
  for (const d of results.distances) {
    for (const [key, figure] of Object.entries(d.perRequest)) {
      // The floor's background is a promise already settled: nothing of it runs inside the timed part.
      if (figure.settledEarly > 0 && !key.startsWith("floor")) {
        notes.push(
          `- ${d.distanceMs} ms, ${key}: ${figure.settledEarly} background writes finished inside the timed requests.`,
        );
      }
      const { hit = 0, miss = 0, revalidated = 0 } = figure.events;
      const served = hit + miss + revalidated;
      const expected = key.startsWith("hit") || key.startsWith("changed") ? "hit" : undefined;
      // A session read without pause passes its staleness bound once per bound of wall time, and the request
      // after that confirms it (as it must): no more of those than the whole run has bounds in it.
      const bounds = Math.ceil((results.durationSeconds * 1000) / STALENESS_BOUND_MS);
      if (expected === "hit" && served > 0 && (miss > 0 || revalidated > bounds)) {
        notes.push(`- ${d.distanceMs} ms, ${key}: ${served - hit} of ${served} requests were not memory-tier hits.`);
      }
      if (key.startsWith("hit") && figure.backgroundPerRequest > 0) {
        notes.push(`- ${d.distanceMs} ms, ${key}: ${figure.backgroundPerRequest} background tasks per request.`);
      }
    }
  }
  return notes;
}

export function renderTable(results: Results): string {
  return ["", ...criticalPathTable(results), "", ...peerTable(results), "", ...goalRows(results), ""].join("\n");
}

export function renderMarkdown(results: Results, fleet?: FleetResults): string {
  const m = results.machine;
  const method = results.method;
  const codecRows = Object.entries(results.codec).map(([op, f]) => `| ${op} | ${range(f)} |`);
  const sizeRows = Object.entries(results.sizes).map(
    ([size, s]) =>
      `| ${size} | ${s.json} | ${s.sealed} (${((100 * s.sealed) / s.json).toFixed(0)} %) | ${s.approuter} (${((100 * s.approuter) / s.json).toFixed(0)} %) |`,
  );
  const trips = results.roundTrips;
  const tripRows = Object.entries(trips.scenarios).map(
    ([name, t]) =>
      `| ${name} | ${t.requests} | ${t.roundTrips.toFixed(2)} | ${t.reads.toFixed(2)} (${t.fullReads.toFixed(2)} full) | ${t.writes.toFixed(2)} |`,
  );
  const stale = results.staleRead;
  const staleRows = Object.entries(stale.distances).map(
    ([distance, s]) =>
      `| ${distance} ms | ${ms(s.visibleAfterMs.p50)} / ${ms(s.visibleAfterMs.p95)} / ${ms(s.visibleAfterMs.max)} | ${ms(s.otherIsolateMs.p50)} / ${ms(s.otherIsolateMs.p95)} / ${ms(s.otherIsolateMs.max)} | ${s.otherIsolateReadsPerRequest.toFixed(2)} | ${s.staleReadEvents} |`,
  );
  const far = stale.distances["80"];
  const recommended = far === undefined ? undefined : recommendedWait(far.visibleAfterMs);
  const httpRows = Object.entries(results.http).map(
    ([kind, h]) => `| ${kind} | ${Math.round(h.requestsPerSecond)} | ${h.latencyP50Ms} | ${h.errors} |`,
  );
  const mem = results.memory;
  const notes = checks(results);
  const nStore = Object.entries(method.requestsPerLoopWithStore)
    .map(([d, n]) => `${n} at ${d} ms`)
    .join(", ");
  return `# Benchmarks

Taken ${results.takenAt} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.os}, Node ${m.node},
workerd ${m.workerd} (Miniflare). Regenerate with \`npm run bench\` (this run took ${Math.round(results.durationSeconds / 60)} minutes,
${results.durationSeconds} s; not part of \`npm test\`).

Redis is a private redis-server behind the local Upstash-protocol REST gateway, whose simulated distance
(\`delayMs\`: half of it before the command runs, half before the answer leaves) is set to 0, 20 and 80 ms:
a store in the same place, in a nearby region, and across an ocean.

How the time per request is taken: the benchmark worker is bundled as wrangler bundles a deploy (esbuild, names
kept: wrangler's default), and a loop of requests runs inside workerd (each through the contender's Hono
app, its cookies carried from one request to the next, and sent amid a real browser's other cookies, for
every contender alike: ${BROWSER}) and is timed there. workerd's clock moves in whole
milliseconds, so a loop is timed as a whole (or as a sum of segments that each start at a random point of a
millisecond, whose rounding averages out) and divided by its requests: ${method.requestsPerLoop} requests per loop, ${nStore}
where each request waits for the store. Every figure is the median of ${method.repeats} loops (${method.repeatsHit} for the hit and the bare
route beside it, ${method.repeatsChanged} for the changed request and the peers' writes beside it), after a warm-up loop, with the
spread (min–max) in brackets. Figures measured side by side took turns loop by loop, and what one adds over
another is the median of their loop-by-loop differences. Response bodies are not read inside the loop (for every contender alike):
reading one lets workerd run queued I/O work, and with it a background write. The browser's side is not timed either: the
cookies a response set go into its jar after the round (a round sends one request per jar), for every contender alike.

**The critical path leaves the background out.** A changed session is written after the response
(\`waitUntil\`). The loop collects each round's \`waitUntil\` promises and awaits them only after the round's
requests, outside the timed part, and times that wait on its own ("background" below). A changed request is
measured on ${method.changedSessions.small!.sessions} small (${method.changedSessions.large!.sessions} large) sessions, one request each per round, so each starts its
own write with no other write of its session running, as a session changed once a second does. Each loop
checks that no background write finished inside the timed requests and that the requests were served as
labelled (memory-tier hits; a session read without pause passes its staleness bound once every
${STALENESS_BOUND_MS / 1000} s, and the next request confirms it with one conditional read, as it must: those are
allowed, up to one per ${STALENESS_BOUND_MS / 1000} s of the run, and anything else is flagged).${notes.length > 0 ? `\n\nChecks that failed in this run:\n\n${notes.join("\n")}` : " Both held in this run."}

The machine is shared and noisy: 2 cores, with a 1-minute load average of ${m.loadAverage.start.toFixed(1)} when this run began and
${m.loadAverage.end.toFixed(1)} when it ended (other work on the machine). Compare figures taken side by side, not single figures;
figures within a few tens of µs of each other are not told apart by one run.

![added time per request](bench/chart.svg)

## Critical path: added µs per request at each distance

Added µs per request over the bare route at the same distance (the same path: a read-only request is
compared with the bare \`GET\`, a changed one with the bare \`POST\`; the bare route gets the same session
cookies, which it ignores), and the total per request. Small: ≈2 KB
of JSON; large: ≈50 KB. A hit is served from the isolate's memory while its entry was confirmed against the
store within \`maxStalenessMs\` (5 s); a revalidated request is one past that bound (one conditional read: a
few bytes when nothing changed); a miss is a fresh isolate's first request for a session (one read and an
unseal). A changed request reads three keys, changes one, and leaves the compare-and-set write to
\`waitUntil\`: no store call and no sealing is on its critical path, but the change's bookkeeping, the
version cookie, and scheduling the write are (see *Where the time goes*). The large session's changed
request ran on ${method.changedSessions.large!.sessions} sessions at a time (the memory tier keeps at most a quarter of its bound in
unsaved changes; more would be written before the response).

${criticalPathTable(results).join("\n")}

### The peers (no store: measured once)

hono-sessions and @hono/session keep the session in the cookie or in one isolate's memory, so their figures
do not depend on the distance to a store. Their changed column is their write.

${peerTable(results).join("\n")}

### Goals

With a browser's Cookie header (${BROWSER}), at every distance: a hit
adds at most half the bare route's own time and is at least 10 × below the cheapest peer's read (measured
beside it, taking turns); a changed session adds at most a quarter of the cheapest peer's write (measured beside
it, taking turns). Small session. The last column is the floor: a \`Map\` behind an unsigned cookie in a
Hono middleware (found by name, looked up, set on the context; on a change the cookie set again and a promise
handed to \`waitUntil\`), measured in the same loops. No session layer can cost less; where the floor itself
is not 10 × below the peer's read, that goal cannot be met by any layer whose hit reads a cookie.

${goalRows(results).join("\n")}

${whereTimeGoes(results)}

${cpuSection(results)}

${microSection(results)}

## Work moved to \`waitUntil\`, counted

The background of a changed request: sealing (deflate + AES-GCM), the compare-and-set round trip to the store,
and the bookkeeping when it lands (memory tier, events). What of it runs after the response is timed here,
apart from the requests; what runs before (the write's synchronous start) is in the critical path.

Time per write, one write at a time: a session changed by one request, whose write is then awaited before
the next request (one round per request). "Response → landed" is the time from the handler's response until
the \`waitUntil\` promise settled: the rest of sealing (deflate, AES-GCM), the REST call (its HTTP request
and JSON), the simulated distance, the gateway and redis-server, and the landing (memory tier, events); the
next column is that time less the simulated distance. The last column is the cross-check: the same write
awaited before the response (\`awaitWrites: true\`), as added time over the bare route. (Its
synchronous start, which runs before the response, is in the critical path above, not here.)

${backgroundRows(results).join("\n")}

CPU of the background at distance 0 (the part after the response; the write's synchronous start is in the
critical path). With the store inside the isolate (a \`MemoryStore\`: no network, no Redis client) the
background is CPU only: the rest of sealing, the compare-and-set logic, the landing. "Drained
together": the writes of a round of changed requests (one per session) are awaited at once after the round,
so their waits overlap and the time per write is their CPU. With Redis 0 ms away the figure adds the REST
client's work (request, JSON) and the loopback round trip to the gateway and redis-server (overlapped
when drained together).

${cpuRows(results).join("\n")}

## Store round trips per request (counted at the gateway)

In real time, with the store ${trips.distanceMs} ms away: each scenario is its own session (seeded, then left
for 6 s, past the staleness bound, before its first request), all run side by side. "At once" is that many
requests sent together with the same cookies; "two isolates" sends them alternately to two isolates
(two workerd processes, each with its own memory tier). HTTP round trips per request count every call to the
gateway for the session (the REST client sends one command per call). Reads are conditional reads
(\`getIfChanged\`: a few bytes when unchanged; "full" is a read that had no version to compare, as a miss);
writes are compare-and-set calls, all after the response. An expiry refresh would ride on a read; none
was due. Stale reads reported in these scenarios: ${trips.staleReads}; write conflicts (merged and retried): ${trips.conflicts}.

| scenario | requests | HTTP round trips | reads | writes |
| --- | --- | --- | --- | --- |
${tripRows.join("\n")}

How the bound and the queue explain them:

${tripNotes(trips).join("\n")}

## Stale reads: how long a write takes to become readable

A session is changed ${stale.writes} times on one isolate with the store ${Object.keys(stale.distances).join(" and ")} ms away (after each write has
landed, the next). After each response, a Node-side client polls Redis directly (every millisecond) until it holds the
new version ("readable after"), and at the same moment the user's next request goes to another isolate
that holds the previous version ("next request on another isolate": from the first response until its
answer). p50 / p95 / max:

| store | readable after (ms) | next request on another isolate (ms) | its store reads per request | stale-read reports |
| --- | --- | --- | --- | --- |
${staleRows.join("\n")}

${staleNotes(stale, recommended)}

## Codec

| operation | µs |
| --- | --- |
${codecRows.join("\n")}

## Stored bytes per session

| session | JSON bytes | sealed (this project) | application router (gzip + base64) |
| --- | --- | --- | --- |
${sizeRows.join("\n")}

## Memory tier

${mem.unbounded.entries} small sessions (${mem.sessionJsonBytes} bytes of JSON each) are accounted as
${(mem.unbounded.bytes / 2 ** 20).toFixed(1)} MiB (${Math.round(mem.unbounded.bytes / mem.unbounded.entries)} bytes each: the JSON string and its parsed copy,
counted as 4 bytes per JSON character, the id, and a fixed overhead per entry). With a bound of ${(mem.bounded.maxBytes / 2 ** 20).toFixed(1)} MiB the tier keeps ${mem.bounded.entries}
of them (${(mem.bounded.bytes / 2 ** 20).toFixed(2)} MiB), evicting the least recently used.

## Requests per second over HTTP

autocannon, 10 connections, 5 s, against the benchmark worker in Miniflare on loopback (store 0 ms away).

| route | requests/s | p50 latency (ms) | errors |
| --- | --- | --- | --- |
${httpRows.join("\n")}

${fleetSection(fleet)}

${capacitySection(results, fleet)}
`;
}

/** p95 × 2, rounded up to 50 ms. */
export function recommendedWait(visible: Quantiles): number {
  return Math.max(50, Math.ceil((2 * visible.p95) / 50) * 50);
}

/** Seconds a reader spends on a write that never lands: first read, pauses (10 ms doubling), a read after each. */
function staleCost(waitMs: number, rttMs: number): string {
  let waited = 0;
  let delay = 10;
  let reads = 1;
  while (waited < waitMs) {
    waited += Math.min(delay, waitMs - waited);
    delay *= 2;
    reads++;
  }
  return ((waited + reads * rttMs) / 1000).toFixed(2);
}

/** Horizontal bars: added µs on the critical path (small session) at each distance, and the peers'. */
export function renderChart(results: Results): string {
  const bars: Array<{ label: string; value: number; ours: boolean }> = [];
  for (const kind of ["hit", "changed"]) {
    for (const d of results.distances) {
      const value = addedAt(d, kind, "small", kind === "hit" ? "read-only" : "changed");
      if (value !== undefined)
        bars.push({ label: `hono-edge-session ${kind}, store ${d.distanceMs} ms`, value, ours: true });
    }
  }
  for (const path of ["read-only", "changed"] as const) {
    for (const [id, label] of Object.entries(PEERS)) {
      const value = peerAdded(results, id, "small", path);
      if (value !== undefined) bars.push({ label: `${label}, ${path}`, value, ours: false });
    }
  }
  const width = 900;
  const rowHeight = 26;
  const labelWidth = 400;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const scale = (width - labelWidth - 80) / max;
  const rows = bars
    .map((bar, i) => {
      const y = 40 + i * rowHeight;
      const w = Math.max(1, bar.value * scale);
      return `  <text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(bar.label)}</text>
  <rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${bar.ours ? "#f38020" : "#8a8f98"}"/>
  <text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 15}">${bar.value.toFixed(1)} µs</text>`;
    })
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${50 + bars.length * rowHeight}" font-family="sans-serif" font-size="13">
  <text x="10" y="22" font-size="15" font-weight="bold">Added µs on the critical path over a bare Hono route (small session; background excluded)</text>
${rows}
</svg>
`;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The round-trip figures explained by the staleness bound and the write queue, with this run's numbers. */
function tripNotes(trips: RoundTrips): string[] {
  const t = (name: string) => trips.scenarios[name];
  const per = (value: number | undefined, n: number) => (value === undefined ? "–" : (value * n).toFixed(1));
  const notes: string[] = [];
  const r1 = t("read-only, once a second");
  if (r1 !== undefined) {
    notes.push(
      `- **Read-only, once a second** (${per(r1.reads, r1.requests)} reads in ${r1.requests} requests): an entry is served from memory while it was confirmed within 5 s; the first request after the pause confirms it (one conditional read), then one read each time the last confirmation is 5 s old: about every sixth request at one a second.`,
    );
  }
  const r10 = t("read-only, once every 10 s");
  if (r10 !== undefined) {
    notes.push(
      `- **Read-only, once every 10 s** (${r10.reads.toFixed(2)} reads per request): every request is past the bound, so each confirms the entry with one conditional read (a few bytes; nothing is unsealed) on its critical path.`,
    );
  }
  const c1 = t("changed, once a second");
  if (c1 !== undefined) {
    notes.push(
      `- **Changed, once a second** (${c1.writes.toFixed(2)} writes, ${c1.reads.toFixed(2)} reads per request): one compare-and-set per change, after the response. A landed write confirms the entry, so the session never passes the bound again; only the first request after the pause reads.`,
    );
  }
  const c10 = t("changed, once every 10 s");
  if (c10 !== undefined) {
    notes.push(
      `- **Changed, once every 10 s** (${c10.roundTrips.toFixed(2)} round trips per request): past the bound, a conditional read on the critical path, then the write after the response.`,
    );
  }
  const b10 = t("read-only, burst of 10 every 10 s, one isolate");
  const b1 = t("read-only, burst of 10 every second, one isolate");
  if (b10 !== undefined && b1 !== undefined) {
    notes.push(
      `- **Read-only bursts of 10 on one isolate**: a burst that arrives past the bound reads ${per(b10.reads, 10)} times (every 10 s): the first request reads, and the others, arriving while that read is out, wait on the isolate's memory for its answer instead of reading too (goal: at most 2 reads per burst). Within the bound a burst reads nothing (every second: ${per(b1.reads, b1.requests)} reads in ${b1.requests / 10} bursts, the bursts that came 5 s or more after the last confirmation).`,
    );
  }
  const cb10 = t("changed, burst of 10 every 10 s, one isolate");
  const cb1 = t("changed, burst of 10 every second, one isolate");
  if (cb10 !== undefined && cb1 !== undefined) {
    notes.push(
      `- **Changed bursts of 10 on one isolate**: ${per(cb1.writes, 10)} writes per burst every second, ${per(cb10.writes, 10)} every 10 s, not 10: the first change's write runs; the others are merged into the memory entry while it runs, and the write queue writes the newest once the first has landed (a change that comes after that starts another write). The bursts every 10 s read as the read-only ones do (${per(cb10.reads, 10)} per burst); the ones every second read only after the pause, since the writes keep confirming the entry.`,
    );
  }
  const two = t("changed, burst of 10 every 10 s, two isolates");
  const tworead = t("read-only, burst of 10 every 10 s, two isolates");
  if (two !== undefined && tworead !== undefined) {
    notes.push(
      `- **Bursts of 10 over two isolates**: each isolate reads for itself (the second isolate's first burst misses: ${per(tworead.fullReads, tworead.requests)} full reads in all) and queues its own writes: ${per(two.writes, 10)} writes per burst against ${cb10 === undefined ? "–" : per(cb10.writes, 10)} on one isolate, since each isolate's queue writes its first change and then its newest, and a write that meets the other isolate's newer version in the store (a compare-and-set conflict, ${trips.conflicts} in all, over every scenario) merges onto it and is written again.`,
    );
  }
  return notes;
}

/** What the stale-read timing says about `staleReadWaitMs`. */
function staleNotes(stale: StaleRead, recommended: number | undefined): string {
  const far = stale.distances["80"];
  if (far === undefined || recommended === undefined) return "";
  const current = DEFAULT_STALE_READ_WAIT_MS;
  return `The write leaves with the response and reaches Redis half a round trip later: with the store 80 ms
away it is readable ${ms(far.visibleAfterMs.p50)} ms after the response at the median, ${ms(far.visibleAfterMs.p95)} ms at p95 and ${ms(far.visibleAfterMs.max)} ms at most.
The user's next request, sent at once to the other isolate, needed ${far.otherIsolateReadsPerRequest.toFixed(2)} store reads per request and reported ${far.staleReadEvents}
stale reads: its own read reaches Redis half a round trip after it starts, so it found the write in place.
That is because both isolates are as far from the store here. A reader nearer the store than the writer
(another location) gets there sooner, by up to the writer's half round trip; in the worst case it must
wait out the whole time from the response to readable. So the wait should cover that time, at the farthest
distance, with margin: **recommended \`staleReadWaitMs\`: ${recommended} ms** (p95 at 80 ms × 2, rounded up to 50 ms).
${
  recommended < current
    ? `The current default, ${current} ms, covers it with margin to spare, ${(current / far.visibleAfterMs.p95).toFixed(1)} × p95: it is not wrong for a write in flight
(a reader returns as soon as the write is there). What a longer wait costs is the case it exists for, a
write that never lands (its isolate died, its store call failed): the reader then waits the whole
\`staleReadWaitMs\` in pauses (10, 20, 40… ms), plus a round trip per read, before it serves the newest
version the store has and reports \`stale-read\`: at 80 ms about ${staleCost(current, 80)} s with ${current} ms, about ${staleCost(recommended, 80)} s with ${recommended} ms.
The measurements support lowering the default to ${recommended} ms.`
    : recommended === current
      ? `The default, ${current} ms, is this figure (${(current / far.visibleAfterMs.p95).toFixed(1)} × p95): a reader returns as soon as the write is there,
and a write that never lands (its isolate died, its store call failed) costs its reader about ${staleCost(current, 80)} s at 80 ms
(pauses of 10, 20, 40… ms, plus a round trip per read) before it serves the newest version the store has and reports \`stale-read\`.`
      : `The current default, ${current} ms, does not cover it: it should be ${recommended} ms.`
}
Note that \`staleReadWaitMs\` counts only the pauses between reads, not the reads: the wall time of a wait is
the pauses plus a round trip per read.`;
}

/** The "Where the time goes" section, from the CPU profiles. */
function whereTimeGoes(results: Results): string {
  const p = results.profile;
  if (p === undefined) return "";
  const h = (name: string) => p.hit[name] ?? 0;
  const c = (name: string) => p.changed[name] ?? 0;
  return `## Where the time goes (CPU profiles)

CPU profiles taken through workerd's inspector (sampling every 50 µs) of ${p.hits} memory-tier hits and of
${p.writes} changed requests with their background writes (small session, store 0 ms away, the browser's
other cookies sent too), in an isolate of their own: the time spent inside the session middleware, per
request, by function (inclusive). The profiler slows what it watches and the machine is noisy, so read the
figures as shares.

${profileRows(results).join("\n")}

- **Hit**: finding the two cookies amid the browser's others takes ${us(h("sentCookie"))} µs and matching them ${us(h("equalStrings"))} µs
  of the middleware's ${us(h("session"))} µs (a value verified before is recognised by the text sent, in constant time: not
  decoded or checked again), the memory-tier lookup and the protocol's decision (\`loadSession\`) ${us(h("loadSession"))} µs, and
  telling whether the handler changed the session ${us(h("#change"))} µs. The rest is the handler's three
  \`get()\` calls through the session API and Hono's plumbing.
- **Changed**: the write only is scheduled before the response: \`flushLater()\` marks the session's
  queue running and starts the write on the next task, ${us(c("flushLater"))} of the middleware's ${us(c("session"))} µs. The plan
  (\`planWrite\`, ${us(c("planWrite"))} µs here) and sealing (\`seal\`: deflate and AES-GCM, ${us(c("seal"))} µs here) run after the
  response, in \`waitUntil\` (below). The change onto this isolate's copy takes ${us(c("joined"))} µs; signing the version
  cookie ${us(c("signCookieValue"))} µs. The rest is the handler's work through the session API and Hono's plumbing.

${backgroundProfile(results)}`;
}

const BACKGROUND_LABELS: Record<string, string> = {
  seal: "`seal`: the session sealed (deflate-raw, AES-GCM; its own steps)",
  deflate: "… `deflate`: the CompressionStream's part, after its awaits",
  storeKeyOf: "`storeKeyOf`: the store key (a SHA-256 of the id)",
  userKeyOf: "`userKeyOf`: the user's index key (an HMAC of the user id)",
  handleOf: "`handleOf`: the session's handle in that index (an HMAC)",
  indexChangesOf: "`indexChangesOf`: the protocol's index step (only when the tie or the expiry moved)",
  changeIndex: "`changeIndex`: the user-index change that goes with the write (the entry sealed again)",
  setIfVersion: "`setIfVersion`: the store's compare-and-set (here a MemoryStore)",
  writeChanges: "`writeChanges`: the engine's write, all of it (plan, seal, store call, landing)",
  writeOnce: "… `writeOnce`: one attempt of it",
  planWrite: "`planWrite`: the protocol's plan of the write",
  afterWrite: "`afterWrite`: the protocol's reading of the store's answer",
  holding: "`holding`: the copy rebuilt on what landed",
  viewOf: "`viewOf`: a view computed from a version and changes",
  wrap: "`wrap`: the envelope around the data",
};

/** The background write's profile, by function: what the protocol's steps cost (the lead's to change). */
function backgroundProfile(results: Results): string {
  const bg = results.profile?.background;
  if (bg === undefined) return "";
  const plain = bg["hes-cpu"];
  const user = bg["hes-cpu-user"];
  const cell = (b: BackgroundProfile | undefined, name: string) => {
    const value = b?.functions[name];
    return value === undefined || value === null ? "–" : us(value);
  };
  const names = Object.keys(plain?.functions ?? user?.functions ?? {});
  const rows = [
    "| function (samples whose stack holds it) | store in the isolate (µs per write) | … the session tied to a user (µs per write) |",
    "| --- | --- | --- |",
    `| the isolate busy, per changed request (the request, its write, and the loop's own work) | ${plain === undefined ? "–" : us(plain.busy)} | ${user === undefined ? "–" : us(user.busy)} |`,
    ...names.map(
      (name) => `| ${BACKGROUND_LABELS[name] ?? `\`${name}\``} | ${cell(plain, name)} | ${cell(user, name)} |`,
    ),
  ];
  return `### The background write, by function

Profiles of ${plain?.writes ?? user?.writes ?? 0} changed requests each on a store inside the isolate (\`MemoryStore\`: no
network, so the background is CPU only), the session not tied to a user and tied to one (\`setUser\`: each
write then also rewrites the session's entry in the user's index). µs per write, counting every sample
whose stack holds the function. After an \`await\`, an async function resumes with itself at the bottom of the
stack, so a caller does not include what its callees ran after their own awaits; "–": no such function in
this build.

${rows.join("\n")}`;
}

/** The CPU a request costs, all of it (workerd process CPU), beside the cheapest peer's. */
function cpuSection(results: Results): string {
  const c = results.cpu;
  if (c === undefined) return "";
  const bareFor = (key: string) =>
    c[key.includes("read-only") || key === "hit" ? "bare route, read-only" : "bare route, changed"];
  const added = (key: string) => {
    const own = c[key];
    const bare = bareFor(key);
    if (own === undefined || bare === undefined || own === bare) return undefined;
    return medianOf(own.cpu.samples.map((value, i) => value - bare.cpu.samples[i]!));
  };
  const rows = [
    "| request | workerd CPU per request (µs) | added over the bare route (µs CPU) | timed inside the isolate: before the response / its background (µs) |",
    "| --- | --- | --- | --- |",
    ...Object.entries(c).map(([key, f]) => {
      const plus = added(key);
      return `| ${key} | ${range(f.cpu)} | ${plus === undefined ? "–" : `**${plus > 0 ? "+" : ""}${us(plus)}**`} | ${us(f.critical.median)} / ${us(f.background.median)} |`;
    }),
  ];
  const ours = added("changed, store in the isolate (MemoryStore)");
  const redis = added("changed, Redis 0 ms away");
  const user = added("changed, store in the isolate, tied to a user");
  const peer = added("peer: @hono/session, changed");
  const goal =
    ours === undefined || peer === undefined
      ? ""
      : `**Goal** (a changed small session's whole CPU at most the cheapest peer's write, store in the isolate):
**${ours <= peer ? "met" : "not met"}**: +${us(ours)} µs against @hono/session's +${us(peer)} µs${
          redis === undefined ? "" : `; with Redis 0 ms away +${us(redis)} µs`
        }${user === undefined ? "" : `; tied to a user (the index entry rewritten on each write) +${us(user)} µs`}.`;
  return `## The CPU a request costs, all of it

Workers bill the CPU of a request's \`waitUntil\` work too. Here each contender's requests (small session,
the browser's other cookies sent, store 0 ms away) run in loops as above, each round's background writes
drained inside the loop, and what is counted is the CPU time the workerd process used meanwhile (Linux
\`schedstat\`, all its threads: the isolate's JavaScript and the runtime's work for it, as its HTTP client's for
Redis; not the gateway's or redis-server's), per request: the median of ${results.method.repeatsCpu ?? results.method.repeatsChanged} loops, the
contenders taking turns. "Added" is over the bare route in the same loops (the same cookies, which it
ignores), paired loop by loop. The store in the isolate is a \`MemoryStore\` (no network: what remains is the
layer's own work). The last column is the same loops timed inside the isolate (workerd's clock: whole
milliseconds, averaged over the loop). @hono/session has no store: its changed request is its whole write.

${rows.join("\n")}

${goal}`;
}

/** One step of the cookies' and the sealing's work, before and now. */
function microSection(results: Results): string {
  const m = results.micro;
  if (m === undefined) return "";
  const groups = new Map<string, Array<[string, Figure]>>();
  for (const [op, figure] of Object.entries(m)) {
    const at = op.indexOf(": ");
    const group = op.slice(0, at);
    groups.set(group, [...(groups.get(group) ?? []), [op.slice(at + 2), figure]]);
  }
  const rows = ["| step | done | µs | now, against before |", "| --- | --- | --- | --- |"];
  for (const [group, ways] of groups) {
    const before = ways.find(([way]) => /before\)$/.test(way))?.[1];
    for (const [way, figure] of ways) {
      const ratio =
        /now\)$/.test(way) && before !== undefined ? `${(before.median / figure.median).toFixed(1)}× faster` : "";
      rows.push(`| ${group} | ${way} | ${range(figure)} | ${ratio} |`);
    }
  }
  return `## Cookies and sealing: before and now, side by side

Each step done the way this project did it before and the way it does it now, in the same run, taking
turns: the Cookie header is a browser's (${BROWSER}). Before: hono's cookie helpers,
which parse the whole header and import the HMAC key again for every signature made or checked, and a
deflate through a Blob's stream piped into the CompressionStream; now: each cookie found by its name
(\`src/request/cookie-header.ts\`: as sent, so that a value verified before is known by its text without
decoding; read with hono's parsing rules the first time), the key imported once per isolate
(\`src/sealing/cookie-signature.ts\`), and the stream written to directly (\`src/sealing/codec.ts\`). µs per
operation, timed from outside as (T(n) − T(1)) / (n − 1), the lower median of two passes of ${results.method.repeats} repeats.

${rows.join("\n")}`;
}

const STORE_NAMES: Record<string, string> = {
  redis: "Redis (through the gateway)",
  "durable-object": "Durable Object store",
};
const CONTENDER_NAMES: Record<string, string> = {
  ours: "this project (default options)",
  baseline: "baseline: a store read per request (no memory tier)",
};
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
const bytes = (value: number) => (value >= 2 ** 30 ? `${(value / 2 ** 30).toFixed(2)} GiB` : `${mib(value)} MiB`);

/** The fleet run: many isolates, many sessions, a realistic mix, against the baseline. */
function fleetSection(fleet: FleetResults | undefined): string {
  if (fleet === undefined) return "## Fleet\n\nNo fleet run yet: `npm run bench:fleet`.";
  const s = fleet.settings;
  const m = s.model as {
    pagesPerVisit: { mean: number };
    thinkMs: { mean: number };
    kinds: Record<string, number>;
    sameConnection: number;
    logout: number;
    logoutEverywhere: number;
  };
  const rows = [
    "| store | contender | requests (per s) | store operations per request | hit ratio | added p50 / p99 (ms) | each isolate's heap (MiB) | logins: operations each | errors |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...fleet.runs.map((run) => {
      const errors = Object.values(run.errors).reduce((a, b) => a + b, 0);
      const ops = `**${run.operationsPerRequest.toFixed(3)}** (${Object.entries(run.operationsByName)
        .sort((a, b) => b[1] - a[1])
        .map(([name, count]) => `${name} ${(count / run.requests).toFixed(3)}`)
        .join(", ")})`;
      return `| ${STORE_NAMES[run.store] ?? run.store} | ${CONTENDER_NAMES[run.contender] ?? run.contender} | ${run.requests} (${run.requestsPerSecond.toFixed(0)}) | ${ops} | ${run.hitRatio.toFixed(3)} | ${run.addedMs.p50.toFixed(0)} / ${run.addedMs.p99.toFixed(0)} | ${run.heapBytes.map(mib).join(" / ")} | ${run.loginOperationsPerLogin.toFixed(2)} | ${
        errors === 0
          ? "0"
          : `**${errors}**: ${Object.entries(run.errors)
              .map(([k, v]) => `${k} ${v}`)
              .join(", ")}`
      } |`;
    }),
  ];
  const pairs = ["redis", "durable-object"].flatMap((store) => {
    const ours = fleet.runs.find((r) => r.store === store && r.contender === "ours");
    const base = fleet.runs.find((r) => r.store === store && r.contender === "baseline");
    return ours === undefined || base === undefined
      ? []
      : [
          `- ${STORE_NAMES[store]}: ${ours.operationsPerRequest.toFixed(3)} store operations per request against the baseline's ${base.operationsPerRequest.toFixed(3)} (${(base.operationsPerRequest / ours.operationsPerRequest).toFixed(1)} × fewer); added time p50 ${ours.addedMs.p50.toFixed(0)} ms against ${base.addedMs.p50.toFixed(0)} ms, p99 ${ours.addedMs.p99.toFixed(0)} ms against ${base.addedMs.p99.toFixed(0)} ms.`,
        ];
  });
  const events = (run: FleetRun) =>
    Object.entries(run.events)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  return `## Fleet: ${s.isolates} isolates, ${s.sessions} sessions, a realistic mix

Taken ${fleet.takenAt} with \`npm run bench:fleet\` (${Math.round(fleet.durationSeconds / 60)} minutes; 1-minute load average
${fleet.machine.loadAverage.start.toFixed(1)} at the start, ${fleet.machine.loadAverage.end.toFixed(1)} at the end; seed ${s.seed}: the same visits, requests and
isolates each run). Each run starts ${s.isolates} isolates of \`bench/fleet-worker.ts\` (the real middleware, default
options; ${s.isolates} workers of one Miniflare, each its own isolate and memory tier) on its own store namespace.
Redis is behind the gateway, ${s.distanceMs} ms away per call (its simulated distance); the Durable Object store is
the package's, its objects in a worker of their own that the app workers bind to (\`scriptName\`), each call
to an object delayed by the same ${s.distanceMs} ms (half before, half after) and counted at its stub. Redis
operations are the commands the gateway ran (what Upstash bills); Durable Object operations the calls to
objects (what Cloudflare bills as requests).

- **Login phase**, once per store: each of the ${s.sessions} browsers logs in (\`regenerate()\`, \`setUser()\`,
  ≈2 KB of data), ${s.loginConcurrency ?? "64"} at a time, the store near (0 ms), on the first contender's isolates. The users have
  one browser, or two (25 %) or three (5 %): ${fleet.runs[0]?.users ?? "–"} users. Then each contender browses those sessions
  in turn, on isolates of its own, with the same visits (drawn from the seed).
- **Browsing phase**: ${s.warmSeconds} s of browsing not counted (visits under way), then ${s.seconds} s counted. Visits arrive at
  random (a Poisson process, ${s.rate} requests per second aimed at), each by a browser drawn at random (one already in
  a visit is skipped); a visit views ${m.pagesPerVisit.mean} pages on average, ${m.thinkMs.mean / 1000} s apart on average (exponential think
  times); a page view is the document (a read of the session), then 0 to 3 calls at once (${Math.round(m.kinds.read! * 100)} % reads,
  ${Math.round(m.kinds.write! * 100)} % writes of a key, ${Math.round(m.kinds.update! * 100)} % \`update()\`s of a counter). A page view keeps the previous one's connection
  (the same isolate) ${m.sameConnection * 100} % of the time, else goes to any isolate. ${m.logout * 100} % of page views end with a logout
  (\`destroy()\`), ${m.logoutEverywhere * 100} % with "log out everywhere" (\`revokeAllSessions()\`); a browser logged out logs in
  again on its next page view. Every request carries a browser's other cookies.
- **Errors** (must be 0): a non-2xx answer or a failed request; a session lost (a logged-in browser answered
  as logged out, not revoked); another user's session; a session still served more than the staleness bound
  (${s.stalenessMs / 1000} s) + 1 s after "log out everywhere" was sent; a counter that missed an \`update()\` answered before
  the request was sent, or (checked for every browser at the end) differs from the updates answered.
- **Added time**: the session middleware's own time per request, as workerd's clock sees it (it moves on
  I/O only: this is the waiting for the store, in whole milliseconds; the CPU is in the sections above).
- **Heap**: each app isolate's memory at the end, through workerd's inspector: its V8 heap in use (garbage
  not collected yet included: the inspector does not collect on demand), the runtime objects it holds and its
  ArrayBuffers (the memory tier's default bound is 8 MiB of accounted session data).

${rows.join("\n")}

${pairs.join("\n")}

Session events (all isolates): ${fleet.runs.map((run) => `${run.store} / ${run.contender}: ${events(run)}`).join("; ")}.`;
}

const MONTH_SECONDS = 30 * 24 * 3600;
const USERS = [1e4, 1e5, 1e6];
const SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹";
/** 1234 → "1234", 4.8e9 → "4.8·10⁹": large counts readable at a glance. */
function big(value: number): string {
  if (value < 1e4) return value.toFixed(value < 10 ? 2 : 0);
  const exponent = Math.floor(Math.log10(value));
  const power = [...String(exponent)].map((digit) => SUPERSCRIPT[Number(digit)]).join("");
  return `${(value / 10 ** exponent).toFixed(1)}·10${power}`;
}
const usersLabel = (n: number) => `10${"⁴⁵⁶"[Math.log10(n) - 4]}`;

/**
 * The capacity table, from the measured figures: bytes at rest per session, store operations per request by
 * traffic pattern, and what 10⁴, 10⁵ and 10⁶ active users cost in operations per second and per month.
 */
function capacitySection(results: Results, fleet: FleetResults | undefined): string {
  const rest = results.atRest ?? {};
  const restRows = [
    "| session | JSON (bytes) | sealed value (bytes) | at rest in Redis per session (bytes; key, value and index entry) | 10⁴ sessions | 10⁵ | 10⁶ |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const size of SIZES) {
    const sized = results.sizes[size];
    const held = rest[size];
    if (sized === undefined) continue;
    const per = held?.bytesPerSession ?? sized.sealed;
    restRows.push(
      `| ${size} (≈${Math.round(sized.json / 1000)} KB of JSON) | ${sized.json} | ${sized.sealed} | ${held === undefined ? "–" : Math.round(held.bytesPerSession)} | ${bytes(per * 1e4)} | ${bytes(per * 1e5)} | ${bytes(per * 1e6)} |`,
    );
  }
  // Traffic patterns: their store operations per request, and requests per second of one active user.
  interface Pattern {
    name: string;
    perUser: number;
    redis?: number;
    objects?: number;
  }
  const patterns: Pattern[] = [];
  const run = (store: string, contender: string) =>
    fleet?.runs.find((r) => r.store === store && r.contender === contender);
  for (const contender of ["ours", "baseline"]) {
    const redis = run("redis", contender);
    const objects = run("durable-object", contender);
    const perUser = redis?.requestsPerActiveBrowserSecond ?? objects?.requestsPerActiveBrowserSecond;
    if (perUser === undefined) continue;
    patterns.push({
      name:
        contender === "ours"
          ? "browsing (the fleet's mix), this project"
          : "browsing (the fleet's mix), a store read per request (baseline)",
      perUser,
      ...(redis !== undefined ? { redis: redis.operationsPerRequest } : {}),
      ...(objects !== undefined ? { objects: objects.operationsPerRequest } : {}),
    });
  }
  const trips = results.roundTrips.scenarios;
  for (const [name, perUser, label] of [
    ["read-only, once a second", 1, "one read-only request a second (a dashboard polling)"],
    ["changed, once a second", 1, "one changing request a second"],
    ["read-only, once every 10 s", 0.1, "one read-only request every 10 s"],
  ] as const) {
    const t = trips[name];
    // One command per round trip on Redis; a Durable Object call per store call likewise.
    if (t !== undefined) patterns.push({ name: label, perUser, redis: t.roundTrips, objects: t.roundTrips });
  }
  const opsRows = [
    "| traffic pattern (per active user) | requests per second per user | Redis commands per request | Durable Object requests per request |",
    "| --- | --- | --- | --- |",
    ...patterns.map(
      (p) =>
        `| ${p.name} | ${p.perUser.toFixed(2)} | ${p.redis === undefined ? "–" : p.redis.toFixed(3)} | ${p.objects === undefined ? "–" : p.objects.toFixed(3)} |`,
    ),
  ];
  const scaleRows = [
    "| traffic pattern | active users | requests/s | Redis commands/s | Upstash commands per month | Durable Object requests/s | Durable Object requests per month |",
    "| --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const p of patterns) {
    for (const users of USERS) {
      const rps = users * p.perUser;
      const redis = p.redis === undefined ? undefined : rps * p.redis;
      const objects = p.objects === undefined ? undefined : rps * p.objects;
      scaleRows.push(
        `| ${p.name} | ${usersLabel(users)} | ${big(rps)} | ${redis === undefined ? "–" : big(redis)} | ${redis === undefined ? "–" : big(redis * MONTH_SECONDS)} | ${objects === undefined ? "–" : big(objects)} | ${objects === undefined ? "–" : big(objects * MONTH_SECONDS)} |`,
      );
    }
  }
  const fleetNote =
    fleet === undefined
      ? "No fleet run yet (`npm run bench:fleet`): the browsing rows are missing."
      : `The browsing rows are the fleet run's (above): an active user is a browser in a visit, from its first request
until a think time (${((fleet.settings.model as { thinkMs: { mean: number } }).thinkMs.mean / 1000).toFixed(0)} s) after its last page, and sends ${(run("redis", "ours") ?? fleet.runs[0])!.requestsPerActiveBrowserSecond.toFixed(2)} requests per second while active
(measured: requests over active browser-seconds), at the default staleness bound (${fleet.settings.stalenessMs / 1000} s).`;
  const glance: string[] = [];
  const smallRest = rest["small"]?.bytesPerSession;
  const largeRest = rest["large"]?.bytesPerSession;
  if (smallRest !== undefined && largeRest !== undefined) {
    glance.push(
      `- **A session at rest** takes ${Math.round(smallRest)} bytes in Redis with ≈2 KB of JSON and ${Math.round(largeRest)} bytes with ≈50 KB (compressed and sealed, its user-index entry included): ${((1e6 * smallRest) / 2 ** 30).toFixed(2)} GiB and ${((1e6 * largeRest) / 2 ** 30).toFixed(1)} GiB per million sessions, where the application router's guidance plans 50 KB each.`,
    );
  }
  const ours = patterns[0];
  const base = patterns[1];
  if (ours?.redis !== undefined && base?.redis !== undefined) {
    glance.push(
      `- **Browsing** (the fleet run's mix, ${ours.perUser.toFixed(2)} requests per second per active user): ${ours.redis.toFixed(2)} store operations per request on Redis${ours.objects === undefined ? "" : ` (${ours.objects.toFixed(2)} on Durable Objects)`}, against ${base.redis.toFixed(2)} for a store read per request (express-session, the application router): ${(base.redis / ours.redis).toFixed(1)} × fewer.`,
      `- **At 10⁶ active users** browsing around the clock: ${big(1e6 * ours.perUser * ours.redis)} Redis commands per second, ${big(1e6 * ours.perUser * ours.redis * MONTH_SECONDS)} Upstash commands a month${ours.objects === undefined ? "" : `, or ${big(1e6 * ours.perUser * ours.objects * MONTH_SECONDS)} Durable Object requests`} (a store read per request: ${big(1e6 * base.perUser * base.redis * MONTH_SECONDS)}). Scale by the share of the day your users are active.`,
    );
  }
  return `## Capacity

Computed from this run's figures${fleet === undefined ? "" : " and the fleet run's"}; nothing here is written by hand.

### At a glance

${glance.length === 0 ? "Needs a full run of `npm run bench` and `npm run bench:fleet`." : glance.join("\n")}

### The figures

**Bytes at rest per session.** The sealed value is deflate-raw + AES-GCM + base64url (Stored bytes, above);
at rest in Redis is what redis-server counts (\`MEMORY USAGE\`) for 100 sessions tied to a user, over every
key of their namespace (the session's key and value, its entry in the user's index), divided by 100. The
application router's guidance plans 50 KB per session.

${restRows.join("\n")}

**Store operations per request, by traffic pattern.** ${fleetNote} The other rows are the round-trip
scenarios above (Redis, one isolate; a Durable Object store makes one call per store operation likewise).

${opsRows.join("\n")}

**At 10⁴, 10⁵ and 10⁶ active users**, each pattern kept up around the clock (a month: 30 days): operations per
second = active users × requests per second per user × operations per request. A site whose users are active
a fraction of the day pays that fraction of the monthly figures.

${scaleRows.join("\n")}`;
}
