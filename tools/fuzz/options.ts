import { parseArgs } from "node:util";
import { randomSeed } from "./prng.js";

/** `npm run fuzz -- --cookies N --blobs N --seed S --concurrency C`; a run without a seed gets a random one. */
export interface FuzzOptions {
  cookies: number;
  blobs: number;
  seed: number;
  concurrency: number;
}

export const USAGE =
  "usage: npm run fuzz -- [--cookies N (100000)] [--blobs N (100000)] [--seed S (random)] [--concurrency C (8)]";

export function parseFuzzOptions(argv: string[]): FuzzOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      cookies: { type: "string" },
      blobs: { type: "string" },
      seed: { type: "string" },
      concurrency: { type: "string" },
    },
    strict: true,
  });
  return {
    cookies: count("--cookies", values.cookies, 100_000),
    blobs: count("--blobs", values.blobs, 100_000),
    seed: values.seed === undefined ? randomSeed() : count("--seed", values.seed, 0, 0xffff_ffff),
    concurrency: count("--concurrency", values.concurrency, 8, 256, 1),
  };
}

function count(flag: string, text: string | undefined, fallback: number, max = 10_000_000, min = 0): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new RangeError(`${flag} takes a whole number from ${min} to ${max}`);
  return n;
}
