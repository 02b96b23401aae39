import { servedFrom, type Loaded, type RequestChange } from "../protocol/request.js";
import type { Claim } from "../protocol/types.js";
import type { RequestTrace } from "../trace.js";
import type { SessionData, SessionInfo } from "../types.js";
import { destroySession, regenerateSession } from "./end.js";
import type { Engine } from "./engine.js";
import { loadSession } from "./load.js";
import { commitChange, type SessionChange } from "./save.js";
import { listSessions, revokeAllSessions, revokeSession } from "./user-sessions.js";
import { updateSession } from "./write.js";

/** What a request's `c.var.session` asks of the engine; each call answers the session as the store now holds it. */
export interface SessionOperations {
  load(): Promise<Loaded>;
  commit(change: SessionChange): Promise<Loaded | undefined>;
  update(loaded: Loaded, fn: (data: SessionData) => SessionData | void): Promise<Loaded>;
  regenerate(loaded: Loaded, change: RequestChange): Promise<Loaded>;
  destroy(loaded: Loaded): Promise<void>;
  /** The id ended (destroyed, retired) in this isolate since the request loaded it. */
  endedMeanwhile(id: string): boolean;
  /** The store keeps user indexes. */
  readonly indexed: boolean;
  listSessions(user: string, currentId: string | undefined): Promise<SessionInfo[]>;
  revokeSession(user: string, handle: string): Promise<string | undefined>;
  /** Ends the user's sessions; `keep`: this session stays (tied anew). Answers the ids ended and the kept session. */
  revokeAll(user: string, keep: Loaded | undefined): Promise<{ ended: string[]; kept?: Loaded | undefined }>;
  now(): number;
}

/** The engine's operations for one request; `claim` reads its cookies (undefined: none), on first use only. */
export function operationsFor(
  engine: Engine,
  claim: () => Claim | undefined | Promise<Claim | undefined>,
  trace: RequestTrace,
): SessionOperations {
  const idle = engine.policy.idleTimeoutMs;
  const asLoaded = (loaded: Loaded, held: NonNullable<Loaded["held"]>): Loaded => ({
    ...servedFrom(
      held,
      loaded.claim ?? { id: loaded.id, version: 0, tag: "", at: 0, resign: false },
      engine.runtime.now(),
      idle,
    ),
    id: loaded.id,
    claim: loaded.claim,
  });
  return {
    load: async () => loadSession(await claim(), engine, trace),
    commit: (change) => commitChange(change, engine, trace),
    update: async (loaded, fn) => asLoaded(loaded, await updateSession(loaded, fn, engine, trace)),
    regenerate: (loaded, change) => regenerateSession(loaded, change, engine, trace),
    destroy: (loaded) => destroySession(loaded, engine, trace),
    endedMeanwhile: (id) => engine.memory.peek(id)?.kind === "ended",
    indexed: engine.store.indexed,
    listSessions: (user, currentId) => listSessions(user, currentId, engine, trace),
    revokeSession: (user, handle) => revokeSession(user, handle, engine, trace),
    revokeAll: async (user, keep) => {
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
      const { ended } = await revokeAllSessions(
        user,
        engine,
        trace,
        keep === undefined ? undefined : { id: keep.id, since: keep.view.since, restamp },
      );
      return { ended, kept };
    },
    now: () => engine.runtime.now(),
  };
}
