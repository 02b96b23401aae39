import { startRedisStack } from "../../test/support/node.js";
import { fuzzBlobs, type BlobFuzzReport } from "./blob-fuzz.js";
import { fuzzCookies, type CookieFuzzReport } from "./cookie-fuzz.js";
import { parseFuzzOptions, USAGE, type FuzzOptions } from "./options.js";
import { blobSummary, cookieSummary, failureLines } from "./summary.js";

/*
 * `npm run fuzz`: the cookie fuzz (the reference worker in workerd, on a private redis-server behind the
 * REST gateway), then the blob fuzz (the codec in workerd), then the closing figures. It exits non-zero on
 * any failure or a growing heap; a failure names its case, and `--seed` replays the run.
 */

let options: FuzzOptions;
try {
  options = parseFuzzOptions(process.argv.slice(2));
} catch (error) {
  console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  process.exit(2);
}

const { cookies, blobs, seed, concurrency } = options;
const started = performance.now();
const progress = (stream: string, total: number) => (done: number) =>
  process.stderr.write(`${stream}: ${done}/${total} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);

console.log(`hono-edge-session fuzz, seed ${seed} (replay: npm run fuzz -- --seed ${seed})`);

let cookieReport: CookieFuzzReport | undefined;
if (cookies > 0) {
  const stack = await startRedisStack({ recordCommands: false });
  try {
    cookieReport = await fuzzCookies({
      stack,
      cases: cookies,
      seed,
      concurrency,
      onProgress: progress("cookies", cookies),
    });
  } finally {
    await stack.stop();
  }
}
let blobReport: BlobFuzzReport | undefined;
if (blobs > 0) blobReport = await fuzzBlobs({ cases: blobs, seed, onProgress: progress("blobs", blobs) });

const lines: string[] = [""];
if (cookieReport !== undefined) lines.push(...cookieSummary(cookieReport), "");
if (blobReport !== undefined) lines.push(...blobSummary(blobReport), "");
if (cookieReport !== undefined) lines.push(...failureLines("cookie", cookieReport.tally));
if (blobReport !== undefined) lines.push(...failureLines("blob", blobReport.tally));

const failures = (cookieReport?.tally.failureCount ?? 0) + (blobReport?.tally.failureCount ?? 0);
const growing = [cookieReport, blobReport].filter((r) => r !== undefined && !r.memory.flat).length;
const passed = failures === 0 && growing === 0;
lines.push(
  `${passed ? "PASS" : "FAIL"}: ${cookies} cookie cases, ${blobs} blob cases, ${failures} failures, ` +
    `${growing === 0 ? "memory flat" : `${growing} growing heap(s)`}; seed ${seed}; ` +
    `${((performance.now() - started) / 1000).toFixed(1)} s in all`,
);
console.log(lines.join("\n"));
process.exit(passed ? 0 : 1);
