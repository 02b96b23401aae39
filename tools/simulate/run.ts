/**
 * `npm run simulate`: the session protocol under deterministic simulation (see world.ts). Every seed is
 * one world; a broken promise prints the seed, what broke and the steps that led there, and
 * `npm run simulate -- --seed N` replays that world exactly.
 *
 *   --seeds N      how many seeds (default 10000), from --from (default 1)
 *   --seed N       one seed, with its whole trace on failure
 *   --mutant NAME  run against a copy of src/ with that mutant (mutants.ts) put in: it must be caught
 *   --mutants      every mutant in turn: each must be caught within --seeds seeds
 *   --workers N    processes to spread the seeds over (default: the machine's cores)
 */
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { MUTANTS, sourceWithMutant } from "./mutants.js";
import { loadSystem } from "./system.js";
import { World } from "./world.js";

interface Options {
  from: number;
  seeds: number;
  mutant?: string | undefined;
  allMutants: boolean;
  workers: number;
  verbose: boolean;
}

function parse(argv: string[]): Options {
  const options: Options = {
    from: 1,
    seeds: 10_000,
    allMutants: false,
    workers: availableParallelism(),
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return next;
    };
    switch (argv[i]) {
      case "--seeds":
        options.seeds = Number(value());
        break;
      case "--from":
        options.from = Number(value());
        break;
      case "--seed":
        options.from = Number(value());
        options.seeds = 1;
        options.verbose = true;
        options.workers = 1;
        break;
      case "--mutant":
        options.mutant = value();
        break;
      case "--mutants":
        options.allMutants = true;
        break;
      case "--workers":
        options.workers = Number(value());
        break;
      default:
        throw new Error(`unknown option ${argv[i]}`);
    }
  }
  return options;
}

export interface Outcome {
  seeds: number;
  steps: number;
  requests: number;
  failure?: { seed: number; message: string; trace: string[] } | undefined;
}

/** Runs seeds [from, from + count) in this process, stopping at the first failure. */
export async function runSeeds(from: number, count: number, mutant?: string): Promise<Outcome> {
  const system = await loadSystem(mutant === undefined ? srcRoot() : await sourceWithMutant(mutant));
  const outcome: Outcome = { seeds: 0, steps: 0, requests: 0 };
  for (let seed = from; seed < from + count; seed++) {
    const world = new World(seed, system);
    await world.run();
    outcome.seeds++;
    outcome.steps += world.sim.steps;
    outcome.requests += world.requests;
    if (world.violation !== undefined) {
      outcome.failure = { seed, message: world.violation.message, trace: world.trace() };
      break;
    }
  }
  return outcome;
}

function srcRoot(): string {
  return fileURLToPath(new URL("../../src/", import.meta.url));
}

/** Spreads seeds over worker processes; the first failure (lowest seed) is reported. */
async function runParallel(options: Options, mutant?: string): Promise<Outcome> {
  const workers = Math.max(1, Math.min(options.workers, options.seeds));
  const per = Math.ceil(options.seeds / workers);
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const from = options.from + w * per;
      const count = Math.min(per, options.from + options.seeds - from);
      if (count <= 0) return Promise.resolve<Outcome>({ seeds: 0, steps: 0, requests: 0 });
      return new Promise<Outcome>((resolve, reject) => {
        const child = fork(fileURLToPath(import.meta.url), [], {
          env: { ...process.env, SIMULATE_PART: JSON.stringify({ from, count, mutant }) },
          execArgv: process.execArgv,
        });
        child.once("message", (message) => resolve(message as Outcome));
        child.once("error", reject);
        child.once("exit", (code) => code !== 0 && reject(new Error(`simulation worker exited with ${code}`)));
      });
    }),
  );
  const failures = parts.flatMap((p) => (p.failure ? [p.failure] : [])).sort((a, b) => a.seed - b.seed);
  return {
    seeds: parts.reduce((n, p) => n + p.seeds, 0),
    steps: parts.reduce((n, p) => n + p.steps, 0),
    requests: parts.reduce((n, p) => n + p.requests, 0),
    failure: failures[0],
  };
}

function report(outcome: Outcome, seconds: number, verbose: boolean, mutant: string | undefined): void {
  const label = mutant ? `mutant ${mutant}` : "simulation";
  const rate = Math.round(outcome.steps / Math.max(seconds, 0.001));
  console.log(
    `${label}: ${outcome.seeds} seeds, ${outcome.steps.toLocaleString("en")} steps, ${outcome.requests.toLocaleString("en")} requests in ${seconds.toFixed(1)} s (${rate.toLocaleString("en")} steps/s)`,
  );
  if (outcome.failure !== undefined) {
    const { seed, message, trace } = outcome.failure;
    console.log(`\nFAILED at seed ${seed}: ${message}\n`);
    console.log((verbose ? trace : trace.slice(-40)).join("\n"));
    console.log(`\nreplay: npm run simulate -- --seed ${seed}${mutant ? ` --mutant ${mutant}` : ""}`);
  }
}

async function main(): Promise<void> {
  const part = process.env["SIMULATE_PART"];
  if (part !== undefined) {
    const { from, count, mutant } = JSON.parse(part) as { from: number; count: number; mutant?: string };
    process.send!(await runSeeds(from, count, mutant));
    return;
  }
  const options = parse(process.argv.slice(2));
  if (options.allMutants) {
    let escaped = 0;
    for (const mutant of MUTANTS) {
      const started = performance.now();
      const outcome = await runParallel({ ...options, seeds: Math.max(options.seeds, mutant.seeds ?? 0) }, mutant.name);
      const seconds = (performance.now() - started) / 1000;
      const caught = outcome.failure !== undefined;
      if (!caught) escaped++;
      console.log(
        `${mutant.name.padEnd(34)} ${caught ? `caught at seed ${outcome.failure!.seed} (${outcome.seeds} seeds run)` : `NOT caught in ${outcome.seeds} seeds`} ${seconds.toFixed(1)} s — ${caught ? outcome.failure!.message.slice(0, 110) : mutant.hole}`,
      );
    }
    process.exitCode = escaped === 0 ? 0 : 1;
    return;
  }
  const started = performance.now();
  const outcome =
    options.workers <= 1
      ? await runSeeds(options.from, options.seeds, options.mutant)
      : await runParallel(options, options.mutant);
  report(outcome, (performance.now() - started) / 1000, options.verbose, options.mutant);
  // A mutant run passes when the mutant is caught; a plain run when nothing broke.
  const caught = outcome.failure !== undefined;
  process.exitCode = options.mutant === undefined ? (caught ? 1 : 0) : caught ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}` || process.env["SIMULATE_PART"] !== undefined) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  });
}
