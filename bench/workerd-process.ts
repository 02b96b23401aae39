import { readdirSync, readFileSync } from "node:fs";

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
