import type { RequestTrace } from "../../trace.js";
import type { SessionData } from "../../types.js";
import type { StoreTier } from "../store-tier.js";
import { applyChange, type SessionWriter, type WriteOutcome, type WritePlan } from "./session-writer.js";

/**
 * For stores without compare-and-set (the application router's interface as it is): each change is
 * written as it was made, and the last writer wins; ending an id removes it.
 */
export class LastWriterWinsWriter implements SessionWriter {
  readonly merges = false;

  constructor(
    readonly tier: StoreTier,
    readonly dataMinutes: number,
  ) {}

  async write(plan: WritePlan, trace: RequestTrace): Promise<WriteOutcome> {
    const json = JSON.stringify(applyChange(plan, JSON.parse(plan.base.json) as SessionData));
    const version = Math.max(plan.base.version, plan.floor) + 1;
    const writtenAt = Date.now();
    const envelope = { kind: "data", json, tag: plan.tag, createdAt: plan.createdAt, writtenAt } as const;
    await this.tier.put(plan.id, version, envelope, this.dataMinutes, trace);
    return {
      kind: "written",
      landed: { version, tag: plan.tag, json, createdAt: plan.createdAt, writtenAt },
      attempts: 1,
    };
  }

  async end(id: string, _knownVersion: number, _marker: unknown, trace: RequestTrace): Promise<void> {
    await this.tier.remove(id, trace);
  }
}
