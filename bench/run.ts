/**
 * `npm run bench`: runs bench/worker.ts in workerd (Miniflare) against a private redis-server behind the
 * Upstash-protocol gateway, with the gateway's simulated distance to the store set to 0, 20 and 80 ms, prints
 * the figures, and writes bench/results.json, bench/chart.svg and BENCHMARKS.md. A timed figure is the median
 * of its repeats, with the spread (min–max); what each figure includes is written out in BENCHMARKS.md.
 *
 * BENCH_QUICK=1 measures only the bare route, the memory-tier hit and the changed request (small session,
 * store 0 ms away) and writes nothing; with BENCH_PROFILE=1 it also prints CPU profiles of the hit and the
 * changed request (taken through workerd's inspector) and writes them to bench/profile-*.cpuprofile.
 * BENCH_SECTIONS=peers,distances,cpu,micro,profile,trips,stale,other runs only the sections named, and writes
 * nothing. The fleet run (many isolates, many sessions, a realistic mix) is `npm run bench:fleet` (bench/fleet.ts).
 */
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, release, totalmem } from "node:os";
import autocannon from "autocannon";
import Redis from "ioredis";
import * as prettier from "prettier";
import { Miniflare } from "miniflare";
import { startGateway, type RecordedCommand } from "../tools/redis-rest/gateway.js";
import { startRedisServer } from "../tools/redis-rest/redis-server.js";
import { createServer } from "node:net";
import { CookieJar } from "../test/support/cookie-jar.js";
import { workerBundle } from "../test/support/node.js";
import { cpuNs, startBenchWorker } from "./workerd-process.js";
import { largeSession, smallSession } from "../test/support/sessions.js";
import { StoreReader } from "../test/support/stored.js";
import { withBrowserCookies } from "./browser-cookies.js";
import { breakdown, busyPerRequest, Inspector } from "./profile.js";
import {
  renderChart,
  renderMarkdown,
  renderTable,
  type CpuFigure,
  type FleetResults,
  type Figure,
  type LoopFigure,
  type Results,
  type RoundTrips,
  type StaleRead,
} from "./report.js";

const began = Date.now();
const loadAtStart = loadavg()[0]!;
const REPEATS = 7;
/** More repeats where a goal turns on a few µs: the hit beside the bare route, the changed request beside the peers. */
const REPEATS_HIT = 35;
const REPEATS_CHANGED = 15;
/** The whole-CPU loops: CPU time counted on a shared machine varies more than the time inside the isolate. */
const REPEATS_CPU = 31;
const DISTANCES = [0, 20, 80];
/** Requests per timed loop where no request waits for the store. */
const N = 1000;
/** …and where each waits for it once (a miss, a revalidation, awaitWrites): fewer, the farther the store. */
const N_STORE: Record<number, number> = { 0: 200, 20: 25, 80: 10 };
/** Sessions changed once per round (each with no write of its own running), and rounds per loop. */
const CHANGED = { small: { sessions: 100, rounds: 3 }, large: { sessions: 5, rounds: 10 } };
const COOKIE_LIMIT = 4096;
const SECRET = "bench-session-secret-".padEnd(80, "b");

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[]): Figure => ({
  median: median(values),
  min: Math.min(...values),
  max: Math.max(...values),
});
const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
};
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Ctrl-C still runs the exit hooks that stop redis-server and workerd.
process.once("SIGINT", () => process.exit(130));
const redis = await startRedisServer();
const gateway = await startGateway({ redisPort: redis.port, token: "bench-token", recordCommands: true });
const redisClient = new Redis({ port: redis.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
const script = await workerBundle("bench/worker.ts");
const quick = process.env.BENCH_QUICK === "1" || process.env.BENCH_PROFILE === "1";
/**
 * BENCH_SECTIONS=peers,distances,profile,trips,stale,other runs only those sections (and writes nothing):
 * for working on one of them.
 */
const ALL_SECTIONS = ["peers", "distances", "cpu", "micro", "profile", "trips", "stale", "other"];
const sections = new Set((process.env.BENCH_SECTIONS ?? ALL_SECTIONS.join(",")).split(",").map((s) => s.trim()));
const partial = ALL_SECTIONS.some((section) => !sections.has(section));
const profiling = process.env.BENCH_PROFILE === "1";
/** One isolate of the benchmark worker (a workerd process of its own: its own memory tiers), and its pid. */
const startIsolate = (inspectorPort?: number) =>
  startBenchWorker(script, { secret: SECRET, redis: { url: gateway.url, token: gateway.token } }, inspectorPort);

const { mf, url: base, pid: workerdPid } = await startIsolate();
const reader = await StoreReader.forSecret(SECRET);

async function call(path: string, init: { json?: unknown; cookie?: string } = {}, isolate = mf) {
  const res = await isolate.dispatchFetch(`https://bench.test${path}`, {
    method: init.json === undefined ? "GET" : "POST",
    headers: {
      ...(init.json === undefined ? {} : { "Content-Type": "application/json" }),
      ...(init.cookie ? { Cookie: init.cookie } : {}),
    },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${text}`);
  return text;
}

interface LoopAnswer {
  requests: number;
  critMs: number;
  drainMs: number;
  background: number;
  settledEarly: number;
  events: Record<string, number>;
  cookies: string[];
}
const runLoop = async (body: { contender: string; path: string; rounds: number; cookies: string[] }, isolate = mf) =>
  JSON.parse(await call("/loop", { json: body }, isolate)) as LoopAnswer;

interface Spec {
  contender: string;
  path: string;
  cookies: string[];
  rounds: number;
}

/**
 * Contenders' time per request inside the isolate: `rounds` rounds of one request per session, after a
 * warm-up round, `repeats` times, the specs taking turns (so that the machine's noise falls on all of them
 * alike); the background work of each round (its `waitUntil` promises) is awaited between rounds and timed
 * apart, per write.
 */
let groups = 0;
async function measure(specs: Spec[], repeats = REPEATS): Promise<LoopFigure[]> {
  const group = ++groups;
  const state = specs.map((spec) => ({
    spec,
    jars: spec.cookies,
    crit: [] as number[],
    drain: [] as number[],
    events: {} as Record<string, number>,
    requests: 0,
    background: 0,
    settledEarly: 0,
  }));
  for (const s of state) {
    s.jars = (await runLoop({ ...s.spec, rounds: 1, cookies: s.jars })).cookies; // warm-up (and confirms hits)
  }
  for (let r = 0; r < repeats; r++) {
    for (const s of state) {
      const answer = await runLoop({ ...s.spec, cookies: s.jars });
      s.jars = answer.cookies;
      s.crit.push((1000 * answer.critMs) / answer.requests);
      if (answer.background > 0) s.drain.push((1000 * answer.drainMs) / answer.background);
      s.requests += answer.requests;
      s.background += answer.background;
      s.settledEarly += answer.settledEarly;
      for (const [type, count] of Object.entries(answer.events)) s.events[type] = (s.events[type] ?? 0) + count;
    }
  }
  return state.map((s) => ({
    ...spread(s.crit),
    samples: s.crit,
    group,
    requests: s.requests,
    ...(s.drain.length > 0 ? { backgroundPerWrite: spread(s.drain) } : {}),
    backgroundPerRequest: s.background / s.requests,
    settledEarly: s.settledEarly,
    events: s.events,
  }));
}

const seedOne = async (contender: string, size: string) => {
  const data = size === "large" ? largeSession() : smallSession();
  return JSON.parse(await call("/seed", { json: { contender, data } })) as {
    cookieBytes: number;
    cookie: string | null;
    kept: boolean;
  };
};
const seedMany = async (contender: string, size: string, count: number, isolate = mf) =>
  (JSON.parse(await call("/seed-many", { json: { contender, size, count } }, isolate)) as { cookies: string[] })
    .cookies;

/** Functions whose time inside the session middleware the profiles break down (source names). */
const PROFILED = {
  hit: ["session", "sentCookie", "equalStrings", "loadSession", "#change", "saveChange"],
  changed: [
    "session",
    "equalStrings",
    "#change",
    "saveChange",
    "joined",
    "withRequestChange",
    "flushLater",
    "planWrite",
    "seal",
    "signCookieValue",
  ],
};
/**
 * Functions of the background write whose time the profile of changed requests breaks down (source names),
 * counted wherever they run. After an `await`, an async function resumes with itself at the bottom of the
 * stack: what its callees run after their own awaits is theirs, not its. The list names functions of the
 * write path as it is; a function renamed or gone shows as absent.
 */
const BACKGROUND = [
  "seal",
  "deflate",
  "storeKeyOf",
  "userKeyOf",
  "handleOf",
  "indexChangesOf",
  "changeIndex",
  "setIfVersion",
  "writeChanges",
  "writeOnce",
  "planWrite",
  "afterWrite",
  "holding",
  "viewOf",
  "wrap",
];
/**
 * CPU profiles (through workerd's inspector) of memory-tier hits and of changed requests, store 0 ms away,
 * in an isolate of their own (the profiler slows what it watches): the time inside the session middleware,
 * broken down by function, in µs per request.
 */
async function profileHotPaths(size: string) {
  const port = await freePort();
  const { mf: isolate } = await startIsolate(port);
  try {
    const inspector = await Inspector.connect(port);
    const hit = {
      contender: "hes-hit",
      path: "/read",
      rounds: N,
      cookies: await seedMany("hes-hit", size, 1, isolate),
    };
    await runLoop({ ...hit, rounds: 100 }, isolate);
    const hits = 10 * N;
    const hitSummary = await inspector.profile(
      async () => {
        for (let r = 0; r < 10; r++) await runLoop(hit, isolate);
      },
      "bench/profile-hit.cpuprofile",
      hits,
      "session2",
    );
    const hitBreakdown = breakdown(inspector.last!, hits, "session", PROFILED.hit);
    const sessions = CHANGED[size as "small" | "large"].sessions;
    const write = {
      contender: "hes-hit",
      path: "/write",
      rounds: 5,
      cookies: await seedMany("hes-hit", size, sessions, isolate),
    };
    // The warm-up's cookies carried on, as a browser would: else the first profiled round sends versions this
    // isolate has not seen signed, and pays a signature check that no request in the loops of the bench pays.
    write.cookies = (await runLoop({ ...write, rounds: 1 }, isolate)).cookies;
    const writes = 5 * sessions;
    const writeSummary = await inspector.profile(
      () => runLoop(write, isolate).then(() => undefined),
      "bench/profile-changed.cpuprofile",
      writes,
      "session2",
    );
    const writeBreakdown = breakdown(inspector.last!, writes, "session", PROFILED.changed);
    // The background write apart, on a store inside the isolate (no network: CPU only), the session tied to a
    // user or not (then each write also rewrites the user's index entry).
    const background: Record<string, { writes: number; busy: number; functions: Record<string, number | null> }> = {};
    for (const contender of ["hes-cpu", "hes-cpu-user"]) {
      const spec = {
        contender,
        path: "/write",
        rounds: 5,
        cookies: await seedMany(contender, size, sessions, isolate),
      };
      spec.cookies = (await runLoop({ ...spec, rounds: 1 }, isolate)).cookies;
      await inspector.profile(
        () => runLoop(spec, isolate).then(() => undefined),
        `bench/profile-${contender}.cpuprofile`,
        writes,
      );
      background[contender] = {
        writes,
        busy: busyPerRequest(inspector.last!, writes),
        functions: breakdown(inspector.last!, writes, undefined, BACKGROUND),
      };
    }
    inspector.close();
    return {
      summary: `CPU profile of ${hits} memory-tier hits (bench/profile-hit.cpuprofile):\n${hitSummary}\n\nCPU profile of ${writes} changed requests and their background writes (bench/profile-changed.cpuprofile):\n${writeSummary}`,
      profile: { hits, writes, hit: hitBreakdown, changed: writeBreakdown, background },
    };
  } finally {
    await isolate.dispose();
  }
}

function log(key: string, figure: LoopFigure) {
  const bg = figure.backgroundPerWrite
    ? `; background ${figure.backgroundPerWrite.median.toFixed(1)} µs per write`
    : "";
  console.log(
    `${key}: ${figure.median.toFixed(1)} µs (${figure.min.toFixed(1)}–${figure.max.toFixed(1)})${bg} ${JSON.stringify(figure.events)}`,
  );
}

const SIZES = quick ? ["small"] : ["small", "large"];

// ---- The peers (and the bare route): they have no store, so they are measured once. ----
const PEERS = ["hono-sessions-cookie", "hono-sessions-memory", "hono-session-jwe"];
const peers: Results["peers"] = {};
if (!quick && sections.has("peers")) {
  for (const size of SIZES) {
    for (const path of ["/read", "/write"]) {
      // The bare route and the peers that can hold the session take turns.
      const runs: Array<[string, Spec]> = [];
      for (const contender of ["bare", ...PEERS]) {
        const key = `${contender} / ${size} ${path === "/read" ? "read-only" : "changed"}`;
        const seeded =
          contender === "bare"
            ? // The bare route gets this project's cookies (and ignores them): a browser sends them to every route.
              { cookie: (await seedMany("hes-hit", size, 1))[0]!, cookieBytes: 0, kept: true }
            : await seedOne(contender, size);
        if (seeded.cookie === null) {
          peers[key] = {
            unsupported: !seeded.kept
              ? "it did not keep the session (read back empty)"
              : `its cookie is ${(seeded.cookieBytes / 1024).toFixed(1)} KB; browsers keep ${COOKIE_LIMIT / 1024} KB`,
          };
          console.log(`${key}: n/a`);
          continue;
        }
        runs.push([
          key,
          { contender, path, cookies: [seeded.cookie], rounds: contender === "bare" ? N : size === "large" ? 50 : 300 },
        ]);
      }
      const figures = await measure(runs.map(([, spec]) => spec));
      runs.forEach(([key], i) => {
        peers[key] = figures[i]!;
        log(key, figures[i]!);
      });
    }
  }
}

// ---- This project at each distance. ----
const distances: Results["distances"] = [];
for (const distanceMs of quick ? [0] : sections.has("distances") ? DISTANCES : []) {
  const n = N_STORE[distanceMs]!;
  const perRequest: Record<string, LoopFigure> = {};
  /** Measures specs side by side and keeps their figures under their keys. */
  const run = async (runs: Array<[key: string, spec: Spec]>, repeats = REPEATS) => {
    const figures = await measure(
      runs.map(([, spec]) => spec),
      repeats,
    );
    runs.forEach(([key], i) => {
      perRequest[key] = figures[i]!;
      log(`${distanceMs} ms / ${key}`, figures[i]!);
    });
  };
  for (const size of SIZES) {
    const changed = CHANGED[size as "small" | "large"];
    // Every contender's middleware anew: an empty memory tier, nothing left of the sessions measured before.
    await call("/reset", { json: {} });
    // Fresh sessions for each measurement, seeded with the store near, just before it: confirmed against the
    // store moments ago (the loop's warm-up round confirms them again), and no store expiry due for a refresh.
    const seeded = async (contender: string, count = 1) => {
      gateway.setDelay(0);
      // This project's sessions through /seed-many, which waits for their writes: none is still running. The
      // bare route gets such cookies too (and ignores them): a browser sends them to every route.
      const cookies = contender.startsWith("hes-")
        ? await seedMany(contender, size, count)
        : contender === "bare"
          ? await seedMany("hes-hit", size, 1)
          : [(await seedOne(contender, size)).cookie!];
      gateway.setDelay(distanceMs);
      return cookies;
    };
    const spec = async (contender: string, path: string, rounds: number, count = 1): Promise<Spec> => ({
      contender,
      path,
      rounds,
      cookies: await seeded(contender, count),
    });
    // The floor (a Map behind a cookie: what any layer pays before its own work) beside ours, small session.
    const floorRuns = async (path: "/read" | "/write"): Promise<Array<[string, Spec]>> =>
      size === "small"
        ? [[`floor / ${size} ${path === "/read" ? "read-only" : "changed"}`, await spec("floor", path, N)]]
        : [];
    // The bare route and the hit take turns, REPEATS_HIT loops each: the hit's goal is a few µs. The peers'
    // reads (small session) take turns with them, so the goal compares figures of the same moments.
    const peerReads: Array<[string, Spec]> = [];
    if (size === "small" && !quick) {
      for (const peer of PEERS) peerReads.push([`peer ${peer} / ${size} read-only`, await spec(peer, "/read", 300)]);
    }
    await run(
      [
        [`bare / ${size} read-only`, await spec("bare", "/read", N)],
        [`hit / ${size}`, await spec("hes-hit", "/read", N)],
        ...(await floorRuns("/read")),
        ...peerReads,
      ],
      REPEATS_HIT,
    );
    if (quick) {
      await run([
        [`bare / ${size} changed`, await spec("bare", "/write", N)],
        [`changed / ${size}`, await spec("hes-hit", "/write", changed.rounds, changed.sessions)],
        ...(await floorRuns("/write")),
      ]);
      if (profiling) console.log(`\n${(await profileHotPaths(size)).summary}`);
      break;
    }
    await run([[`miss / ${size}`, await spec("hes-miss", "/read", n)]]);
    await run([[`revalidated / ${size}`, await spec("hes-revalidate", "/read", n)]]);
    // The changed request, the bare route and (small session) the peers' writes take turns: the goal compares
    // them, and the machine's noise falls on all of them alike.
    const peerWrites: Array<[string, Spec]> = [];
    if (size === "small") {
      for (const peer of PEERS) peerWrites.push([`peer ${peer} / ${size} changed`, await spec(peer, "/write", 300)]);
    }
    await run(
      [
        [`bare / ${size} changed`, await spec("bare", "/write", N)],
        [`changed / ${size}`, await spec("hes-hit", "/write", changed.rounds, changed.sessions)],
        ...(await floorRuns("/write")),
        ...peerWrites,
      ],
      REPEATS_CHANGED,
    );
    await run([[`changed, one write at a time / ${size}`, await spec("hes-hit", "/write", n)]]);
    await run([[`changed, awaitWrites / ${size}`, await spec("hes-await", "/write", n)]]);
    if (distanceMs === 0) {
      await run([
        [`changed, store in the isolate / ${size}`, await spec("hes-cpu", "/write", changed.rounds, changed.sessions)],
      ]);
      await run([[`changed, store in the isolate, one write at a time / ${size}`, await spec("hes-cpu", "/write", n)]]);
    }
  }
  distances.push({ distanceMs, perRequest });
}
gateway.setDelay(0);

if (quick) {
  const d = distances[0]!.perRequest;
  console.log(`hit − bare: ${(d["hit / small"]!.median - d["bare / small read-only"]!.median).toFixed(1)} µs`);
  console.log(`changed − bare: ${(d["changed / small"]!.median - d["bare / small changed"]!.median).toFixed(1)} µs`);
  await shutdown();
  process.exit(0);
}

// ---- The CPU a request costs, all of it: before the response and its background write (store 0 ms away). ----
/**
 * Contenders' work per request, counted as the CPU time of the workerd process that runs them (all its
 * threads: the isolate's JavaScript, and the runtime's own work for it, as its HTTP client's for Redis),
 * with each round's background writes drained inside the counted loop. The same loops' timed figures
 * (inside the isolate: before the response, and the background apart) are kept beside it.
 */
async function measureCpu(specs: Spec[], repeats: number): Promise<CpuFigure[]> {
  const state = specs.map((spec) => ({
    spec,
    jars: spec.cookies,
    cpu: [] as number[],
    crit: [] as number[],
    drain: [] as number[],
    requests: 0,
    background: 0,
  }));
  for (const s of state) s.jars = (await runLoop({ ...s.spec, rounds: 1, cookies: s.jars })).cookies;
  for (let r = 0; r < repeats; r++) {
    for (const s of state) {
      const before = cpuNs(workerdPid!);
      const answer = await runLoop({ ...s.spec, cookies: s.jars });
      const cpu = cpuNs(workerdPid!) - before;
      s.jars = answer.cookies;
      s.cpu.push(cpu / 1000 / answer.requests);
      s.crit.push((1000 * answer.critMs) / answer.requests);
      s.drain.push((1000 * answer.drainMs) / answer.requests);
      s.requests += answer.requests;
      s.background += answer.background;
    }
  }
  return state.map((s) => ({
    cpu: { ...spread(s.cpu), samples: s.cpu },
    critical: spread(s.crit),
    background: spread(s.drain),
    requests: s.requests,
    backgroundPerRequest: s.background / s.requests,
  }));
}
const cpu: Results["cpu"] = {};
if (sections.has("cpu") && workerdPid !== undefined) {
  gateway.setDelay(0);
  await call("/reset", { json: {} });
  const { sessions, rounds } = CHANGED.small;
  const peer = (await seedOne("hono-session-jwe", "small")).cookie!;
  const runs: Array<[string, Spec]> = [
    [
      "bare route, changed",
      { contender: "bare", path: "/write", rounds, cookies: await seedMany("hes-hit", "small", sessions) },
    ],
    [
      "changed, store in the isolate (MemoryStore)",
      { contender: "hes-cpu", path: "/write", rounds, cookies: await seedMany("hes-cpu", "small", sessions) },
    ],
    [
      "changed, store in the isolate, tied to a user",
      { contender: "hes-cpu-user", path: "/write", rounds, cookies: await seedMany("hes-cpu-user", "small", sessions) },
    ],
    [
      "changed, Redis 0 ms away",
      { contender: "hes-hit", path: "/write", rounds, cookies: await seedMany("hes-hit", "small", sessions) },
    ],
    [
      "peer: @hono/session, changed",
      { contender: "hono-session-jwe", path: "/write", rounds: sessions * rounds, cookies: [peer] },
    ],
    [
      "bare route, read-only",
      { contender: "bare", path: "/read", rounds: N, cookies: await seedMany("hes-hit", "small", 1) },
    ],
    ["hit", { contender: "hes-hit", path: "/read", rounds: N, cookies: await seedMany("hes-hit", "small", 1) }],
    ["peer: @hono/session, read-only", { contender: "hono-session-jwe", path: "/read", rounds: N, cookies: [peer] }],
  ];
  const figures = await measureCpu(
    runs.map(([, spec]) => spec),
    REPEATS_CPU,
  );
  runs.forEach(([key], i) => {
    cpu[key] = figures[i]!;
    console.log(
      `CPU ${key}: ${figures[i]!.cpu.median.toFixed(1)} µs per request (workerd process); timed ${figures[i]!.critical.median.toFixed(1)} + ${figures[i]!.background.median.toFixed(1)} µs`,
    );
  });
}

// ---- One step of the cookies' and the sealing's work, the way it was done before and now, side by side. ----
/** Per-operation cost from outside: (T(N) − T(1)) / (N − 1), so the cost of calling into workerd cancels out. */
async function perOperation(path: string, body: Record<string, unknown>, n = N) {
  const time = async (count: number) => {
    const start = process.hrtime.bigint();
    await call(path, { json: { ...body, n: count } });
    return Number(process.hrtime.bigint() - start) / 1000;
  };
  const samples: number[] = [];
  await time(Math.ceil(n / 20)); // warm-up
  for (let r = 0; r < REPEATS; r++) {
    const one = await time(1);
    const many = await time(n);
    samples.push((many - one) / (n - 1));
  }
  return spread(samples);
}
const microFigures: Results["micro"] = {};
if (sections.has("micro")) {
  const ops = JSON.parse(await call("/micro-ops")) as string[];
  // The cheap steps many times per call, so that they stand out of the cost of the call itself.
  const timesFor = (op: string) => (op.startsWith("find") ? 20 * N : op.startsWith("deflate large") ? N / 5 : N);
  for (let r = 0; r < 2; r++) {
    // Two passes, before and now taking turns within each: each figure is the lower of its two medians.
    for (const op of ops) {
      const figure = await perOperation("/micro", { op }, timesFor(op));
      const known = microFigures[op];
      if (known === undefined || figure.median < known.median) microFigures[op] = figure;
    }
  }
  for (const [op, f] of Object.entries(microFigures)) console.log(`${op}: ${f.median.toFixed(2)} µs`);
}

// ---- Where the time of a hit and of a changed request goes (needs a WebSocket client for the inspector). ----
let profile: Results["profile"];
if (!sections.has("profile")) {
  // skipped
} else if (typeof WebSocket !== "undefined") {
  const profiled = await profileHotPaths("small");
  console.log(`\n${profiled.summary}\n`);
  profile = profiled.profile;
} else {
  console.log("no WebSocket in this Node (run with --experimental-websocket): no CPU profiles");
}

// ---- Store round trips per request, in real time, counted at the gateway. ----
/** The gateway's log of commands on one session's store key. */
async function commandsOf(cookie: string): Promise<RecordedCommand[]> {
  const jar = new CookieJar().with(cookie);
  const prefix = `bench-hit:${await reader.storeKey(jar.id!)}`;
  const res = await fetch(`${gateway.url}/__gateway/commands?prefix=${encodeURIComponent(prefix)}`, {
    headers: { Authorization: `Bearer ${gateway.token}` },
  });
  return ((await res.json()) as { result: RecordedCommand[] }).result;
}
/** A conditional read (getIfChanged: 1 key, 2 arguments) or a compare-and-set (1 key, 4 arguments). */
function kindOf(c: RecordedCommand): "read" | "write" | "other" {
  if (c.command === "GET") return "read";
  if (c.command === "SET") return "write";
  if (c.command === "EVALSHA" || c.command === "EVAL") return c.args.length === 5 ? "read" : "write";
  return "other";
}

const TRIPS_DISTANCE = 20;
/** A second isolate of the app, for the sections that need two. */
const mf2 = sections.has("trips") || sections.has("stale") ? (await startIsolate()).mf : mf;
let browsed = 0;
async function browse(isolate: Miniflare, jar: CookieJar, changed: boolean) {
  // A new value each time (`i`), so that every changed request changes the session.
  const res = await isolate.dispatchFetch(`https://bench.test/c/hes-hit/${changed ? "write" : "read"}?i=${++browsed}`, {
    method: changed ? "POST" : "GET",
    headers: { Cookie: withBrowserCookies(jar.cookie ?? "") },
  });
  await res.text();
  if (!res.ok) throw new Error(`a browsing request answered ${res.status}`);
  return res;
}
interface Scenario {
  name: string;
  changed: boolean;
  /** When each group of requests is sent (ms after the start), how many at once, over how many isolates. */
  at: number[];
  burst: number;
  isolates: 1 | 2;
}
const roundTrips: RoundTrips = { distanceMs: TRIPS_DISTANCE, staleReads: 0, conflicts: 0, scenarios: {} };
if (sections.has("trips")) {
  const scenarios: Scenario[] = [];
  for (const changed of [false, true]) {
    const what = changed ? "changed" : "read-only";
    const every = (ms: number, times: number) => Array.from({ length: times }, (_, i) => i * ms);
    scenarios.push(
      { name: `${what}, once a second`, changed, at: every(1000, 12), burst: 1, isolates: 1 },
      { name: `${what}, once every 10 s`, changed, at: every(10_000, 4), burst: 1, isolates: 1 },
      { name: `${what}, burst of 10 every 10 s, one isolate`, changed, at: every(10_000, 4), burst: 10, isolates: 1 },
      { name: `${what}, burst of 10 every second, one isolate`, changed, at: every(1000, 12), burst: 10, isolates: 1 },
      { name: `${what}, burst of 10 every 10 s, two isolates`, changed, at: every(10_000, 4), burst: 10, isolates: 2 },
    );
  }
  gateway.setDelay(0);
  const jars = new Map<Scenario, CookieJar>();
  for (const scenario of scenarios)
    jars.set(scenario, new CookieJar().with((await seedOne("hes-hit", "small")).cookie!));
  await call("/events?contender=hes-hit"); // forget the events so far
  await call("/events?contender=hes-hit", {}, mf2);
  gateway.setDelay(TRIPS_DISTANCE);
  // Past the staleness bound (5 s) before the first request, as after a pause.
  await sleep(6000);
  const before = new Map<Scenario, number>();
  for (const scenario of scenarios) before.set(scenario, (await commandsOf(jars.get(scenario)!.cookie!)).length);
  const tripsStart = Date.now();
  await Promise.all(
    scenarios.map(async (scenario) => {
      const jar = jars.get(scenario)!;
      for (const at of scenario.at) {
        await sleep(Math.max(0, tripsStart + at - Date.now()));
        const cookie = jar.cookie;
        const responses = await Promise.all(
          Array.from({ length: scenario.burst }, (_, i) =>
            browse(scenario.isolates === 2 && i % 2 === 1 ? mf2 : mf, new CookieJar().with(cookie), scenario.changed),
          ),
        );
        for (const res of responses) jar.take(res);
      }
    }),
  );
  await sleep(2 * TRIPS_DISTANCE + 500); // the last writes land
  const tripEvents = [
    ...(JSON.parse(await call("/events?contender=hes-hit")) as Array<{ type: string }>),
    ...(JSON.parse(await call("/events?contender=hes-hit", {}, mf2)) as Array<{ type: string }>),
  ];
  roundTrips.staleReads = tripEvents.filter((e) => e.type === "stale-read").length;
  roundTrips.conflicts = tripEvents.filter((e) => e.type === "write-conflict").length;
  for (const scenario of scenarios) {
    const all = (await commandsOf(jars.get(scenario)!.cookie!)).slice(before.get(scenario));
    const noscript = all.filter((c) => c.error?.startsWith("NOSCRIPT"));
    const commands = all.filter((c) => !c.error?.startsWith("NOSCRIPT"));
    const requests = scenario.at.length * scenario.burst;
    const reads = commands.filter((c) => kindOf(c) === "read");
    roundTrips.scenarios[scenario.name] = {
      requests,
      roundTrips: new Set(commands.map((c) => c.request)).size / requests,
      reads: reads.length / requests,
      fullReads: reads.filter((c) => c.command === "GET" || c.args[3] === "0").length / requests,
      writes: commands.filter((c) => kindOf(c) === "write").length / requests,
      noscript: noscript.length,
    };
    console.log(scenario.name, roundTrips.scenarios[scenario.name]);
  }
  console.log(`stale reads: ${roundTrips.staleReads}, write conflicts: ${roundTrips.conflicts}`);
}

// ---- How long after a changed request's response its write is readable in the store. ----
const STALE_WRITES = 50;
const staleRead: StaleRead = { writes: STALE_WRITES, distances: {} };
for (const distanceMs of sections.has("stale") ? [20, 80] : []) {
  gateway.setDelay(0);
  const jar = new CookieJar().with((await seedOne("hes-hit", "small")).cookie!);
  const key = `bench-hit:${await reader.storeKey(jar.id!)}`;
  const storedVersion = async () => {
    const value = await redisClient.get(key);
    return value === null ? 0 : Number(value.slice(0, value.indexOf(".")));
  };
  while ((await storedVersion()) < jar.version) await sleep(5);
  await browse(mf2, new CookieJar().with(jar.cookie), false); // the other isolate holds the session
  await call("/events?contender=hes-hit", {}, mf2);
  const readsBefore = (await commandsOf(jar.cookie!)).filter((c) => kindOf(c) === "read").length;
  gateway.setDelay(distanceMs);
  const lags: number[] = [];
  const otherIsolate: number[] = [];
  for (let i = 0; i < STALE_WRITES; i++) {
    jar.take(await browse(mf, jar, true));
    const answered = performance.now();
    const version = jar.version;
    const [lag, other] = await Promise.all([
      (async () => {
        while ((await storedVersion()) < version) await sleep(1);
        return performance.now() - answered;
      })(),
      (async () => {
        // The user's next request, at once, on another isolate.
        await browse(mf2, new CookieJar().with(jar.cookie), false);
        return performance.now() - answered;
      })(),
    ]);
    lags.push(lag);
    otherIsolate.push(other);
    await sleep(distanceMs + 20); // the write's answer is back: this isolate's write queue is idle again
  }
  const events = JSON.parse(await call("/events?contender=hes-hit", {}, mf2)) as Array<{
    type: string;
    durationMs?: number;
  }>;
  const reads = (await commandsOf(jar.cookie!)).filter((c) => kindOf(c) === "read").length - readsBefore;
  const figure = (values: number[]) => ({
    p50: quantile(values, 0.5),
    p95: quantile(values, 0.95),
    max: Math.max(...values),
  });
  staleRead.distances[distanceMs] = {
    visibleAfterMs: figure(lags),
    otherIsolateMs: figure(otherIsolate),
    otherIsolateReadsPerRequest: reads / STALE_WRITES,
    staleReadEvents: events.filter((e) => e.type === "stale-read").length,
  };
  console.log(`stale read at ${distanceMs} ms`, staleRead.distances[distanceMs]);
}
gateway.setDelay(0);
if (mf2 !== mf) await mf2.dispose();

// ---- Codec, stored bytes, memory tier, requests per second (store near). ----
const codec: Results["codec"] = {};
let sizes: Results["sizes"] = {};
const atRest: Results["atRest"] = {};
let memory: Results["memory"] | undefined;
let http: Results["http"] = {};
if (sections.has("other")) {
  for (const size of ["small", "large"]) {
    for (const op of ["seal", "unseal"]) {
      codec[`${op} ${size}`] = await perOperation("/codec", { op, size }, size === "large" ? N / 5 : N);
      console.log(`${op} ${size}: ${codec[`${op} ${size}`]!.median.toFixed(1)} µs`);
    }
  }
  sizes = JSON.parse(await call("/sizes")) as Results["sizes"];
  // Bytes at rest in Redis per session tied to a user (its key and value, and its entry in the user's index),
  // as redis-server counts them (MEMORY USAGE, over every key of the namespace).
  for (const size of ["small", "large"]) {
    const count = 100;
    const keysOf = () => redisClient.keys("bench-user*");
    await seedMany("hes-user", size, count);
    const keys = await keysOf();
    let bytes = 0;
    for (const key of keys) bytes += Number(await redisClient.call("MEMORY", "USAGE", key, "SAMPLES", "0"));
    atRest[size] = { sessions: count, keys: keys.length, bytesPerSession: bytes / count };
    if (keys.length > 0) await redisClient.del(...keys);
    console.log(`at rest, ${size}: ${(bytes / count).toFixed(0)} bytes per session in Redis (${keys.length} keys)`);
  }
  memory = JSON.parse(await call("/memory?count=10000&bound=1048576")) as Results["memory"];

  async function rps(path: string, cookie?: string) {
    const result = await autocannon({
      url: `${base}${path}`,
      connections: 10,
      duration: 5,
      headers: { cookie: withBrowserCookies(cookie ?? "") },
    });
    return {
      requestsPerSecond: result.requests.average,
      latencyP50Ms: result.latency.p50,
      errors: result.errors + result.non2xx,
    };
  }
  http = {
    "without sessions": await rps("/c/bare/read"),
    "with sessions (memory-tier hits)": await rps("/c/hes-hit/read", (await seedOne("hes-hit", "small")).cookie!),
  };
  console.log(http);
}

if (partial) {
  await shutdown();
  process.exit(0);
}
const workerdVersion = (
  JSON.parse(await readFile("node_modules/miniflare/package.json", "utf8")) as {
    dependencies: Record<string, string>;
  }
).dependencies.workerd!;
const results: Results = {
  takenAt: new Date().toISOString(),
  durationSeconds: Math.round((Date.now() - began) / 1000),
  machine: {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `Linux ${release()}`,
    node: process.version,
    workerd: workerdVersion,
    loadAverage: { start: loadAtStart, end: loadavg()[0]! },
  },
  method: {
    repeats: REPEATS,
    repeatsHit: REPEATS_HIT,
    repeatsChanged: REPEATS_CHANGED,
    repeatsCpu: REPEATS_CPU,
    requestsPerLoop: N,
    requestsPerLoopWithStore: N_STORE,
    changedSessions: CHANGED,
  },
  peers,
  distances,
  codec,
  ...(Object.keys(cpu).length > 0 ? { cpu } : {}),
  ...(Object.keys(microFigures).length > 0 ? { micro: microFigures } : {}),
  sizes,
  atRest,
  ...(profile !== undefined ? { profile } : {}),
  roundTrips,
  staleRead,
  memory: memory!,
  http,
};
/** Written as `npm run format` would leave it, so that `prettier --check .` passes after a run. */
async function writeFormatted(file: string, text: string) {
  const options = (await prettier.resolveConfig(file)) ?? {};
  await writeFile(file, await prettier.format(text, { ...options, filepath: file }));
}
await writeFormatted("bench/results.json", JSON.stringify(results, null, 2));
await writeFile("bench/chart.svg", renderChart(results));
await writeFormatted("BENCHMARKS.md", renderMarkdown(results, await fleetResults()));
console.log(renderTable(results));
console.log(`bench took ${results.durationSeconds} s`);
await shutdown();

async function shutdown() {
  redisClient.disconnect();
  await mf.dispose();
  await gateway.stop();
  await redis.stop();
}

/** The last fleet run's figures (`npm run bench:fleet`), if there are any. */
async function fleetResults(): Promise<FleetResults | undefined> {
  try {
    return JSON.parse(await readFile("bench/fleet-results.json", "utf8")) as FleetResults;
  } catch {
    return undefined;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
