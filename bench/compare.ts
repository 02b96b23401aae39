/**
 * `npm run bench:compare -- [ref]` (default HEAD): this checkout's benchmark worker against the one of a git
 * ref, side by side. On a shared machine a figure moves by more between two runs than most changes move it,
 * so the two builds run in two isolates at once and take turns loop by loop (which goes first alternates), and
 * what is compared is the median of those loops. For each: the changed request (a MemoryStore in the isolate:
 * no network, the layer's own work) and the memory-tier hit, as CPU time of its workerd process (the
 * background write included) and as time before the response, each over the bare route, with @hono/session
 * beside them. Then both builds' middleware bundled into one worker, in one isolate: the changed request
 * and the hit of each, timed before the response and taking turns loop by loop, each less the bare route's
 * loop beside it. Two processes differ by more than most changes (one build's process can run 15 µs slower
 * than the other's on the same code); in one isolate the same code measures the same within about 2 µs.
 * Nothing is written.
 *
 * COMPARE_REPEATS (default 21) sets the loops; the ref's tree is checked out in a temporary git worktree.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Miniflare } from "miniflare";
import { bundleWorker } from "../test/support/node.js";
import { cpuNs, startBenchWorker } from "./workerd-process.js";

const ref = process.argv[2] ?? "HEAD";
const repeats = Number(process.env.COMPARE_REPEATS ?? 21);
const here = resolve(".");
const scratch = mkdtempSync(join(tmpdir(), "hes-compare-"));
const there = join(scratch, "tree");
const git = (...args: string[]) => execFileSync("git", args, { cwd: here, encoding: "utf8" }).trim();

/** One build's isolate: its own workerd process, so its CPU time is its own. */
interface Build {
  label: string;
  mf: Miniflare;
  pid: number;
}

async function start(label: string, root: string): Promise<Build> {
  const script = await bundleWorker({ root, entry: "bench/worker.ts", outfile: join(scratch, label, "worker.js") });
  // The contenders measured here keep their sessions in the isolate: the Redis address is never called.
  const { mf, pid } = await startBenchWorker(script, {
    secret: "c".repeat(64),
    redis: { url: "http://127.0.0.1:9", token: "-" },
  });
  return { label, mf, pid };
}

async function post<T>(build: Build, path: string, body: unknown): Promise<T> {
  const res = await build.mf.dispatchFetch(`https://bench.test${path}`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "Content-Type": "application/json" },
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${build.label} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** The loops: the changed request on 100 sessions, the read on one, each beside the bare route and the peer. */
const SPECS = [
  { name: "bare, changed", contender: "bare", path: "/write", sessions: 1, requests: 600 },
  { name: "changed", contender: "hes-cpu", path: "/write", sessions: 100, requests: 600 },
  { name: "peer changed", contender: "hono-session-jwe", path: "/write", sessions: 1, requests: 600 },
  // Reads take a few µs: more of them per loop, since workerd's clock moves in whole milliseconds.
  { name: "bare, read", contender: "bare", path: "/read", sessions: 1, requests: 3000 },
  { name: "hit", contender: "hes-cpu", path: "/read", sessions: 1, requests: 3000 },
  { name: "peer read", contender: "hono-session-jwe", path: "/read", sessions: 1, requests: 3000 },
] as const;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

try {
  git("worktree", "add", "--detach", "--quiet", there, ref);
  // The ref's tree with this checkout's dependencies (a ref that needs others cannot be compared this way).
  symlinkSync(join(here, "node_modules"), join(there, "node_modules"));
  const short = git("rev-parse", "--short", ref);
  const builds = [await start(ref === short ? ref : `${ref} (${short})`, there), await start("this checkout", here)];
  const jars = new Map<string, string[]>();
  for (const build of builds) {
    for (const spec of SPECS) {
      const cookies =
        spec.contender === "bare"
          ? [""]
          : (
              await post<{ cookies: string[] }>(build, "/seed-many", {
                contender: spec.contender,
                size: "small",
                count: spec.sessions,
              })
            ).cookies;
      jars.set(`${build.label}/${spec.name}`, cookies);
    }
  }
  const cpu = new Map<string, number[]>();
  const timed = new Map<string, number[]>();
  for (let r = 0; r <= repeats; r++) {
    for (const build of r % 2 === 0 ? builds : [...builds].reverse()) {
      for (const spec of SPECS) {
        const key = `${build.label}/${spec.name}`;
        const cookies = jars.get(key)!;
        const before = cpuNs(build.pid);
        const answer = await post<{ requests: number; critMs: number; cookies: string[] }>(build, "/loop", {
          contender: spec.contender,
          path: spec.path,
          rounds: Math.round(spec.requests / cookies.length),
          cookies,
        });
        const used = (cpuNs(build.pid) - before) / 1000 / answer.requests;
        jars.set(key, answer.cookies);
        if (r === 0) continue; // the warm-up loop
        cpu.set(key, [...(cpu.get(key) ?? []), used]);
        timed.set(key, [...(timed.get(key) ?? []), (1000 * answer.critMs) / answer.requests]);
      }
    }
  }
  const added = (figures: Map<string, number[]>, build: Build, name: string, bare: string) =>
    median(figures.get(`${build.label}/${name}`)!) - median(figures.get(`${build.label}/${bare}`)!);
  console.log(
    `${repeats} loops each (600 changed requests, 3000 reads), the two builds taking turns; µs added over the bare route\n`,
  );
  const rows = [
    [
      "",
      "changed: CPU",
      "before the response",
      "peer's write: CPU",
      "hit: CPU",
      "before the response",
      "peer's read: CPU",
    ],
    ...builds.map((build) =>
      [
        build.label,
        added(cpu, build, "changed", "bare, changed"),
        added(timed, build, "changed", "bare, changed"),
        added(cpu, build, "peer changed", "bare, changed"),
        added(cpu, build, "hit", "bare, read"),
        added(timed, build, "hit", "bare, read"),
        added(cpu, build, "peer read", "bare, read"),
      ].map((cell) => (typeof cell === "number" ? `+${cell.toFixed(1)}` : cell)),
    ),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows)
    console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
  for (const build of builds) await build.mf.dispose();
  await oneIsolate(builds[0]!.label);
} finally {
  try {
    git("worktree", "remove", "--force", there);
  } catch {
    // never added
  }
  rmSync(scratch, { recursive: true, force: true });
}

/** Both builds in one worker (this checkout's bench worker, the ref's middleware as "ref-cpu"), taking turns. */
async function oneIsolate(refLabel: string): Promise<void> {
  mkdirSync(join(scratch, "both"), { recursive: true });
  const entry = join(scratch, "both", "entry.ts");
  writeFileSync(
    entry,
    [
      `import bench, { addReference } from ${JSON.stringify(join(here, "bench/worker.ts"))};`,
      `import { MemoryStore, session } from ${JSON.stringify(join(there, "src/index.ts"))};`,
      "addReference({ session, MemoryStore });",
      "export default bench;",
    ].join("\n"),
  );
  const script = await bundleWorker({ root: here, entry, outfile: join(scratch, "both", "worker.js") });
  const { mf, pid } = await startBenchWorker(script, {
    secret: "c".repeat(64),
    redis: { url: "http://127.0.0.1:9", token: "-" },
  });
  const both: Build = { label: "both", mf, pid };
  // The loops above without the peer, this checkout's contender beside the ref's.
  type Spec = { name: string; contender: string; path: string; sessions: number; requests: number };
  const specs = SPECS.flatMap((spec): Spec[] => {
    if (spec.contender === "bare") return [spec];
    if (spec.contender !== "hes-cpu") return [];
    return [
      { ...spec, name: `this, ${spec.name}` },
      { ...spec, name: `ref, ${spec.name}`, contender: "ref-cpu" },
    ];
  });
  const jars = new Map<string, string[]>();
  for (const spec of specs) {
    const seeded =
      spec.contender === "bare"
        ? { cookies: [""] }
        : await post<{ cookies: string[] }>(both, "/seed-many", {
            contender: spec.contender,
            size: "small",
            count: spec.sessions,
          });
    jars.set(spec.name, seeded.cookies);
  }
  const timed = new Map<string, number[]>();
  for (let r = 0; r <= repeats; r++) {
    for (const spec of r % 2 === 0 ? specs : [...specs].reverse()) {
      const cookies = jars.get(spec.name)!;
      const answer = await post<{ requests: number; critMs: number; cookies: string[] }>(both, "/loop", {
        contender: spec.contender,
        path: spec.path,
        rounds: Math.round(spec.requests / cookies.length),
        cookies,
      });
      jars.set(spec.name, answer.cookies);
      if (r > 0) timed.set(spec.name, [...(timed.get(spec.name) ?? []), (1000 * answer.critMs) / answer.requests]);
    }
  }
  await mf.dispose();
  // Loop by loop: each loop less the loop of the other it is compared with, then the median.
  const paired = (a: string, b: string) => {
    const others = timed.get(b)!;
    return median(timed.get(a)!.map((value, i) => value - others[i]!));
  };
  const signed = (value: number) => `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(1)}`;
  console.log(
    `\nOne isolate, both builds' middleware bundled together, taking turns (${repeats} loops): µs before the response`,
  );
  for (const [what, bare] of [
    ["changed", "bare, changed"],
    ["hit", "bare, read"],
  ] as const) {
    console.log(
      `${what.padEnd(8)} this checkout ${signed(paired(`this, ${what}`, bare))}, ${refLabel} ${signed(
        paired(`ref, ${what}`, bare),
      )} over the bare route; this checkout − ${refLabel}: ${signed(paired(`this, ${what}`, `ref, ${what}`))}`,
    );
  }
}
