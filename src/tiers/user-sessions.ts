import type { RequestTrace } from "../trace.js";
import type { SessionInfo } from "../types.js";
import { tombstone, type LandDeps } from "./land.js";
import type { StoreTier } from "./store-tier.js";

/** What "your sessions" and "log out everywhere" need. */
export interface UserSessionsDeps extends LandDeps {
  tier: StoreTier;
}

/** A user's live sessions, newest first; `currentId` marks the one the request holds. */
export async function listSessions(
  user: string,
  currentId: string | undefined,
  deps: UserSessionsDeps,
  trace: RequestTrace,
): Promise<SessionInfo[]> {
  const sessions = await deps.tier.listUser(user, trace);
  return sessions
    .map(({ handle, id, createdAt, expiresAt }) => ({
      handle,
      createdAt,
      lastSeenAt: expiresAt - deps.timeoutMinutes * 60_000,
      expiresAt,
      current: id === currentId,
    }))
    .sort((a, b) => b.lastSeenAt - a.lastSeenAt);
}

/**
 * Ends the user's sessions that `which` picks (one by handle, or all but `keep`) with a tombstone each,
 * which also takes it out of the index; this isolate forgets them at once, the others within the staleness
 * bound. Answers the ids it ended.
 */
export async function revokeSessions(
  user: string,
  which: { handle?: string; keep?: string },
  deps: UserSessionsDeps,
  trace: RequestTrace,
): Promise<string[]> {
  const sessions = await deps.tier.listUser(user, trace);
  const targets = sessions.filter(
    ({ id, handle }) => (which.handle === undefined || handle === which.handle) && id !== which.keep,
  );
  await Promise.all(
    targets.map(async ({ id, createdAt }) => {
      // Ended where it lives: under the current secret's key, or a previous one's if not written since a rotation.
      const found = await deps.tier.find(id, trace);
      await tombstone({ id, knownVersion: found.version, at: found.at, user }, createdAt, deps, trace);
    }),
  );
  return targets.map(({ id }) => id);
}
