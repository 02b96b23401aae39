import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fuzzBlobs } from "../../tools/fuzz/blob-fuzz.js";
import { OPENED_EQUAL, UNCHANGED } from "../../tools/fuzz/blob-verdict.js";
import { fuzzCookies } from "../../tools/fuzz/cookie-fuzz.js";
import { FRESH_SESSION, SAME_SESSION } from "../../tools/fuzz/cookie-verdict.js";
import { failureLines } from "../../tools/fuzz/summary.js";
import { startRedisStack, type RedisStack } from "../support/node.js";

/*
 * A short run of the fuzz (`npm run fuzz` runs 10⁵ of each): the same drivers, a fixed seed, a few
 * thousand cases each. Besides no failure, each mutator must have run and done what it is there for, so
 * a fuzzer that stopped reaching the cases it claims (a mutator that no longer forges, or no longer keeps
 * the session) fails too.
 */
const SEED = 20_260_701;
const CASES = 3000;

let stack: RedisStack;
beforeAll(async () => {
  stack = await startRedisStack({ recordCommands: false });
});
afterAll(async () => {
  await stack?.stop();
});

const count = (outcomes: ReadonlyMap<string, number>, outcome: string) => outcomes.get(outcome) ?? 0;

describe("fuzz, short run", () => {
  it(`${CASES} mutated cookies to the reference worker on Redis: no 5xx, no session shown to another cookie, heap flat`, async () => {
    const report = await fuzzCookies({ stack, cases: CASES, seed: SEED });

    expect(failureLines("cookie", report.tally)).toEqual([]);
    expect(report.tally.total()).toBe(CASES);
    for (const mutator of report.mutators) {
      const outcomes = report.tally.outcomes(mutator.name);
      expect(report.tally.total(mutator.name), mutator.name).toBeGreaterThan(20);
      // The genuine id cookie, written another way: it opens its session.
      if (mutator.family === "equivalent") expect(count(outcomes, SAME_SESSION), mutator.name).toBeGreaterThan(0);
      // An altered or foreign id cookie: it never does, and gets a new session instead.
      if (mutator.family === "forged") {
        expect(count(outcomes, SAME_SESSION), mutator.name).toBe(0);
        expect(count(outcomes, FRESH_SESSION), mutator.name).toBeGreaterThan(0);
      }
    }
    expect(report.memory.heap.samples).toBeGreaterThan(5);
    expect(report.memory.flat).toBe(true);
  });

  it(`${CASES} damaged blobs opened by the codec in workerd: SealErrors only, sound blobs open as sealed`, async () => {
    const report = await fuzzBlobs({ cases: CASES, seed: SEED });

    expect(failureLines("blob", report.tally)).toEqual([]);
    expect(report.tally.total()).toBe(CASES);
    for (const mutator of report.mutators) {
      const outcomes = [...report.tally.outcomes(mutator.name).keys()];
      expect(report.tally.total(mutator.name), mutator.name).toBeGreaterThan(20);
      if (mutator.expect === "equal") expect(outcomes, mutator.name).toEqual([OPENED_EQUAL]);
      if (mutator.expect === "reject") {
        expect(
          outcomes.filter((o) => !o.startsWith("SealError: ") && o !== UNCHANGED),
          mutator.name,
        ).toEqual([]);
      }
    }
    // The bound is enforced while inflating, and sizes are checked before anything is decoded.
    expect(report.tally.outcomes("bomb-sealed").get("SealError: inflates past the bound")).toBeGreaterThan(0);
    expect(report.tally.outcomes("oversized-string").get("SealError: larger than the bound")).toBeGreaterThan(0);
    expect(report.memory.flat).toBe(true);
  });
});
