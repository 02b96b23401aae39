/**
 * CPU profiles of loops running in workerd, taken through its inspector (Chrome DevTools protocol), for
 * `BENCH_QUICK=1 BENCH_PROFILE=1 npm run bench`: where the time of a memory-tier hit and of a changed request
 * goes. Needs a WebSocket client: Node 20 has one behind `--experimental-websocket` (set it in NODE_OPTIONS).
 */
import { writeFile } from "node:fs/promises";
import { DevToolsSession } from "../test/support/devtools-session.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** CPU profiles of the worker's isolate, through a DevTools session. */
export class Inspector {
  private constructor(readonly session: DevToolsSession) {}

  /** Connects to the first worker the inspector on `port` lists. */
  static async connect(port: number): Promise<Inspector> {
    const session = await DevToolsSession.connect(
      `127.0.0.1:${port}`,
      (targets) => targets.find((t) => !t.title.startsWith("core:")) ?? targets[0],
    );
    return new Inspector(session);
  }

  /** Profiles `run` (sampling every `intervalUs`), writes the profile to `file`, and answers a summary. */
  async profile(
    run: () => Promise<void>,
    file: string,
    requests: number,
    within?: string,
    intervalUs = 50,
  ): Promise<string> {
    await this.session.send("Profiler.enable");
    await this.session.send("Profiler.setSamplingInterval", { interval: intervalUs });
    await this.session.send("Profiler.start");
    await run();
    const { profile } = (await this.session.send("Profiler.stop")) as { profile: CpuProfile };
    await writeFile(file, JSON.stringify(profile));
    this.last = profile;
    return summarize(profile, requests, within);
  }

  /** The profile taken last. */
  last: CpuProfile | undefined;

  close(): void {
    this.session.close();
  }
}

const keyOf = (frame: CallFrame) =>
  `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop() ?? ""}:${frame.lineNumber + 1}`;

/**
 * Self and inclusive time per function, the largest first: in µs per request (`requests` in the profile).
 * With `within`, the inclusive times count only samples whose stack holds that function: the work done inside
 * it (for the session middleware: its critical path, including anything it starts and runs synchronously).
 */
export function summarize(profile: CpuProfile, requests: number, within?: string, top = 25): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const node = byId.get(id)!;
    if (node.callFrame.functionName === "(idle)") idle += delta;
    const key = keyOf(node.callFrame);
    self.set(key, (self.get(key) ?? 0) + delta);
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      stack.push(keyOf(byId.get(at)!.callFrame));
    if (within !== undefined && !stack.some((k) => k.startsWith(`${within} `))) return;
    for (const k of new Set(stack)) inclusive.set(k, (inclusive.get(k) ?? 0) + delta);
  });
  const perRequest = (v: number) => `${(v / requests).toFixed(1).padStart(7)} µs`;
  const list = (map: Map<string, number>) =>
    [...map]
      .filter(([k]) => k !== "(root) :0")
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => `  ${perRequest(v)}  ${k}`)
      .join("\n");
  return [
    `${(total / 1000).toFixed(0)} ms sampled (${perRequest(total - idle).trim()} per request busy, profiler overhead included)`,
    `self time, per request:\n${list(self)}`,
    `inclusive time${within === undefined ? "" : ` inside ${within}()`}, per request:\n${list(inclusive)}`,
  ].join("\n");
}

/** esbuild renames clashing functions (`seal2`): the source name. */
const sourceName = (frame: CallFrame) => frame.functionName.replace(/\d+$/, "");

/**
 * µs per request spent inside each of `names` (inclusive, source names), counting only samples whose stack
 * holds `within` (with `within` itself among the names: the total), or every sample without it; `null` for
 * a name no frame of the profile has (renamed or gone).
 */
export function breakdown(
  profile: CpuProfile,
  requests: number,
  within: string | undefined,
  names: string[],
): Record<string, number | null> {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const present = new Set(profile.nodes.map((node) => sourceName(node.callFrame)));
  const totals: Record<string, number> = Object.fromEntries(names.map((name) => [name, 0]));
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    const stack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      stack.add(sourceName(byId.get(at)!.callFrame));
    if (within !== undefined && !stack.has(within)) return;
    for (const name of names) if (stack.has(name)) totals[name]! += delta;
  });
  return Object.fromEntries(
    Object.entries(totals).map(([name, us]) => [name, present.has(name) ? us / requests : null]),
  );
}

/** µs per request the isolate was busy (every sample but idle ones: the runtime's own work and GC too), profiler overhead included. */
export function busyPerRequest(profile: CpuProfile, requests: number): number {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  let busy = 0;
  profile.samples.forEach((id, i) => {
    if (byId.get(id)!.callFrame.functionName !== "(idle)") busy += profile.timeDeltas[i] ?? 0;
  });
  return busy / requests;
}
