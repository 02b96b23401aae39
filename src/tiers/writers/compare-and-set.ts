import type { RequestTrace } from "../../trace.js";
import type { SessionData, SessionEvent } from "../../types.js";
import { diff, overwrittenKeys } from "../merge.js";
import type { StoreTier } from "../store-tier.js";
import { changedJson, type Marker, type SessionWriter, type WriteOutcome, type WritePlan } from "./session-writer.js";

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
    readonly maxBytes: number,
  ) {}

  async write(plan: WritePlan, trace: RequestTrace): Promise<WriteOutcome> {
    if (plan.at === 0) return await this.#write(plan, trace);
    // A session not written since a secret rotation lives under a previous secret's store key: the change
    // lands under the current secret's key (where nothing stands yet, unless another isolate moved it first),
    // then the old key is marked "moved", so it is never left as a second copy.
    const moved = await this.#write(
      {
        ...plan,
        at: 0,
        base: { version: 0, tag: "", json: plan.base.json },
        floor: Math.max(plan.floor, plan.base.version),
      },
      trace,
    );
    // Landed elsewhere (it followed a "moved" marker to where the session is): written in place, not moved.
    if (moved.kind === "written" && (moved.at ?? 0) === 0) return await this.#markMoved(plan, moved, trace);
    return moved;
  }

  async #write(plan: WritePlan, trace: RequestTrace): Promise<WriteOutcome> {
    const own = JSON.parse(plan.base.json) as SessionData;
    let current = own;
    let currentJson = plan.base.json;
    // What the store holds, as far as this write knows: the version it expects, and whose index entry it has.
    let at = { version: plan.base.version, tag: plan.base.tag, createdAt: plan.createdAt, user: plan.base.user };
    let floor = plan.floor;
    /** The secret whose store key this writes under: the current one, unless the session is found elsewhere. */
    let target = 0;
    let overwrites = 0;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const json = changedJson(plan, current, this.maxBytes);
      if (attempt > 1 && plan.change.kind === "patch" && json === currentJson && at.user === plan.user) {
        // The store already holds everything this change sets: nothing to write.
        return { kind: "written", landed: { ...at, json, writtenAt: Date.now() }, attempts: attempt };
      }
      const version = Math.max(at.version, floor) + 1;
      const writtenAt = Date.now();
      const { createdAt } = at;
      const conflict = await this.tier.compareAndSet(
        plan.id,
        at.version,
        version,
        { kind: "data", json, tag: plan.tag, createdAt, writtenAt, user: plan.user },
        this.ttl.dataMinutes,
        trace,
        target,
        at.user,
      );
      if (conflict === null) {
        if (overwrites > 0) this.onEvent({ type: "write-overwrite", keys: overwrites });
        const landed = { version, tag: plan.tag, json, createdAt, writtenAt, user: plan.user };
        return { kind: "written", landed, attempts: attempt, at: target };
      }
      this.onEvent({ type: "write-conflict", attempt });
      let found = conflict;
      if (found.kind === "moved") {
        // An isolate with another current secret moved the session (a rotation still rolling out): write
        // where it now is, instead of moving it back and forth.
        found = await this.tier.findMoved(plan.id, found.at, trace);
        target = found.at;
      }
      switch (found.kind) {
        case "tombstone":
          return { kind: "dropped", reason: "destroyed" };
        case "retired":
          return { kind: "dropped", reason: "regenerated" };
        case "tampered":
        case "moved":
          return { kind: "dropped", reason: "tampered" };
        case "nothing":
          if (Date.now() >= plan.restoreUntil) return { kind: "dropped", reason: "expired" };
          // The store lost a session this isolate knows to be live (a flushed Redis): write it again.
          at = { ...at, version: 0, tag: "" };
          break;
        case "data":
          current = JSON.parse(found.json) as SessionData;
          currentJson = found.json;
          at = { version: found.version, tag: found.tag, createdAt: found.createdAt, user: found.user };
          if (plan.change.kind === "patch") overwrites = overwrittenKeys(plan.change.patch, own, current);
          break;
      }
      floor = Math.max(floor, version, found.version);
      if (attempt > 1) await backOff(attempt);
    }
    return { kind: "dropped", reason: "conflicts" };
  }

  /**
   * Marks the old key "moved". An isolate that did not know of the move may have written there since: its
   * change is carried over to the new key first, so nothing written under the old key is lost.
   */
  async #markMoved(plan: WritePlan, moved: Extract<WriteOutcome, { kind: "written" }>, trace: RequestTrace) {
    let landed = moved.landed;
    let expected = plan.base.version;
    let seen = plan.base.json;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const marker = { kind: "moved", createdAt: plan.createdAt, writtenAt: Date.now() } as const;
      const conflict = await this.tier.compareAndSet(
        plan.id,
        expected,
        expected + 1,
        marker,
        this.ttl.markerMinutes,
        trace,
        plan.at,
      );
      if (conflict === null || conflict.kind !== "data") return { ...moved, landed };
      const carried = await this.#write(
        {
          ...plan,
          at: 0,
          base: { version: landed.version, tag: landed.tag, json: landed.json },
          change: {
            kind: "patch",
            patch: diff(JSON.parse(seen) as SessionData, JSON.parse(conflict.json) as SessionData),
          },
          floor: Math.max(landed.version, conflict.version),
        },
        trace,
      );
      if (carried.kind !== "written") return carried;
      landed = carried.landed;
      expected = conflict.version;
      seen = conflict.json;
    }
    return { ...moved, landed };
  }

  async end(
    id: string,
    knownVersion: number,
    marker: Marker,
    trace: RequestTrace,
    at = 0,
    user?: string,
  ): Promise<void> {
    let expected = knownVersion;
    let version = expected + 1;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // The marker takes the session's entry out of its user's index, in the same step.
      const conflict = await this.tier.compareAndSet(
        id,
        expected,
        version,
        marker,
        this.ttl.markerMinutes,
        trace,
        at,
        user,
      );
      if (conflict === null || conflict.kind === "tombstone") return;
      if (marker.kind === "retired" && conflict.kind === "retired") return;
      if (conflict.kind === "moved") {
        // Moved to the current secret's key after this isolate last looked: end it there.
        return await this.end(id, 0, marker, trace, 0, user);
      }
      if (conflict.kind === "data") user = conflict.user;
      expected = conflict.version;
      version = Math.max(version, conflict.version) + 1;
    }
    throw new Error("gave up ending a session: conflicts did not stop");
  }
}
