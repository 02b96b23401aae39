/**
 * `npm run bench:fleet`: a fleet of isolates serving many browsers at once, with the real middleware
 * (bench/fleet-worker.ts), on Redis through the gateway and on the Durable Object store, against a
 * baseline that reads the session from the store on every request (what express-session and the
 * application router do). Writes bench/fleet-results.json, and BENCHMARKS.md again from both result files.
 *
 * Every run follows from one seed (FLEET_SEED): which browser visits when, what each request does, which
 * isolate serves it. What the machine does meanwhile still moves the timings, and with them the order in
 * which concurrent requests land.
 *
 * The knobs (environment): FLEET_SESSIONS (browsers, each its own session; default 10 000), FLEET_SECONDS
 * (the measured browsing of each run; default 45, after FLEET_WARM_SECONDS, default 20, not counted), FLEET_RATE (requests per second aimed at; default 150),
 * FLEET_ISOLATES (default 4), FLEET_DISTANCE_MS (to the store, per call; default 20), FLEET_SEED,
 * FLEET_STORES (redis,durable-object), FLEET_CONTENDERS (ours,baseline). Any knob set: nothing is written.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import Redis from "ioredis";
import { Miniflare } from "miniflare";
import * as prettier from "prettier";
import { startGateway, type CommandCounts } from "../tools/redis-rest/gateway.js";
import { startRedisServer } from "../tools/redis-rest/redis-server.js";
import { Prng } from "../tools/fuzz/prng.js";
import { CookieJar } from "../test/support/cookie-jar.js";
import { DevToolsSession } from "../test/support/devtools-session.js";
import { workerBundle } from "../test/support/node.js";
import { withBrowserCookies } from "./browser-cookies.js";
import type { FleetOptions } from "./fleet-options.js";
import { renderChart, renderMarkdown, type FleetResults, type FleetRun, type Results } from "./report.js";

const knob = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const SESSIONS = knob("FLEET_SESSIONS", 10_000);
const SECONDS = knob("FLEET_SECONDS", 45);
/** Browsing before the measured phase, so that it starts with visits under way (none counted). */
const WARM_SECONDS = knob("FLEET_WARM_SECONDS", 20);
const RATE = knob("FLEET_RATE", 150);
const ISOLATES = knob("FLEET_ISOLATES", 4);
const DISTANCE_MS = knob("FLEET_DISTANCE_MS", 20);
const SEED = knob("FLEET_SEED", 20_261_127);
const STORES = (process.env.FLEET_STORES ?? "redis,durable-object").split(",") as Array<FleetOptions["store"]>;
const CONTENDERS = (process.env.FLEET_CONTENDERS ?? "ours,baseline").split(",");
const custom = Object.keys(process.env).some((name) => name.startsWith("FLEET_"));
/** How many logins run at once in the login phase. */
const LOGIN_CONCURRENCY = 64;
/** The default staleness bound, and the margin past it after which a revoked session must no longer be served. */
const STALENESS_MS = 5000;
const REVOKE_MARGIN_MS = 1000;
/** A request unanswered this long is an error (and the run goes on). */
const REQUEST_TIMEOUT_MS = 30_000;

/*
 * The browsing model. A visit: a browser comes back and views a few pages, a think time apart; a page view:
 * the document, then its subresource calls (fetches) at once. Requests of one page view share a connection,
 * so they reach one isolate; a page view reuses the previous one's connection half of the time, and opens
 * a new one (to any isolate) otherwise.
 */
const MODEL = {
  pagesPerVisit: { min: 1, mean: 4 },
  thinkMs: { mean: 8000, min: 500, max: 60_000 },
  /** Subresource calls after the document: how many, and what each is. */
  subresources: [0, 1, 1, 2, 2, 3],
  kinds: { read: 0.75, write: 0.15, update: 0.1 },
  sameConnection: 0.5,
  /** Per page view: a logout, and (rarer) "log out everywhere". */
  logout: 0.01,
  logoutEverywhere: 0.002,
  /** A user's browsers: the first, a second (25 %), a third (5 %). */
  moreBrowsers: [0.25, 0.05],
};
const requestsPerVisit =
  MODEL.pagesPerVisit.mean * (1 + MODEL.subresources.reduce((a, b) => a + b, 0) / MODEL.subresources.length);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quantile = (sorted: number[], q: number) =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

interface Browser {
  index: number;
  user: string;
  jar: CookieJar;
  isolate: number;
  loggedIn: boolean;
  /** update() calls answered since the login: the counter must be exactly this once none is in flight. */
  updates: number;
  /** update() calls sent and not answered yet. */
  inflight: number;
  /** When another browser of the user logged out everywhere (this one's session must end within the bound). */
  revokedAt?: number;
  busy: boolean;
}

/** What went wrong: each a count, and a few examples. */
class Errors {
  counts: Record<string, number> = {};
  examples: string[] = [];
  add(kind: string, detail: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    if (this.examples.length < 20) this.examples.push(`${kind}: ${detail}`);
  }
  get total(): number {
    return Object.values(this.counts).reduce((a, b) => a + b, 0);
  }
}

const began = Date.now();
const loadAtStart = loadavg()[0]!;
process.once("SIGINT", () => process.exit(130));
const script = await workerBundle("bench/fleet-worker.ts");
const redis = await startRedisServer();
const gateway = await startGateway({ redisPort: redis.port, token: "fleet-token" });
const redisClient = new Redis({ port: redis.port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
const SECRET = "fleet-session-secret-".padEnd(80, "f");

async function gatewayCounts(reset = false): Promise<CommandCounts> {
  const res = await fetch(`${gateway.url}/__gateway/counts`, {
    method: reset ? "DELETE" : "GET",
    headers: { Authorization: `Bearer ${gateway.token}` },
  });
  return ((await res.json()) as { result: CommandCounts }).result;
}

/** Lines the runtime printed during the current run. */
let runtimeLines: string[] = [];

/** One fleet: `ISOLATES` app workers in one Miniflare (each its own isolate), and the store's worker. */
async function startFleet(
  store: FleetOptions["store"],
  baseline: boolean,
  instanceName: string,
  /** Where the Durable Objects keep their storage, so that the next fleet on this store finds the sessions. */
  persistTo: string,
) {
  const options: FleetOptions = {
    store,
    baseline,
    secret: SECRET,
    instanceName,
    redis: { url: gateway.url, token: gateway.token },
  };
  const common = {
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: "2026-04-01",
    compatibilityFlags: ["nodejs_compat"],
  };
  const names = Array.from({ length: ISOLATES }, (_, i) => `app-${i}`);
  const mf = new Miniflare({
    inspectorPort: 0,
    durableObjectsPersist: persistTo,
    // What the workers print (an uncaught error, a warning of the runtime) is kept and reported, not shown.
    handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
      const keep = (chunk: Buffer) => {
        for (const line of chunk.toString().split("\n")) if (line.trim() !== "") runtimeLines.push(line);
      };
      stdout.on("data", keep);
      stderr.on("data", keep);
    },
    workers: [
      ...names.map((name) => ({
        ...common,
        name,
        bindings: { FLEET_OPTIONS: JSON.stringify(options) },
        ...(store === "durable-object"
          ? { durableObjects: { SESSION_STORE: { className: "SessionStoreObject", scriptName: "objects" } } }
          : {}),
      })),
      ...(store === "durable-object"
        ? [
            {
              ...common,
              name: "objects",
              bindings: { FLEET_OPTIONS: JSON.stringify(options) },
              durableObjects: { SESSION_STORE: { className: "SessionStoreObject", useSQLite: true } },
            },
          ]
        : []),
    ],
  });
  await mf.ready;
  const workers = await Promise.all(names.map((name) => mf.getWorker(name)));
  return { mf, names, workers };
}

/**
 * Each app isolate's memory through workerd's inspector (bytes): its V8 heap in use, the runtime objects it
 * holds and its ArrayBuffers' memory, as tools/fuzz/worker-heap.ts reads it. Garbage not collected yet is
 * in it (workerd's inspector does not answer HeapProfiler.collectGarbage).
 */
async function heapOf(mf: Miniflare, names: string[]): Promise<number[]> {
  const inspector = await mf.getInspectorURL();
  const heaps: number[] = [];
  for (const name of names) {
    const session = await DevToolsSession.connect(inspector.host, (targets) =>
      targets.find((t) => t.id === `core:user:${name}`),
    );
    try {
      const usage = (await session.send("Runtime.getHeapUsage")) as {
        usedSize: number;
        embedderHeapUsedSize?: number;
        backingStorageSize?: number;
      };
      heaps.push(usage.usedSize + (usage.embedderHeapUsedSize ?? 0) + (usage.backingStorageSize ?? 0));
    } finally {
      session.close();
    }
  }
  return heaps;
}

type AppWorker = Awaited<ReturnType<Miniflare["getWorker"]>>;

/** The simulated distance to the store: the gateway's, and the Durable Object stubs' in every isolate. */
async function setDistance(workers: AppWorker[], ms: number): Promise<void> {
  gateway.setDelay(ms);
  await Promise.all(
    workers.map((worker) => worker.fetch(`https://fleet.test/debug/distance?ms=${ms}`, { method: "POST" })),
  );
}
async function statsOf(workers: AppWorker[], reset = false) {
  const all = await Promise.all(
    workers.map(async (worker) => {
      const res = await worker.fetch(`https://fleet.test/debug/${reset ? "reset" : "stats"}`, {
        method: reset ? "POST" : "GET",
      });
      return (await res.json()) as {
        events: Record<string, number>;
        objectCalls: number;
        byMethod: Record<string, number>;
      };
    }),
  );
  const sum = { events: {} as Record<string, number>, objectCalls: 0, byMethod: {} as Record<string, number> };
  for (const one of all) {
    for (const [k, v] of Object.entries(one.events ?? {})) sum.events[k] = (sum.events[k] ?? 0) + v;
    for (const [k, v] of Object.entries(one.byMethod ?? {})) sum.byMethod[k] = (sum.byMethod[k] ?? 0) + v;
    sum.objectCalls += one.objectCalls ?? 0;
  }
  return sum;
}

/** The browsers of one store's runs (shared by its contenders, which browse the same sessions in turn). */
interface Population {
  instanceName: string;
  persistTo: string;
  browsers: Browser[];
  byUser: Map<string, Browser[]>;
  users: number;
  /** The login phase, once it ran (on the first contender's isolates). */
  login?: { seconds: number; operationsPerLogin: number; errors: Record<string, number> };
}

/** Each user has one browser, or two or three; each browser its own session, once it logs in. */
async function population(store: FleetOptions["store"]): Promise<Population> {
  const prng = new Prng(SEED);
  const browsers: Browser[] = [];
  let users = 0;
  while (browsers.length < SESSIONS) {
    const user = `user-${++users}`;
    let count = 1;
    for (const chance of MODEL.moreBrowsers) if (prng.chance(chance)) count++;
    for (let i = 0; i < count && browsers.length < SESSIONS; i++) {
      browsers.push({
        index: browsers.length,
        user,
        jar: new CookieJar(),
        isolate: prng.int(ISOLATES),
        loggedIn: false,
        updates: 0,
        inflight: 0,
        busy: false,
      });
    }
  }
  const byUser = new Map<string, Browser[]>();
  for (const b of browsers) byUser.set(b.user, [...(byUser.get(b.user) ?? []), b]);
  const persistTo = await mkdtemp(join(tmpdir(), "hes-fleet-"));
  return { instanceName: `fleet-${store}-${process.pid}`, persistTo, browsers, byUser, users };
}

async function runFleet(store: FleetOptions["store"], contender: string, people: Population): Promise<FleetRun> {
  const baseline = contender === "baseline";
  const { instanceName, browsers, byUser, users } = people;
  // The visits are drawn from a generator of their own: every contender gets the same ones.
  const prng = new Prng(SEED ^ 0x5ee_d1e5);
  runtimeLines = [];
  const { mf, names, workers } = await startFleet(store, baseline, instanceName, people.persistTo);
  const errors = new Errors();
  let requests = 0;
  const latencies: number[] = [];
  const byKind: Record<string, number> = {};

  let counter = 0;
  /** One request of a browser to its isolate; checks the answer against what the browser knows. */
  /** When the measured phase begins (requests sent before it are not counted). */
  let measuredFrom = Number.POSITIVE_INFINITY;
  async function send(b: Browser, kind: string, isolate: number, browsing: boolean): Promise<void> {
    const path = {
      read: "/s/page",
      write: `/s/write?i=${++counter}`,
      update: "/s/update",
      login: "/s/login",
      logout: "/s/logout",
      everywhere: "/s/logout-everywhere",
    }[kind]!;
    const sentAt = Date.now();
    const measured = browsing && sentAt >= measuredFrom;
    const confirmed = b.updates;
    if (kind === "update") b.inflight++;
    // "Log out everywhere" ends the user's other sessions from the moment it is sent: their answers may say so
    // before its own answer is back.
    if (kind === "everywhere")
      for (const other of byUser.get(b.user)!) if (other !== b && other.loggedIn) other.revokedAt ??= sentAt;
    let res: Response;
    try {
      res = (await workers[isolate]!.fetch(`https://fleet.test${path}`, {
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        method: kind === "read" ? "GET" : "POST",
        headers: { Cookie: withBrowserCookies(b.jar.cookie ?? ""), "Content-Type": "application/json" },
        ...(kind === "login" ? { body: JSON.stringify({ user: b.user }) } : {}),
      })) as unknown as Response;
    } catch (error) {
      if (kind === "update") b.inflight--;
      errors.add("request failed", `${kind}: ${String(error)}`);
      return;
    }
    const text = await res.text();
    if (kind === "update") b.inflight--;
    if (measured) {
      requests++;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      latencies.push(Number(res.headers.get("x-session-ms") ?? NaN));
    }
    if (!res.ok) {
      errors.add(`HTTP ${res.status}`, `${kind}: ${text.slice(0, 200)}`);
      return;
    }
    b.jar.take(res);
    const answer = JSON.parse(text) as { user: string | null; n: number };
    if (kind === "login") {
      b.loggedIn = true;
      b.updates = 0;
      b.revokedAt = undefined;
      return;
    }
    if (kind === "logout") {
      b.loggedIn = false;
      return;
    }
    if (kind === "everywhere") {
      b.loggedIn = false;
      return;
    }
    if (!b.loggedIn) return;
    if (answer.user === null) {
      if (b.revokedAt !== undefined)
        b.loggedIn = false; // ended by "log out everywhere": as it should
      else errors.add("session lost", `${kind} of ${b.user}`);
      return;
    }
    if (answer.user !== b.user) return errors.add("another user's session", `${b.user} got ${answer.user}`);
    if (b.revokedAt !== undefined && sentAt - b.revokedAt > STALENESS_MS + REVOKE_MARGIN_MS) {
      errors.add("revoked session still served", `${Math.round(sentAt - b.revokedAt)} ms after the revocation`);
    }
    // The counter holds every update answered before this request was sent (its own too, for an update), and
    // none that was not sent yet.
    if (kind === "update") b.updates++;
    const least = confirmed + (kind === "update" ? 1 : 0);
    if (answer.n < least || answer.n > b.updates + b.inflight) {
      errors.add("counter out of step", `${kind}: n ${answer.n}, expected ${least}…${b.updates + b.inflight}`);
    }
  }

  // ---- Login (once per store): every browser logs in (regenerate + setUser), the store near. ----
  if (people.login === undefined) {
    await setDistance(workers, 0);
    if (store === "redis") await gatewayCounts(true);
    await statsOf(workers, true);
    const loginStarted = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: LOGIN_CONCURRENCY }, async () => {
        while (next < browsers.length) {
          const b = browsers[next++]!;
          await send(b, "login", b.isolate, false);
        }
      }),
    );
    const seconds = (Date.now() - loginStarted) / 1000;
    const operations = store === "redis" ? (await gatewayCounts()).commands : (await statsOf(workers)).objectCalls;
    people.login = { seconds, operationsPerLogin: operations / browsers.length, errors: { ...errors.counts } };
    console.log(
      `${store}: ${browsers.length} logins in ${seconds.toFixed(1)} s, ${people.login.operationsPerLogin.toFixed(2)} store operations each`,
    );
  }

  // ---- Browsing: visits arrive at random (Poisson): WARM_SECONDS not counted, then SECONDS counted. ----
  await setDistance(workers, DISTANCE_MS);
  const visitsPerSecond = RATE / requestsPerVisit;
  const started = Date.now();
  const deadline = started + (WARM_SECONDS + SECONDS) * 1000;
  const warm = sleep(WARM_SECONDS * 1000).then(async () => {
    measuredFrom = Date.now();
    if (store === "redis") await gatewayCounts(true);
    await statsOf(workers, true);
  });
  const running: Array<Promise<void>> = [];
  let visits = 0;
  /** Browser-milliseconds spent in visits (each until a think time after its last page), all together. */
  let activeMs = 0;
  const exponential = (mean: number) => -Math.log(1 - prng.float()) * mean;
  async function visit(
    counted: boolean,
    b: Browser,
    plan: Array<{ thinkMs: number; sameConnection: boolean; isolate: number; subresources: string[]; ending?: string }>,
  ) {
    b.busy = true;
    const visitStarted = Date.now();
    try {
      for (const page of plan) {
        if (page.thinkMs > 0) await sleep(Math.min(page.thinkMs, deadline - Date.now()));
        if (Date.now() >= deadline) break; // the phase is over: the visit's later pages are not viewed
        if (!page.sameConnection) b.isolate = page.isolate;
        if (!b.loggedIn) {
          await send(b, "login", b.isolate, true);
          continue;
        }
        await send(b, "read", b.isolate, true);
        await Promise.all(page.subresources.map((kind) => send(b, kind, b.isolate, true)));
        if (page.ending !== undefined && b.loggedIn) {
          await send(b, page.ending, b.isolate, true);
          break;
        }
      }
    } finally {
      b.busy = false;
      // Active from its first request until it leaves, a think time after its last page (which it reads).
      if (counted) activeMs += Date.now() - visitStarted + MODEL.thinkMs.mean;
    }
  }
  for (
    let at = exponential(1000 / visitsPerSecond);
    at < (WARM_SECONDS + SECONDS) * 1000;
    at += exponential(1000 / visitsPerSecond)
  ) {
    // Everything a visit will do is drawn now, in order: the run does not depend on how requests interleave.
    const b = browsers[prng.int(browsers.length)]!;
    const pages = MODEL.pagesPerVisit.min + Math.floor(exponential(MODEL.pagesPerVisit.mean - MODEL.pagesPerVisit.min));
    const plan = Array.from({ length: pages }, (_, i) => {
      const kinds = Array.from({ length: prng.pick(MODEL.subresources) }, () => {
        const r = prng.float();
        return r < MODEL.kinds.read ? "read" : r < MODEL.kinds.read + MODEL.kinds.write ? "write" : "update";
      });
      const end = prng.float();
      return {
        thinkMs:
          i === 0 ? 0 : Math.min(MODEL.thinkMs.max, Math.max(MODEL.thinkMs.min, exponential(MODEL.thinkMs.mean))),
        sameConnection: prng.chance(MODEL.sameConnection),
        isolate: prng.int(ISOLATES),
        subresources: kinds,
        ...(end < MODEL.logoutEverywhere
          ? { ending: "everywhere" }
          : end < MODEL.logoutEverywhere + MODEL.logout
            ? { ending: "logout" }
            : {}),
      };
    });
    await sleep(Math.max(0, started + at - Date.now()));
    if (b.busy) continue; // this browser is in a visit already (a second tab would share it): skip
    if (at >= WARM_SECONDS * 1000) visits++;
    running.push(visit(at >= WARM_SECONDS * 1000, b, plan));
  }
  const progress = setInterval(
    () => console.log(`  … ${requests} requests, ${visits} visits, ${running.length} started, ${errors.total} errors`),
    10_000,
  );
  await Promise.all(running);
  await warm;
  clearInterval(progress);
  const seconds = (Date.now() - measuredFrom) / 1000;
  await sleep(2 * DISTANCE_MS + 500); // the last writes after the response land
  const stats = await statsOf(workers);
  const gatewayCounted = store === "redis" ? await gatewayCounts() : undefined;

  console.log("  … browsing done; checking the counters");
  // ---- Each counter must hold exactly the updates its browser saw answered. ----
  await setDistance(workers, 0);
  const toCheck = browsers.filter((b) => b.loggedIn && b.revokedAt === undefined && b.updates > 0);
  await Promise.all(
    Array.from({ length: LOGIN_CONCURRENCY }, async () => {
      for (let b = toCheck.pop(); b !== undefined; b = toCheck.pop()) {
        const before = b.updates;
        const res = (await workers[b.isolate]!.fetch("https://fleet.test/s/page", {
          headers: { Cookie: withBrowserCookies(b.jar.cookie ?? "") },
        })) as unknown as Response;
        const answer = (await res.json()) as { user: string | null; n: number };
        if (answer.user !== b.user) errors.add("session lost", `final check of ${b.user}`);
        else if (answer.n !== before) errors.add("lost update", `${b.user}: n ${answer.n}, ${before} updates answered`);
      }
    }),
  );

  console.log("  … counters checked; reading the heaps");
  const heaps = await heapOf(mf, names);
  console.log("  … heaps read");
  const storedKeys = store === "redis" ? (await redisClient.keys(`${instanceName}:*`)).length : undefined;
  await mf.dispose();
  const served = (stats.events.hit ?? 0) + (stats.events.revalidated ?? 0) + (stats.events.miss ?? 0);
  const sorted = latencies.filter(Number.isFinite).sort((a, b) => a - b);
  const operations = store === "redis" ? gatewayCounted!.commands : stats.objectCalls;
  const run: FleetRun = {
    store,
    contender,
    sessions: browsers.length,
    users,
    loginSeconds: people.login!.seconds,
    loginOperationsPerLogin: people.login!.operationsPerLogin,
    seconds,
    visits,
    activeBrowserSeconds: activeMs / 1000,
    requestsPerActiveBrowserSecond: requests / (activeMs / 1000),
    requests,
    requestsByKind: byKind,
    requestsPerSecond: requests / seconds,
    operations,
    operationsPerRequest: operations / requests,
    operationsByName: store === "redis" ? gatewayCounted!.byCommand : stats.byMethod,
    ...(store === "redis" ? { httpRequestsPerRequest: gatewayCounted!.requests / requests } : {}),
    events: stats.events,
    hitRatio: served === 0 ? 0 : (stats.events.hit ?? 0) / served,
    addedMs: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.at(-1) ?? 0 },
    heapBytes: heaps,
    ...(storedKeys !== undefined ? { storedKeys } : {}),
    errors: errors.counts,
    errorExamples: errors.examples,
    runtimeLines: runtimeLines.length,
    runtimeExamples: runtimeLines.slice(0, 10),
  };
  console.log(
    `${store} / ${contender}: ${requests} requests in ${seconds.toFixed(0)} s (${run.requestsPerSecond.toFixed(0)}/s), ${run.operationsPerRequest.toFixed(3)} store operations per request, hit ratio ${run.hitRatio.toFixed(3)}, added p50 ${run.addedMs.p50} ms p99 ${run.addedMs.p99} ms, heaps ${heaps.map((h) => (h / 2 ** 20).toFixed(1)).join(" / ")} MiB, errors ${errors.total}`,
  );
  if (errors.total > 0) console.log(errors.examples.join("\n"));
  if (runtimeLines.length > 0)
    console.log(`the runtime printed ${runtimeLines.length} lines:\n${runtimeLines.slice(0, 10).join("\n")}`);
  return run;
}

const runs: FleetRun[] = [];
try {
  for (const store of STORES) {
    const people = await population(store);
    for (const contender of CONTENDERS) runs.push(await runFleet(store, contender, people));
    await rm(people.persistTo, { recursive: true, force: true });
  }
} finally {
  redisClient.disconnect();
  await gateway.stop();
  await redis.stop();
}

const fleet: FleetResults = {
  takenAt: new Date().toISOString(),
  durationSeconds: Math.round((Date.now() - began) / 1000),
  machine: {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    loadAverage: { start: loadAtStart, end: loadavg()[0]! },
  },
  settings: {
    sessions: SESSIONS,
    seconds: SECONDS,
    warmSeconds: WARM_SECONDS,
    loginConcurrency: LOGIN_CONCURRENCY,
    rate: RATE,
    isolates: ISOLATES,
    distanceMs: DISTANCE_MS,
    seed: SEED,
    stalenessMs: STALENESS_MS,
    model: MODEL,
    requestsPerVisit,
  },
  runs,
};
const errorsInAll = runs.reduce((sum, run) => sum + Object.values(run.errors).reduce((a, b) => a + b, 0), 0);
if (custom) {
  console.log("FLEET_* set: nothing written");
} else {
  await writeFormatted("bench/fleet-results.json", JSON.stringify(fleet, null, 2));
  const results = JSON.parse(await readFile("bench/results.json", "utf8")) as Results;
  await writeFile("bench/chart.svg", renderChart(results));
  await writeFormatted("BENCHMARKS.md", renderMarkdown(results, fleet));
}
console.log(`fleet took ${fleet.durationSeconds} s; errors: ${errorsInAll}`);
process.exit(errorsInAll === 0 ? 0 : 1);

async function writeFormatted(file: string, text: string) {
  const options = (await prettier.resolveConfig(file)) ?? {};
  await writeFile(file, await prettier.format(text, { ...options, filepath: file }));
}
