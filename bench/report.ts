// Turns bench/results.json into the console table, BENCHMARKS.md and bench/chart.svg.

export interface Figure {
  median: number;
  min: number;
  max: number;
}
export type PerRequest = Figure | { unsupported: string };

export interface Results {
  takenAt: string;
  machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string; workerd: string };
  method: { repeats: number; requestsPerLoop: number; requestsPerLoopWithStore: number };
  /** Key: "<contender> / <workload>"; µs per request (wall time inside workerd). */
  perRequest: Record<string, PerRequest>;
  /** µs per operation. */
  codec: Record<string, Figure>;
  sizes: Record<string, { json: number; sealed: number; approuter: number }>;
  roundTrips: Record<
    string,
    { requests: number; roundTrips: number; reads: number; writes: number; refreshes: number }
  >;
  memory: {
    sessionJsonBytes: number;
    unbounded: { bytes: number; entries: number; maxBytes: number };
    bounded: { bytes: number; entries: number; maxBytes: number };
  };
  http: Record<string, { requestsPerSecond: number; latencyP50Ms: number; errors: number }>;
}

const CONTENDERS: Record<string, string> = {
  bare: "bare Hono route (baseline)",
  "hes-hit": "hono-edge-session, memory-tier hit",
  "hes-miss": "hono-edge-session, miss (store read + unseal)",
  "hono-sessions-cookie": "hono-sessions, CookieStore",
  "hono-sessions-memory": "hono-sessions, MemoryStore",
  "hono-session-jwe": "@hono/session (encrypted JWT cookie)",
};
const WORKLOADS = ["small read-only", "small read-write", "large read-only", "large read-write"];

const us = (value: number) => `${value.toFixed(1)}`;
const range = (f: Figure) => `${us(f.median)} (${us(f.min)}–${us(f.max)})`;
const isFigure = (p: PerRequest | undefined): p is Figure => p !== undefined && "median" in p;

/** Added µs per request over the bare route, for each contender and workload. */
export function added(results: Results, contender: string, workload: string): number | undefined {
  const own = results.perRequest[`${contender} / ${workload}`];
  const bare = results.perRequest[`bare / ${workload}`];
  return isFigure(own) && isFigure(bare) ? own.median - bare.median : undefined;
}

function perRequestTable(results: Results): string[] {
  const rows = ["| contender | " + WORKLOADS.join(" | ") + " |", "| --- |" + WORKLOADS.map(() => " --- |").join("")];
  for (const [id, label] of Object.entries(CONTENDERS)) {
    const cells = WORKLOADS.map((workload) => {
      const figure = results.perRequest[`${id} / ${workload}`];
      if (figure === undefined) return "–";
      if (!isFigure(figure)) return `n/a: ${figure.unsupported}`;
      if (id === "bare") return `${range(figure)} µs total`;
      const extra = added(results, id, workload)!;
      const ours = added(results, "hes-hit", workload);
      const ratio =
        !id.startsWith("hes") && ours !== undefined && ours > 0 ? `, ×${(extra / ours).toFixed(1)} ours` : "";
      return `+${us(extra)} µs (total ${range(figure)}${ratio})`;
    });
    rows.push(`| ${label} | ${cells.join(" | ")} |`);
  }
  return rows;
}

export function renderTable(results: Results): string {
  return ["", ...perRequestTable(results), ""].join("\n");
}

export function renderMarkdown(results: Results): string {
  const m = results.machine;
  const codecRows = Object.entries(results.codec).map(([op, f]) => `| ${op} | ${range(f)} |`);
  const sizeRows = Object.entries(results.sizes).map(
    ([size, s]) =>
      `| ${size} | ${s.json} | ${s.sealed} (${((100 * s.sealed) / s.json).toFixed(0)} %) | ${s.approuter} (${((100 * s.approuter) / s.json).toFixed(0)} %) |`,
  );
  const tripRows = Object.entries(results.roundTrips).map(
    ([kind, t]) => `| ${kind} | ${t.roundTrips.toFixed(2)} | ${t.reads.toFixed(2)} | ${t.writes.toFixed(2)} |`,
  );
  const httpRows = Object.entries(results.http).map(
    ([kind, h]) => `| ${kind} | ${Math.round(h.requestsPerSecond)} | ${h.latencyP50Ms} | ${h.errors} |`,
  );
  const hit = added(results, "hes-hit", "small read-only");
  const peers = ["hono-sessions-cookie", "hono-sessions-memory", "hono-session-jwe"];
  const headline = peers
    .map((peer) => {
      const theirs = added(results, peer, "small read-only");
      return theirs !== undefined && hit !== undefined && hit > 0
        ? `${CONTENDERS[peer]} ×${(theirs / hit).toFixed(1)}`
        : undefined;
    })
    .filter(Boolean)
    .join(", ");
  const mem = results.memory;
  return `# Benchmarks

Taken ${results.takenAt} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${m.os}, Node ${m.node},
workerd ${m.workerd} (Miniflare). Regenerate with \`npm run bench\` (three to four minutes; not part of \`npm test\`).

Every figure is the median of ${results.method.repeats} runs, with the spread (min–max) in brackets. Per-request
figures are taken from outside the isolate as (T(${results.method.requestsPerLoop}) − T(1)) / (${results.method.requestsPerLoop} − 1): a loop of
requests runs inside workerd (each through the contender's Hono app, cookie carried from one to the next),
so the cost of calling into workerd cancels out. workerd does not advance its clock during computation,
so the timing is wall time seen from Node; where a request touches Redis (this project's miss and writes) it
includes the loopback round trip to the REST gateway and redis-server. The machine is shared and noisy: the
bare route alone moves between about 35 and 65 µs from one column to the next, so compare ratios, not
single figures.

![added time per request](bench/chart.svg)

## Time per request

Added µs per request over the bare route (and the total per request); the ratio compares a peer's added
time with this project's memory-tier hit on the same workload. Small: ≈2 KB of JSON; large: ≈50 KB.

Read what the write columns measure: a changed session in this project is sealed and written to Redis with
compare-and-set *before* the response (one round trip to the REST gateway and redis-server over loopback,
most of the figure), so that it is durable and visible to every isolate, and concurrent writers merge.
The peers' writes stay in the response cookie or in one isolate's memory, where another isolate cannot see
them. A miss is a fresh isolate's first request for a session: one store read and an unseal.

${perRequestTable(results).join("\n")}

Headline (small session, read-only): a memory-tier hit adds ${hit === undefined ? "–" : us(hit)} µs; the peers add ${headline || "–"} as much.

## Codec

| operation | µs |
| --- | --- |
${codecRows.join("\n")}

## Stored bytes per session

| session | JSON bytes | sealed (this project) | application router (gzip + base64) |
| --- | --- | --- | --- |
${sizeRows.join("\n")}

## Store round trips per request (counted at the gateway)

| request | HTTP round trips | reads | writes |
| --- | --- | --- | --- |
${tripRows.join("\n")}

TTL refresh: at most one \`PEXPIRE\` per \`ttlRefreshFraction\` of the timeout, proven in
\`test/workerd/middleware.test.ts\` (*refreshes an unchanged session's store expiry at most once per refresh interval*).

## Memory tier

${mem.unbounded.entries} small sessions (${mem.sessionJsonBytes} bytes of JSON each) are accounted as
${(mem.unbounded.bytes / 2 ** 20).toFixed(1)} MiB (${Math.round(mem.unbounded.bytes / mem.unbounded.entries)} bytes each: the JSON string and its parsed copy,
counted as 4 bytes per JSON character, the id, and a fixed overhead per entry). With a bound of ${(mem.bounded.maxBytes / 2 ** 20).toFixed(1)} MiB the tier keeps ${mem.bounded.entries}
of them (${(mem.bounded.bytes / 2 ** 20).toFixed(2)} MiB), evicting the least recently used.

## Requests per second over HTTP

autocannon, 10 connections, 5 s, against the benchmark worker in Miniflare on loopback.

| route | requests/s | p50 latency (ms) | errors |
| --- | --- | --- | --- |
${httpRows.join("\n")}
`;
}

/** A horizontal bar chart of the added µs per read-only request: the hot path, where no store is involved. */
export function renderChart(results: Results): string {
  const bars: Array<{ label: string; value: number }> = [];
  for (const workload of ["small read-only", "large read-only"]) {
    for (const [id, label] of Object.entries(CONTENDERS)) {
      if (id === "bare" || id === "hes-miss") continue;
      const value = added(results, id, workload);
      if (value !== undefined) bars.push({ label: `${label} — ${workload}`, value });
    }
  }
  const width = 900;
  const rowHeight = 26;
  const labelWidth = 430;
  const max = Math.max(...bars.map((b) => b.value), 1);
  const scale = (width - labelWidth - 80) / max;
  const rows = bars
    .map((bar, i) => {
      const y = 40 + i * rowHeight;
      const w = Math.max(1, bar.value * scale);
      return `  <text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escape(bar.label)}</text>
  <rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 8}" fill="${bar.label.startsWith("hono-edge-session") ? "#f38020" : "#8a8f98"}"/>
  <text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 15}">${bar.value.toFixed(1)} µs</text>`;
    })
    .join("\n");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${50 + bars.length * rowHeight}" font-family="sans-serif" font-size="13">
  <text x="10" y="22" font-size="15" font-weight="bold">Added time per read-only request over a bare Hono route (µs, median; missing bar: cannot hold the session)</text>
${rows}
</svg>
`;
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
