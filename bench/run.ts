/**
 * `npm run bench`: runs bench/worker.ts in workerd (Miniflare) against a private redis-server behind the
 * Upstash-protocol gateway, prints the figures, and writes bench/results.json, bench/chart.svg and
 * BENCHMARKS.md. Every figure is the median of REPEATS runs, with the spread (min–max).
 */
import { readFile, writeFile } from "node:fs/promises";
import { cpus, release, totalmem } from "node:os";
import { dirname } from "node:path";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { startGateway } from "../tools/redis-rest/gateway.js";
import { startRedisServer } from "../tools/redis-rest/redis-server.js";
import { workerBundle } from "../test/support/node.js";
import { largeSession, smallSession } from "../test/support/sessions.js";
import { renderChart, renderMarkdown, renderTable, type Results } from "./report.js";

const REPEATS = 7;
/** Requests per timed loop: fewer where each request waits for Redis, so the run stays within minutes. */
const N = 1000;
const N_STORE = 200;
const COOKIE_LIMIT = 4096;
const SECRET = "bench-session-secret-".padEnd(80, "b");

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const spread = (values: number[]) => ({ median: median(values), min: Math.min(...values), max: Math.max(...values) });

// Ctrl-C still runs the exit hooks that stop redis-server and workerd.
process.once("SIGINT", () => process.exit(130));
const redis = await startRedisServer();
const gateway = await startGateway({ redisPort: redis.port, token: "bench-token", recordCommands: true });
const script = await workerBundle("bench/worker.ts");
const mf = new Miniflare({
  modules: true,
  scriptPath: script,
  modulesRoot: dirname(script),
  compatibilityDate: "2026-04-01",
  compatibilityFlags: ["nodejs_compat"],
  bindings: { BENCH_OPTIONS: JSON.stringify({ secret: SECRET, redis: { url: gateway.url, token: gateway.token } }) },
  port: 0,
  host: "127.0.0.1",
});
const base = (await mf.ready).toString().replace(/\/$/, "");

async function call(path: string, init: { method?: string; json?: unknown; cookie?: string } = {}) {
  const res = await mf.dispatchFetch(`https://bench.test${path}`, {
    method: init.method ?? (init.json === undefined ? "GET" : "POST"),
    headers: {
      ...(init.json === undefined ? {} : { "Content-Type": "application/json" }),
      ...(init.cookie ? { Cookie: init.cookie } : {}),
    },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path} answered ${res.status}: ${text}`);
  return { text, setCookie: res.headers.get("Set-Cookie") };
}

/** Wall time of one loop of `n` requests inside the isolate, in microseconds. */
async function timeLoop(body: Record<string, unknown>, path = "/loop"): Promise<number> {
  const start = process.hrtime.bigint();
  await call(path, { json: body });
  return Number(process.hrtime.bigint() - start) / 1000;
}

/** Per-request cost from outside: (T(N) − T(1)) / (N − 1), so the cost of calling into workerd cancels out. */
async function perRequest(body: Record<string, unknown>, path = "/loop", n = N) {
  const samples: number[] = [];
  await timeLoop({ ...body, n: 20 }, path); // warm-up
  for (let r = 0; r < REPEATS; r++) {
    const one = await timeLoop({ ...body, n: 1 }, path);
    const many = await timeLoop({ ...body, n }, path);
    samples.push((many - one) / (n - 1));
  }
  return spread(samples);
}

// BENCH_QUICK=1 measures only the bare route and the memory-tier hit on the small session, and writes nothing
// (for profiling the hot path).
const quick = process.env.BENCH_QUICK === "1";
const contenders = quick
  ? ["bare", "hes-hit"]
  : ["bare", "hes-hit", "hes-miss", "hono-sessions-cookie", "hono-sessions-memory", "hono-session-jwe"];
const workloads = [
  { name: "small read-only", size: "small", path: "/read" },
  { name: "small read-write", size: "small", path: "/write" },
  { name: "large read-only", size: "large", path: "/read" },
  { name: "large read-write", size: "large", path: "/write" },
].filter((w) => !quick || w.name === "small read-only");

const perRequestResults: Results["perRequest"] = {};
for (const workload of workloads) {
  const data = workload.size === "large" ? largeSession() : smallSession();
  for (const contender of contenders) {
    const seeded = JSON.parse((await call("/seed", { json: { contender, data } })).text) as {
      cookieBytes: number;
      cookie: string | null;
      kept: boolean;
    };
    const key = `${contender} / ${workload.name}`;
    if (seeded.cookie === null) {
      perRequestResults[key] = {
        unsupported: !seeded.kept
          ? "it did not keep the session (read back empty)"
          : `its cookie is ${(seeded.cookieBytes / 1024).toFixed(1)} KB; browsers keep ${COOKIE_LIMIT / 1024} KB`,
      };
      console.log(`${key}: n/a (cookie ${seeded.cookieBytes} bytes)`);
      continue;
    }
    const cookie = seeded.cookie;
    const touchesStore = contender === "hes-miss" || (contender === "hes-hit" && workload.path === "/write");
    const figure = await perRequest({ contender, path: workload.path, cookie }, "/loop", touchesStore ? N_STORE : N);
    perRequestResults[key] = figure;
    console.log(`${key}: ${figure.median.toFixed(1)} µs (${figure.min.toFixed(1)}–${figure.max.toFixed(1)})`);
  }
}

if (quick) {
  await mf.dispose();
  await gateway.stop();
  await redis.stop();
  process.exit(0);
}

const codec: Results["codec"] = {};
for (const size of ["small", "large"]) {
  for (const op of ["seal", "unseal"]) {
    codec[`${op} ${size}`] = await perRequest({ op, size }, "/codec");
    console.log(`${op} ${size}: ${codec[`${op} ${size}`]!.median.toFixed(1)} µs`);
  }
}
const sizes = JSON.parse((await call("/sizes")).text) as Results["sizes"];

/** Commands and HTTP round trips the gateway saw for a namespace. */
async function gatewayLog(namespace: string) {
  const res = await fetch(`${gateway.url}/__gateway/commands?prefix=${encodeURIComponent(`${namespace}:`)}`, {
    headers: { Authorization: `Bearer ${gateway.token}` },
  });
  const commands = ((await res.json()) as { result: Array<{ command: string; request: number; error?: string }> })
    .result;
  return commands.filter((c) => !c.error?.startsWith("NOSCRIPT"));
}
async function roundTrips(namespace: string, run: () => Promise<void>, requests: number) {
  const before = await gatewayLog(namespace);
  await run();
  const after = (await gatewayLog(namespace)).slice(before.length);
  const reads = after.filter((c) => c.command === "GET").length;
  const writes = after.filter((c) => ["EVALSHA", "EVAL", "SET"].includes(c.command)).length;
  const refreshes = after.filter((c) => c.command === "PEXPIRE").length;
  return {
    requests,
    roundTrips: new Set(after.map((c) => c.request)).size / requests,
    reads: reads / requests,
    writes: writes / requests,
    refreshes,
  };
}
const loop = (contender: string, path: string, n: number, cookie: string) => async () => {
  await call("/loop", { json: { contender, path, n, cookie } });
};
const seedCookie = async (contender: string) =>
  (JSON.parse((await call("/seed", { json: { contender, data: smallSession() } })).text) as { cookie: string }).cookie;
const hitCookie = await seedCookie("hes-hit");
const missCookie = await seedCookie("hes-miss");
const trips: Results["roundTrips"] = {
  "hit (unchanged)": await roundTrips("bench-hit", loop("hes-hit", "/read", 50, hitCookie), 50),
  miss: await roundTrips("bench-miss", loop("hes-miss", "/read", 50, missCookie), 50),
  changed: await roundTrips("bench-hit", loop("hes-hit", "/write", 50, hitCookie), 50),
};
console.log(trips);

const memory = JSON.parse((await call("/memory?count=10000&bound=1048576")).text) as Results["memory"];

async function rps(path: string, cookie?: string) {
  const result = await autocannon({
    url: `${base}${path}`,
    connections: 10,
    duration: 5,
    headers: cookie ? { cookie } : {},
  });
  return {
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    errors: result.errors + result.non2xx,
  };
}
const http = {
  "without sessions": await rps("/c/bare/read"),
  "with sessions (memory-tier hits)": await rps("/c/hes-hit/read", hitCookie),
};
console.log(http);

const workerdVersion = (
  JSON.parse(await readFile("node_modules/miniflare/package.json", "utf8")) as {
    dependencies: Record<string, string>;
  }
).dependencies.workerd!;
const results: Results = {
  takenAt: new Date().toISOString(),
  machine: {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `Linux ${release()}`,
    node: process.version,
    workerd: workerdVersion,
  },
  method: { repeats: REPEATS, requestsPerLoop: N, requestsPerLoopWithStore: N_STORE },
  perRequest: perRequestResults,
  codec,
  sizes,
  roundTrips: trips,
  memory,
  http,
};
await writeFile("bench/results.json", `${JSON.stringify(results, null, 2)}\n`);
await writeFile("bench/chart.svg", renderChart(results));
await writeFile("BENCHMARKS.md", renderMarkdown(results));
console.log(renderTable(results));

await mf.dispose();
await gateway.stop();
await redis.stop();
