import { readdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { Miniflare } from "miniflare";
import { COMPATIBILITY_DATE } from "../test/support/node.js";

/*
 * The workerd processes behind Miniflare instances, read from Linux's /proc: which ones this process
 * started, and the CPU time each has used (every thread: the isolate's JavaScript and the runtime's work).
 */

/** The workerd processes this process started (Miniflare spawns one per instance), on Linux; else none. */
export function workerdChildren(): Set<number> {
  const pids = new Set<number>();
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return pids;
  }
  for (const name of entries) {
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const [comm, rest] = [
        stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
        stat.slice(stat.lastIndexOf(")") + 2),
      ];
      if (comm === "workerd" && Number(rest.split(" ")[1]) === process.pid) pids.add(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU time a process has used so far, all its threads, in ns (Linux schedstat: time on a CPU). */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
  }
  return total;
}

/**
 * The benchmark worker (`script`, bundled) in a Miniflare instance of its own, so a workerd process of its own:
 * its own memory tiers, and a CPU time that is its own. `options` becomes its `BENCH_OPTIONS` binding; `url`
 * is where it listens (for load from outside).
 */
export async function startBenchWorker(
  script: string,
  options: { secret: string; redis: { url: string; token: string } },
  inspectorPort?: number,
): Promise<{ mf: Miniflare; url: string; pid: number }> {
  const before = workerdChildren();
  const mf = new Miniflare({
    ...(inspectorPort !== undefined ? { inspectorPort } : {}),
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: ["nodejs_compat"],
    bindings: { BENCH_OPTIONS: JSON.stringify(options) },
    port: 0,
    host: "127.0.0.1",
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const pid = [...workerdChildren()].find((p) => !before.has(p));
  if (pid === undefined) throw new Error("cannot find the workerd process (Linux /proc needed)");
  return { mf, url, pid };
}
