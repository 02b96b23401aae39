import { newWriteTag } from "../../sealing/session-id.js";
import type { RequestTrace } from "../../trace.js";
import type { SessionData, SessionEvent } from "../../types.js";
import { landedBeneath, landedIn } from "../memory-tier.js";
import { apply, diff, overwrittenKeys } from "../merge.js";
import type { StoreTier } from "../store-tier.js";
import {
  changedJson,
  type Ended,
  type Marker,
  type SessionWriter,
  type WriteOutcome,
  type WritePlan,
} from "./session-writer.js";

/**
 * Conflicts after which a write gives up. Each conflict means another request's write landed in between,
 * so N writers racing for one session need at most N attempts; 32 covers a burst of parallel requests.
 */
const MAX_ATTEMPTS = 32;

/**
 * How many earlier writes' tags each version carries. A write whose answer was lost (the client retries it)
 * finds its own tag there when others wrote on top of it before the retry: enough for a burst of writes
 * within the client's retry delay.
 */
const PRIOR_TAGS = 8;

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
        // Nothing expected at the new key; the history of write tags goes along.
        base: { version: 0, tag: plan.base.tag, prior: plan.base.prior, json: plan.base.json, user: plan.base.user },
        floor: Math.max(plan.floor, plan.base.version),
      },
      trace,
      plan.at, // its index entry is in the index of the secret it moves away from
    );
    // Landed elsewhere (it followed a "moved" marker to where the session is): written in place, not moved.
    if (moved.kind === "written" && (moved.at ?? 0) === 0) return await this.#markMoved(plan, moved, trace);
    return moved;
  }

  /** `indexAt`: the secret whose index holds the session's entry (where it lived before a move). */
  async #write(plan: WritePlan, trace: RequestTrace, indexAt = plan.at): Promise<WriteOutcome> {
    let own = JSON.parse(plan.base.json) as SessionData;
    let current = own;
    // What the store holds, as far as this write knows: the version it expects, and whose index entry it has.
    let at = {
      version: plan.base.version,
      tag: plan.base.tag,
      prior: plan.base.prior ?? [],
      createdAt: plan.createdAt,
      user: plan.base.user,
    };
    let floor = plan.floor;
    /** The secret whose store key this writes under: the current one, unless the session is found elsewhere. */
    let target = 0;

    let overwrites = 0;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      // Always a new version above the floor, with this write's tag, even when the store already holds
      // these values: the browser's cookie names this write, and must find it landed.
      const json = changedJson(plan, current, this.maxBytes);
      const version = Math.max(at.version, floor) + 1;
      const writtenAt = Date.now();
      const { createdAt } = at;
      const prior = [at.tag, ...at.prior].filter((tag) => tag !== "").slice(0, PRIOR_TAGS);
      const conflict = await this.tier.compareAndSet(
        plan.id,
        at.version,
        version,
        { kind: "data", json, tag: plan.tag, prior, createdAt, writtenAt, user: plan.user },
        this.ttl.dataMinutes,
        trace,
        target,
        at.user,
        indexAt,
      );
      if (conflict === null) {
        if (overwrites > 0) this.onEvent({ type: "write-overwrite", keys: overwrites });
        const landed = { version, tag: plan.tag, json, createdAt, writtenAt, user: plan.user, prior };
        return { kind: "written", landed, attempts: attempt, at: target };
      }
      let found = conflict;
      if (found.kind === "moved") {
        // An isolate with another current secret moved the session (a rotation still rolling out): write
        // where it now is, instead of moving it back and forth.
        found = await this.tier.findMoved(plan.id, found.at, trace);
        target = found.at;
        indexAt = found.at;
      }
      if (found.kind === "data" && landedIn(found, plan.tag)) {
        // This change landed already and what the store holds was written on top of it: an attempt whose
        // answer was lost, retried by the client after another isolate wrote. Applying it again would put
        // its keys back over that write (and run update(fn) twice).
        const { version, tag, json, createdAt, user, prior } = found;
        const writtenAt = found.expiresAt - this.ttl.dataMinutes * 60_000;
        const landed = { version, tag, json, createdAt, user, prior, writtenAt };
        return { kind: "written", landed, attempts: attempt, at: target };
      }
      this.onEvent({ type: "write-conflict", attempt });
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
          at = { ...at, version: 0, tag: "", prior: [] };
          break;
        case "data": {
          const under = landedBeneath(plan, found);
          if (under !== undefined && plan.change.kind === "patch") {
            // A change beneath this one landed after all (its write failed after the store applied it): only
            // what this one changed on top of it is its own now, or that change's keys go over newer writes.
            const intended = apply(plan.change.patch, own);
            own = JSON.parse(under.json) as SessionData;
            plan = { ...plan, change: { kind: "patch", patch: diff(own, intended) }, beneath: undefined };
          }
          current = JSON.parse(found.json) as SessionData;
          at = {
            version: found.version,
            tag: found.tag,
            prior: found.prior,
            createdAt: found.createdAt,
            user: found.user,
          };
          if (plan.change.kind === "patch") overwrites = overwrittenKeys(plan.change.patch, own, current);
          break;
        }
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
          // A change of its own: the tag of the move is in the history of what stands at the new key.
          tag: newWriteTag(),
          at: 0,
          // The write carried over goes into the history too: a retry of it that follows the marker finds it.
          base: {
            version: landed.version,
            tag: landed.tag,
            json: landed.json,
            prior: [conflict.tag, ...(landed.prior ?? [])],
          },
          beneath: undefined,
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
  ): Promise<Ended> {
    let expected = knownVersion;
    let version = expected + 1;
    // What the marker replaces: the version this isolate knew (live data, or nothing yet), until a conflict says.
    let replaced: Ended = knownVersion > 0 ? "data" : "nothing";
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
        at,
      );
      if (conflict === null) return replaced;
      if (conflict.kind === "tombstone") return "tombstone";
      if (marker.kind === "retired" && conflict.kind === "retired") return "retired";
      if (conflict.kind === "moved") {
        // Moved to another secret's key after this isolate last looked: end it where it is.
        const found = await this.tier.findMoved(id, conflict.at, trace);
        return await this.end(id, found.version, marker, trace, found.at, found.kind === "data" ? found.user : user);
      }
      replaced = conflict.kind === "tampered" ? "nothing" : conflict.kind;
      if (conflict.kind === "data") user = conflict.user;
      expected = conflict.version;
      version = Math.max(version, conflict.version) + 1;
    }
    throw new Error("gave up ending a session: conflicts did not stop");
  }
}
