import type { BlobFuzzReport } from "./blob-fuzz.js";
import { OPENED_EQUAL, UNCHANGED } from "./blob-verdict.js";
import type { CookieFuzzReport } from "./cookie-fuzz.js";
import { FRESH_SESSION, SAME_SESSION } from "./cookie-verdict.js";
import type { MemoryReport, Series } from "./memory-sampler.js";
import type { Failure, Tally } from "./tally.js";

/*
 * The closing figures of a fuzz run: per mutator, how many cases and what came of them; memory; time; and
 * every failure with what replays it (the seed and the case's index). Nothing printed holds a cookie value
 * or a secret: the failures quote the status and body of the response, or the codec's message.
 */

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pad = (text: string | number, width: number) => String(text).padStart(width);

export function cookieSummary(report: CookieFuzzReport): string[] {
  const { tally } = report;
  const lines = [
    `Cookies: ${report.cases} requests to the reference worker (app/worker.ts) in workerd, sessions on Redis ` +
      `through the REST gateway, ${report.concurrency} at a time: ${seconds(report.elapsedMs)} ` +
      `(and ${report.setupRequests} requests that made the genuine sessions)`,
    `  ${"mutator".padEnd(26)} ${"family".padEnd(10)} ${pad("cases", 7)} ${pad("200 same", 10)} ${pad("200 fresh", 10)}` +
      ` ${pad("204", 6)} ${pad("4xx", 6)} ${pad("FAILED", 6)}`,
  ];
  const row = (name: string, family: string, of: (outcome: string) => number, total: number) =>
    `  ${name.padEnd(26)} ${family.padEnd(10)} ${pad(total, 7)} ${pad(of(SAME_SESSION), 10)} ${pad(of(FRESH_SESSION), 10)}` +
    ` ${pad(of("204"), 6)} ${pad(of("4xx"), 6)} ${pad(of("FAIL"), 6)}`;
  for (const mutator of report.mutators) {
    lines.push(
      row(mutator.name, mutator.family, (o) => byClass(tally.outcomes(mutator.name), o), tally.total(mutator.name)),
    );
  }
  const all = new Map<string, number>();
  for (const name of tally.mutators) for (const [o, n] of tally.outcomes(name)) all.set(o, (all.get(o) ?? 0) + n);
  lines.push(row("all", "", (o) => byClass(all, o), tally.total()));
  const statuses = [...all].filter(([o]) => /^4\d\d$/.test(o)).map(([o, n]) => `${n}× ${o}`);
  if (statuses.length > 0) lines.push(`  4xx: ${statuses.join(", ")} (refused bodies, by design)`);
  if (report.logs.length > 0) {
    lines.push("  the worker logged (grouped, numbers as N):");
    for (const [line, n] of report.logs.slice(0, 6)) lines.push(`    ${pad(n, 6)}× ${line}`);
  }
  lines.push(...memorySummary(report.memory));
  return lines;
}

/** Outcomes in the table's columns: 4xx statuses together, every kind of failure together. */
function byClass(outcomes: ReadonlyMap<string, number>, column: string): number {
  let sum = 0;
  for (const [outcome, n] of outcomes) {
    if (
      column === "4xx" ? /^4\d\d$/.test(outcome) : column === "FAIL" ? outcome.startsWith("FAIL") : outcome === column
    ) {
      sum += n;
    }
  }
  return sum;
}

export function blobSummary(report: BlobFuzzReport): string[] {
  const { tally } = report;
  const lines = [
    `Blobs: ${report.cases} opened by the codec in workerd (openEnvelope, plaintext bound ${report.maxBytes} bytes), ` +
      `${report.batches} batches: ${seconds(report.elapsedMs)}`,
    `  ${"mutator".padEnd(26)} ${"must".padEnd(6)} ${pad("cases", 6)}  outcomes`,
  ];
  for (const mutator of report.mutators) {
    const outcomes = [...tally.outcomes(mutator.name)]
      .sort((a, b) => b[1] - a[1])
      .map(([outcome, n]) => `${outcome.replace(/^SealError: /, "")} ${n}`)
      .join(", ");
    lines.push(
      `  ${mutator.name.padEnd(26)} ${mutator.expect.padEnd(6)} ${pad(tally.total(mutator.name), 6)}  ${outcomes}`,
    );
  }
  const refused = [...new Set(tally.mutators.flatMap((m) => [...tally.outcomes(m).keys()]))].filter((o) =>
    o.startsWith("SealError"),
  );
  lines.push(
    `  ${"all".padEnd(26)} ${"".padEnd(6)} ${pad(tally.total(), 6)}  opened ${tally.totalOf(OPENED_EQUAL) + tally.totalOf(UNCHANGED) + tally.totalOf("opened")}, ` +
      `SealError ${refused.reduce((sum, o) => sum + tally.totalOf(o), 0)}, failed ${tally.failureCount}`,
  );
  lines.push(
    "  must: equal = opens to what was sealed; reject = SealError; typed = authenticated but never written so: " +
      "SealError, or opens to exactly its content",
  );
  lines.push(...memorySummary(report.memory));
  return lines;
}

function memorySummary(memory: MemoryReport): string[] {
  const signed = (bytes: number) => `${bytes >= 0 ? "+" : ""}${mb(bytes)}`;
  const describe = (s: Series) =>
    `${mb(s.startBytes)} → peak ${mb(s.peakBytes)} → end ${mb(s.endBytes)} MB; quarter medians ` +
    `${mb(s.firstQuarterMedianBytes)} → ${mb(s.lastQuarterMedianBytes)} MB (${signed(s.growthBytes)}); quarter floors ` +
    `${mb(s.firstQuarterFloorBytes)} → ${mb(s.lastQuarterFloorBytes)} MB (${signed(s.floorGrowthBytes)})`;
  return [
    `  memory, worker heap: ${describe(memory.heap)}; floor limit +${mb(memory.heapLimitBytes)}: ` +
      `${memory.flat ? "flat" : "GROWING"}`,
    `    by tenths of the run: ${memory.heap.tenthsBytes.map((b) => mb(b)).join(" ")} MB (${memory.heap.samples} samples)`,
    `  memory, workerd RSS: ${describe(memory.rss)} (reported, not judged: see tools/fuzz/memory-sampler.ts)`,
  ];
}

export function failureLines(stream: string, tally: Tally): string[] {
  if (tally.failureCount === 0) return [];
  const shown = tally.failures.map((f: Failure) => `  ${stream} case ${f.index} [${f.mutator}] ${f.kind}: ${f.detail}`);
  const more = tally.failureCount - tally.failures.length;
  return [`${stream} failures: ${tally.failureCount}`, ...shown, ...(more > 0 ? [`  … and ${more} more`] : [])];
}
