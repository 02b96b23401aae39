import { servedAfterWrite, type Loaded, type RequestChange } from "../protocol/request.js";
import type { Claim } from "../protocol/types.js";
import type { RequestTrace } from "../trace.js";
import type { SessionData, SessionInfo } from "../types.js";
import { destroySession, regenerateSession, type UnsavedRegeneration } from "./end.js";
import type { Engine } from "./engine.js";
import { loadSession, servedAtOnce } from "./load.js";
import { commitChange, type SessionChange } from "./save.js";
import { listSessions, revokeAllSessions, revokeSession, type Acting } from "./user-sessions.js";
import { updateSession } from "./write.js";

/** What a request's `c.var.session` asks of the engine; each call answers the session as the store now holds it. */
export interface SessionOperations {
  /** The session the request starts from: at once on a memory-tier hit, else once the engine has decided. */
  load(): Loaded | Promise<Loaded>;
  commit(change: SessionChange): Promise<Loaded | undefined>;
  update(loaded: Loaded, fn: (data: SessionData) => SessionData | void): Promise<Loaded>;
  regenerate(loaded: Loaded, change: RequestChange): Promise<Loaded | UnsavedRegeneration>;
  destroy(loaded: Loaded): Promise<void>;
  /** The id ended (destroyed, retired) in this isolate since the request loaded it. */
  endedMeanwhile(id: string): boolean;
  /** The store keeps user indexes. */
  readonly indexed: boolean;
  /** `acting`: the tie of the session the request acts from, when it acts for its own user. */
  listSessions(user: string, currentId: string | undefined, acting?: Acting): Promise<SessionInfo[]>;
  revokeSession(user: string, handle: string, acting?: Acting): Promise<string | undefined>;
  /** Ends the user's sessions; `keep`: this session stays (tied anew). Answers the ids ended and the kept session. */
  revokeAll(
    user: string,
    keep: Loaded | undefined,
    acting?: Acting,
  ): Promise<{ ended: string[]; kept?: Loaded | undefined }>;
  now(): number;
  /**
   * When a new tie to `user` is made: now, or the user's latest cut-off this isolate knows if that is later.
   * workerd's clock moves only with I/O, so a sign-in right after a sign-out everywhere (in the same request)
   * can read a time under its cut-off, which reaches a millisecond past its call; a tie made after it must stand.
   */
  tieSince(user: string): number;
  /** A new session id (for the new, empty session that takes a destroyed one's place). */
  newId(): string;
}

/** The engine's operations for one request; `claim` reads its cookies (undefined: none), on first use only. */
export function operationsFor(
  engine: Engine,
  claim: () => Claim | undefined | Promise<Claim | undefined>,
  trace: RequestTrace,
): SessionOperations {
  return new RequestOperations(engine, claim, trace);
}

/** One object per request, its methods on the prototype: a request that only reads allocates no closures. */
class RequestOperations implements SessionOperations {
  readonly indexed: boolean;

  constructor(
    readonly engine: Engine,
    readonly claim: () => Claim | undefined | Promise<Claim | undefined>,
    readonly trace: RequestTrace,
  ) {
    this.indexed = engine.store.indexed;
  }

  load(): Loaded | Promise<Loaded> {
    // Cookies this isolate verified before are read at once, and a memory-tier hit is served at once: the
    // common request awaits nothing at all.
    let claim: ReturnType<typeof this.claim>;
    let served: Loaded | undefined;
    try {
      claim = this.claim();
      if (claim !== undefined && !(claim instanceof Promise)) served = servedAtOnce(claim, this.engine, this.trace);
    } catch (error) {
      // As from loadSession: a rejection, which the request's session keeps answering with.
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (claim instanceof Promise) return claim.then((known) => loadSession(known, this.engine, this.trace));
    return served ?? loadSession(claim, this.engine, this.trace);
  }

  commit(change: SessionChange): Promise<Loaded | undefined> {
    return commitChange(change, this.engine, this.trace);
  }

  async update(loaded: Loaded, fn: (data: SessionData) => SessionData | void): Promise<Loaded> {
    const held = await updateSession(loaded, fn, this.engine, this.trace);
    return servedAfterWrite(loaded, held, this.engine.runtime.now(), this.engine.policy.idleTimeoutMs);
  }

  regenerate(loaded: Loaded, change: RequestChange): Promise<Loaded | UnsavedRegeneration> {
    return regenerateSession(loaded, change, this.engine, this.trace);
  }

  destroy(loaded: Loaded): Promise<void> {
    return destroySession(loaded, this.engine, this.trace);
  }

  endedMeanwhile(id: string): boolean {
    return this.engine.memory.peek(id)?.kind === "ended";
  }

  listSessions(user: string, currentId: string | undefined, acting?: Acting): Promise<SessionInfo[]> {
    return listSessions(user, currentId, this.engine, this.trace, acting);
  }

  revokeSession(user: string, handle: string, acting?: Acting): Promise<string | undefined> {
    return revokeSession(user, handle, this.engine, this.trace, acting);
  }

  async revokeAll(
    user: string,
    keep: Loaded | undefined,
    acting?: Acting,
  ): Promise<{ ended: string[]; kept?: Loaded | undefined }> {
    const { engine, trace } = this;
    let kept: Loaded | undefined;
    const restamp = async (since: number) => {
      const change: SessionChange = {
        kind: "changed",
        loaded: keep!,
        change: { patch: { set: {}, deleted: [] }, tie: { user, since } },
        newId: false,
      };
      kept = await commitChange(change, engine, trace);
    };
    // Revoked by another sign-out while being tied anew: ended after all.
    const end = async () => {
      const restamped = kept ?? keep!;
      kept = undefined;
      await destroySession(restamped, engine, trace);
    };
    const { ended } = await revokeAllSessions(
      user,
      engine,
      trace,
      keep === undefined ? undefined : { id: keep.id, since: keep.view.since, restamp, end },
      acting,
    );
    return { ended, kept };
  }

  now(): number {
    return this.engine.runtime.now();
  }

  tieSince(user: string): number {
    const now = this.engine.runtime.now();
    return Math.max(now, this.engine.cutoffs.fresh(user, now, Number.POSITIVE_INFINITY)?.revokedBefore ?? 0);
  }

  newId(): string {
    return this.engine.runtime.newId();
  }
}
