import type { RequestTrace } from "../../trace.js";
import type { SessionData } from "../../types.js";
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
 * For stores without compare-and-set (the application router's interface as it is): each change is
 * written as it was made, and the last writer wins; ending an id removes it.
 */
export class LastWriterWinsWriter implements SessionWriter {
  readonly merges = false;

  constructor(
    readonly tier: StoreTier,
    readonly dataMinutes: number,
    readonly maxBytes: number,
  ) {}

  async write(plan: WritePlan, trace: RequestTrace): Promise<WriteOutcome> {
    const json = changedJson(plan, JSON.parse(plan.base.json) as SessionData, this.maxBytes);
    const version = Math.max(plan.base.version, plan.floor) + 1;
    const writtenAt = Date.now();
    const { tag, createdAt, user } = plan;
    await this.tier.put(
      plan.id,
      version,
      { kind: "data", json, tag, createdAt, writtenAt, user },
      this.dataMinutes,
      trace,
    );
    // Written under the current secret's key: the copy under a previous secret's key goes.
    if (plan.at !== 0) await this.tier.remove(plan.id, trace, plan.at);
    return { kind: "written", landed: { version, tag, json, createdAt, writtenAt, user }, attempts: 1 };
  }

  /** Removes the key; without compare-and-set it cannot tell what stood there, so it says live data. */
  async end(id: string, _knownVersion: number, _marker: Marker, trace: RequestTrace, at = 0): Promise<Ended> {
    await this.tier.remove(id, trace, at);
    return "data";
  }
}
