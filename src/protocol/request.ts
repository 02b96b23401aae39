import { highestVersion, isSaved, mayStillLand, shows, viewOf, viewTags } from "./held.js";
import { clearsCookies, type Ending } from "./load.js";
import type { Claim, Held, LiveHeld, Patch, Policy, Tie, View } from "./types.js";

/*
 * One request's session: what it was served, how its change joins this isolate's copy, and which cookies
 * its response sets. Pure.
 */

/** What a version cookie names: a write of the session (version 0: none). */
export interface Mark {
  version: number;
  tag: string;
  /** When the write was made (ms). */
  at: number;
}

/** The session a request starts from. */
export interface Loaded {
  id: string;
  /** No session stands behind this id yet: new, or the one the cookie named ended. */
  isNew: boolean;
  /** A retired id: its data is not served, nothing it writes is kept, and no cookie is sent. */
  readOnly: boolean;
  view: View;
  /** The copy it was served from (a new session: none). */
  held: LiveHeld | undefined;
  claim: Claim | undefined;
  /** The session the cookie named ended: the cookies are cleared unless the request writes a new one. */
  ending: Ending | undefined;
  /** The write the response's version cookie names when the request changes nothing. */
  served: Mark | undefined;
  /** The store could not meet the claim in time and `onStaleRead` is "reject": the request is refused. */
  refused?: boolean | undefined;
  /** The claimed write was taken as lost (or the store went back): served what there is, reported. */
  settled?: boolean | undefined;
  /** The store could not be read: served this isolate's copy as it is, or a new session. */
  degraded?: boolean | undefined;
  /** The cookie's session was found revoked at this stored version: it is ended for good after the response. */
  revokedAt?: number | undefined;
}

const EMPTY_TIE: Tie = { user: undefined, since: 0 };

/** A new, empty session under `id` (not stored until something is written). */
export function freshSession(id: string, now: number, claim: Claim | undefined, ending?: Ending): Loaded {
  return {
    id,
    isNew: true,
    readOnly: ending === "retired",
    view: { json: "{}", ...EMPTY_TIE, createdAt: now, tags: [] },
    held: undefined,
    claim,
    ending,
    served: undefined,
  };
}

/**
 * The session served from this isolate's copy. `settled`: the claimed write is not in it and was given up
 * as lost (settled after a wait, or made too long ago to land now); a copy served without the claimed write
 * for any other reason is not settled.
 */
export function servedFrom(held: LiveHeld, claim: Claim, now: number, idleTimeoutMs: number): Loaded {
  const givenUp = held.settled.includes(claim.tag) || !mayStillLand(claim, now, idleTimeoutMs);
  const settled = !shows(held, claim) && givenUp;
  return {
    id: claim.id,
    isNew: false,
    readOnly: false,
    view: held.view,
    held,
    claim,
    ending: undefined,
    served: markOf(held, idleTimeoutMs),
    settled,
  };
}

/** The claim of an id alone, naming no write (no version cookie, or one of another id). */
export function bareClaim(id: string): Claim {
  return { id, version: 0, tag: "", at: 0, resign: false };
}

/** The request's session once its own write (`commit()`, `update()`) is stored: the copy, under its claim. */
export function servedAfterWrite(loaded: Loaded, held: LiveHeld, now: number, idleTimeoutMs: number): Loaded {
  const served = servedFrom(held, loaded.claim ?? bareClaim(loaded.id), now, idleTimeoutMs);
  // Its own id: a claim may name another (a new session that took the place of an ended one).
  return { ...served, id: loaded.id, claim: loaded.claim };
}

/** The newest write a copy shows: its newest change, else the stored version. */
export function markOf(held: LiveHeld, idleTimeoutMs: number): Mark | undefined {
  const newest = held.changes.at(-1);
  if (newest !== undefined) return { version: newest.version, tag: newest.tag, at: newest.at };
  if (held.base === null) return undefined;
  return { version: held.base.version, tag: held.base.tags[0] ?? "", at: held.base.expiresAt - idleTimeoutMs };
}

/** A change a request made: its patch over what it was served, and a new tie if `setUser()` gave one. */
export interface RequestChange {
  patch: Patch;
  tie?: Tie | undefined;
  /** The request's whole data after the change, as JSON, if it changed any: the new view, when nothing else changed meanwhile. */
  json?: string | undefined;
}

/**
 * This isolate's copy with a request's change on top. The change goes onto the newest copy (a concurrent
 * request of this isolate may have changed it since this one loaded), key by key, exactly as the store
 * merges writes. `undefined` when the id ended meanwhile (the change is dropped).
 */
export function withRequestChange(
  loaded: Loaded,
  current: Held | undefined,
  change: RequestChange,
  tag: string,
  now: number,
  idleTimeoutMs: number,
): LiveHeld | undefined {
  if (current?.kind === "ended") return undefined;
  const onto: LiveHeld = current?.kind === "live" ? current : (loaded.held ?? newHolding(loaded, now, idleTimeoutMs));
  const version = Math.max(highestVersion(onto), loaded.claim?.version ?? 0) + 1;
  const bytes = JSON.stringify(change.patch).length * 2;
  const changes = [...onto.changes, { tag, patch: change.patch, tie: change.tie, version, at: now, bytes }];
  // Nothing changed this isolate's copy since the request loaded it: the request's data is the new view.
  const view =
    onto.view === loaded.view && change.json !== undefined
      ? {
          ...onto.view,
          ...(change.tie ?? {}),
          json: change.json,
          tags: viewTags(changes.map((c) => c.tag).reverse(), onto.base?.tags ?? []),
        }
      : viewOf(onto.base, changes, onto.view);
  return { ...onto, changes, view, floor: Math.max(onto.floor, version) };
}

/** The copy of a session that nothing stores yet. */
function newHolding(loaded: Loaded, now: number, idleTimeoutMs: number): LiveHeld {
  return {
    kind: "live",
    base: null,
    changes: [],
    view: loaded.view,
    confirmedAt: now,
    refreshedAt: now,
    expiresAt: now + idleTimeoutMs,
    floor: loaded.claim?.version ?? 0,
    settled: [],
  };
}

/** The Set-Cookie a response carries. */
export type CookiePlan =
  | { kind: "keep" }
  | { kind: "clear" }
  /** `withId`: the id cookie too (a new id, or signed again with the current secret); always the version cookie. */
  | { kind: "set"; withId: boolean; id: string; mark: Mark };

export const KEEP: CookiePlan = { kind: "keep" };
export const CLEAR: CookiePlan = { kind: "clear" };

/** What the request's session came to when the response is sent. */
export interface Settled {
  loaded: Loaded;
  /** The write the version cookie should name now (a change of this request, or what was served). */
  mark: Mark | undefined;
  /** The browser does not know this id yet (a new session written, or regenerated here). */
  newId: boolean;
  /** Ended in this request (destroyed, revoked) with nothing written after. */
  ended: boolean;
  /** The store's markers tell an expired id from a regenerated one. */
  merges: boolean;
}

/**
 * The cookies of a request that changed nothing (`ended`: destroyed here; `current`: what this isolate
 * holds of its id now). A request whose id was retired or destroyed by another since it loaded sets none:
 * that other request's response did.
 */
export function cookiesUnchanged(
  loaded: Loaded,
  newId: boolean,
  ended: boolean,
  current: Held | undefined,
  merges: boolean,
): CookiePlan {
  if (!loaded.isNew && !newId && current?.kind === "ended") return KEEP;
  return cookiesFor({ loaded, mark: loaded.isNew ? undefined : loaded.served, newId, ended, merges });
}

/** How a write made before the response ended, as the cookies see it. */
export type WriteResult =
  | { kind: "landed"; version: number }
  /** The store failed; `kept`: the change stays in memory and is written again later. */
  | { kind: "failed"; kept: boolean }
  | { kind: "dropped"; gone: boolean }
  | { kind: "refused" };

/** The cookies after a request's change was written before its response (`mark`: what its cookie would name). */
export function cookiesAfterWrite(
  loaded: Loaded,
  mark: Mark,
  newId: boolean,
  result: WriteResult,
  merges: boolean,
): CookiePlan {
  switch (result.kind) {
    case "landed":
      // It may have landed above the version its cookie named (merged onto others): the cookie names that.
      return cookiesFor({
        loaded,
        mark: { ...mark, version: Math.max(mark.version, result.version) },
        newId,
        ended: false,
        merges,
      });
    case "failed":
      // Kept, it is written again later and the cookie names it; not kept, it is lost: the cookie names what was served.
      return result.kept
        ? cookiesFor({ loaded, mark, newId, ended: false, merges })
        : cookiesFor({ loaded, mark: loaded.served, newId: false, ended: false, merges });
    case "dropped":
      return result.gone ? CLEAR : KEEP;
    case "refused":
      return cookiesFor({ loaded, mark: loaded.served, newId: false, ended: false, merges });
  }
}

/** What an unchanged request leaves for after its response. */
export type Upkeep =
  | { kind: "none" }
  /** Found revoked: end it for good with a tombstone over exactly that version. */
  | { kind: "end-revoked"; id: string; version: number }
  /** Changes this isolate holds are not stored yet (a write failed, the store lost it): write them. */
  | { kind: "write" }
  /** The store's expiry of the version it knows is due to be pushed forward. */
  | { kind: "refresh" };

export function upkeepOf(
  loaded: Loaded,
  ended: boolean,
  current: Held | undefined,
  now: number,
  policy: Policy,
): Upkeep {
  if (loaded.revokedAt !== undefined && loaded.claim !== undefined) {
    // The revocation's cut-off expires: a session kept alive by reads must not outlive it.
    return { kind: "end-revoked", id: loaded.claim.id, version: loaded.revokedAt };
  }
  if (loaded.isNew || loaded.readOnly || ended || current?.kind !== "live") return { kind: "none" };
  if (!isSaved(current)) return { kind: "write" };
  if (now - current.refreshedAt >= policy.refreshIntervalMs) return { kind: "refresh" };
  return { kind: "none" };
}

/** Which cookies the response sets. */
export function cookiesFor({ loaded, mark, newId, ended, merges }: Settled): CookiePlan {
  // A retired id: the browser holds the new id by now (or this is not the browser): never touch it.
  if (loaded.readOnly && !newId) return KEEP;
  if (ended) return CLEAR;
  if (mark === undefined) {
    return loaded.ending !== undefined && clearsCookies(loaded.ending, merges) ? CLEAR : KEEP;
  }
  const claim = loaded.claim;
  const resign = claim?.resign === true;
  if (newId || resign) return { kind: "set", withId: true, id: loaded.id, mark };
  if (claim?.version === mark.version && claim.tag === mark.tag) return KEEP;
  return { kind: "set", withId: false, id: loaded.id, mark };
}
