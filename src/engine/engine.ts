import { BoundedMap } from "../bounded-map.js";
import type { Cutoff } from "../protocol/load.js";
import type { Policy } from "../protocol/types.js";
import type { MemoryTier } from "../tiers/memory-tier.js";
import type { Reporting } from "../types.js";
import type { Runtime, StorePort } from "./ports.js";

/** Everything one isolate's session engine keeps and uses: plain values and the ports, no request's I/O. */
export interface Engine {
  runtime: Runtime;
  store: StorePort;
  memory: MemoryTier;
  /** The sessions this isolate is writing now (the write queue, see write.ts), by id: when the run last moved. */
  writing: Map<string, number>;
  /** Users' revocation cut-offs as this isolate last read them. */
  cutoffs: CutoffCache;
  /**
   * The last failed read of each session (bounded: `BoundedMap`): the requests that waited for that read take
   * its failure, instead of each then waiting a whole store timeout of its own, one after another.
   */
  readFailures: { get(id: string): ReadFailure | undefined; set(id: string, failure: ReadFailure): unknown };
  policy: Policy;
  report: Reporting;
  /** Write before the response instead of after it. */
  awaitWrites: boolean;
  /** A miss while the store is down: 503, or a new session. */
  onStoreUnavailable: "reject" | "new-session";
  /** The most sessions one user keeps; a login past it ends the user's oldest. */
  maxSessionsPerUser: number;
}

/** A read of the store that failed: when, and why. */
export interface ReadFailure {
  at: number;
  error: unknown;
}

/** Users' cut-offs, as last read, for as many users as it may hold (least recently read go first). */
export class CutoffCache {
  readonly #byUser = new BoundedMap<string, Cutoff>(10_000);

  /** The user's cut-off if it was read within `withinMs` of `now`. */
  fresh(user: string | undefined, now: number, withinMs: number): Cutoff | undefined {
    if (user === undefined) return undefined;
    const cutoff = this.#byUser.get(user);
    return cutoff !== undefined && now - cutoff.confirmedAt < withinMs ? cutoff : undefined;
  }

  remember(user: string, cutoff: Cutoff): void {
    const known = this.#byUser.get(user);
    // A cut-off only rises; a read that started before another one answered must not lower it.
    const merged =
      known === undefined
        ? cutoff
        : {
            revokedBefore: Math.max(known.revokedBefore, cutoff.revokedBefore),
            confirmedAt: Math.max(known.confirmedAt, cutoff.confirmedAt),
          };
    this.#byUser.set(user, merged);
  }
}
