import type { RequestTrace } from "../../trace.js";
import type { SessionData, SessionEvent } from "../../types.js";
import { overwrittenKeys } from "../merge.js";
import type { StoreTier } from "../store-tier.js";
import { applyChange, type Marker, type SessionWriter, type WriteOutcome, type WritePlan } from "./session-writer.js";

/**
 * Conflicts after which a write gives up. Each conflict means another request's write landed in between,
 * so N writers racing for one session need at most N attempts; 32 covers a burst of parallel requests.
 */
const MAX_ATTEMPTS = 32;

/** Random back-off after a conflict, growing per attempt (up to 100 ms), so racing writers spread out. */
function backOff(attempt: number): Promise<void> {
  const ceiling = Math.min(100, 4 * 2 ** (attempt - 1));
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

/**
 * Writes only over the version the change was made against. On a conflict it opens what the store holds:
 * a tombstone or a retired id drops the write (destroy and regenerate are final), newer data gets the
 * change applied onto it and written again. A retried call that finds its own write in place has landed,
 * so `update(fn)` runs `fn` once per landed write.
 */
export class CompareAndSetWriter implements SessionWriter {
  readonly merges = true;

  constructor(
    readonly tier: StoreTier,
    readonly ttl: { dataMinutes: number; markerMinutes: number },
    readonly onEvent: (event: SessionEvent) => void,
  ) {}

  async write(plan: WritePlan, trace: RequestTrace): Promise<WriteOutcome> {
    const own = JSON.parse(plan.base.json) as SessionData;
    let current = own;
    let currentJson = plan.base.json;
    let at = { version: plan.base.version, tag: plan.base.tag, createdAt: plan.createdAt };
    let floor = plan.floor;
    let overwrites = 0;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const json = JSON.stringify(applyChange(plan, current));
      if (attempt > 1 && plan.change.kind === "patch" && json === currentJson) {
        // The store already holds everything this change sets: nothing to write.
        return { kind: "written", landed: { ...at, json, writtenAt: Date.now() }, attempts: attempt };
      }
      const version = Math.max(at.version, floor) + 1;
      const writtenAt = Date.now();
      const createdAt = at.createdAt;
      const conflict = await this.tier.compareAndSet(
        plan.id,
        at.version,
        version,
        { kind: "data", json, tag: plan.tag, createdAt, writtenAt },
        this.ttl.dataMinutes,
        trace,
      );
      if (conflict === null) {
        if (overwrites > 0) this.onEvent({ type: "write-overwrite", keys: overwrites });
        return { kind: "written", landed: { version, tag: plan.tag, json, createdAt, writtenAt }, attempts: attempt };
      }
      this.onEvent({ type: "write-conflict", attempt });
      switch (conflict.kind) {
        case "tombstone":
          return { kind: "dropped", reason: "destroyed" };
        case "retired":
          return { kind: "dropped", reason: "regenerated" };
        case "tampered":
          return { kind: "dropped", reason: "tampered" };
        case "nothing":
          if (Date.now() >= plan.restoreUntil) return { kind: "dropped", reason: "expired" };
          // The store lost a session this isolate knows to be live (a flushed Redis): write it again.
          at = { version: 0, tag: "", createdAt: at.createdAt };
          break;
        case "data":
          current = JSON.parse(conflict.json) as SessionData;
          currentJson = conflict.json;
          at = { version: conflict.version, tag: conflict.tag, createdAt: conflict.createdAt };
          if (plan.change.kind === "patch") overwrites = overwrittenKeys(plan.change.patch, own, current);
          break;
      }
      floor = Math.max(floor, version);
      if (attempt > 1) await backOff(attempt);
    }
    return { kind: "dropped", reason: "conflicts" };
  }

  async end(id: string, knownVersion: number, marker: Marker, trace: RequestTrace): Promise<void> {
    let expected = knownVersion;
    let version = expected + 1;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const conflict = await this.tier.compareAndSet(id, expected, version, marker, this.ttl.markerMinutes, trace);
      if (conflict === null || conflict.kind === "tombstone") return;
      if (marker.kind === "retired" && conflict.kind === "retired") return;
      expected = conflict.version;
      version = Math.max(version, conflict.version) + 1;
    }
    throw new Error("gave up ending a session: conflicts did not stop");
  }
}
