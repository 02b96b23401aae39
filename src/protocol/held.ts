import { apply } from "./patch.js";
import type { Change, Claim, EndedHeld, EndReason, Held, LiveHeld, Stored, Tie, Version, View } from "./types.js";

/**
 * How many change tags a version carries. A write whose answer was lost (the client retries it), or an
 * isolate that reads before its own write's answer came back, finds its tag here even after others wrote
 * on top; so does a browser whose cookie names a write that others wrote over since.
 */
export const HISTORY_TAGS = 16;

/**
 * A claim's write made longer ago than this (or than half the idle timeout, if that is shorter) has landed
 * or never will: it is not waited for. So replaying an old cookie costs no wait, and an expired session's
 * cookie is answered as fast as a destroyed one's.
 */
export const FRESH_CLAIM_MS = 60_000;

/** The view of a base with changes on top: the changes applied in order, the newest tie, every tag. */
export function viewOf(base: Version | null, changes: readonly Change[], fresh: { createdAt: number } & Tie): View {
  let tie: Tie = base ?? fresh;
  let json = base?.json ?? "{}";
  if (changes.length > 0) {
    let data = JSON.parse(json) as Record<string, unknown>;
    for (const change of changes) {
      data = apply(change.patch, data);
      if (change.tie !== undefined) tie = change.tie;
    }
    json = JSON.stringify(data);
  }
  const tags = viewTags(changes.map((c) => c.tag).reverse(), base?.tags ?? []);
  return { json, user: tie.user, since: tie.since, createdAt: base?.createdAt ?? fresh.createdAt, tags };
}

/**
 * A view's tags: its changes not yet landed (newest first), then as many of its base's as the version that
 * lands them will carry (`HISTORY_TAGS` in all, as a write's plan has them). So once the changes land, the
 * stored version's tags are the view's, and the view keeps its identity (see `sameOr`). A base tag left out
 * is still shown: the view holds its base (see `shows`).
 */
export function viewTags(pending: readonly string[], baseTags: readonly string[]): readonly string[] {
  return [...pending, ...baseTags].filter((tag) => tag !== "").slice(0, Math.max(HISTORY_TAGS, pending.length));
}

/**
 * The changes still not landed once the store shows `tags`: a change whose tag is there landed, and so did
 * every change made before it (each write of an isolate takes all its changes not yet landed, oldest first).
 */
export function notLanded(changes: readonly Change[], tags: readonly string[]): readonly Change[] {
  for (let i = changes.length - 1; i >= 0; i--) {
    if (tags.includes(changes[i]!.tag)) return changes.slice(i + 1);
  }
  return changes;
}

/** A live holding of `base` (seen stored at `confirmedAt`) with the changes of `previous` that did not land on it. */
export function holding(
  base: Version,
  confirmedAt: number,
  previous: Held | undefined,
  idleTimeoutMs: number,
): LiveHeld {
  const live = previous?.kind === "live" ? previous : undefined;
  // The changes left go onto this version: each lands above it, and the cookies that name them from now
  // on name versions above it (a browser's versions never go back).
  const changes = notLanded(live?.changes ?? [], base.tags).map((change, i) =>
    change.version > base.version + i ? change : { ...change, version: base.version + i + 1 },
  );
  return {
    kind: "live",
    base,
    changes,
    view: sameOr(live?.view, viewOf(base, changes, base)),
    confirmedAt,
    // The store's expiry was last pushed when this version was written, or by a refresh since.
    refreshedAt: base.expiresAt - idleTimeoutMs,
    expiresAt: base.expiresAt,
    floor: Math.max(live?.floor ?? 0, base.version),
    settled: previous?.kind === "live" || previous?.kind === "gone" ? previous.settled : [],
  };
}

/**
 * `next`, or `previous` when the two are the same view (the store now holds what this isolate showed): a
 * view is a value, and an unchanged one keeps its identity, so what the engine derived from it (its parsed
 * data) is not made again.
 */
function sameOr(previous: View | undefined, next: View): View {
  if (
    previous === undefined ||
    previous.json !== next.json ||
    previous.user !== next.user ||
    previous.since !== next.since ||
    previous.createdAt !== next.createdAt ||
    previous.tags.length !== next.tags.length
  )
    return next;
  return previous.tags.every((tag, i) => tag === next.tags[i]) ? previous : next;
}

/** An id this isolate saw end: kept as long as the store keeps the marker. */
export function endedHeld(reason: EndReason, now: number, policy: { markerTtlMs: number }): EndedHeld {
  return { kind: "ended", reason, until: now + policy.markerTtlMs };
}

/** The same holding with other changes (the view follows). */
export function withChanges(held: LiveHeld, changes: readonly Change[]): LiveHeld {
  return { ...held, changes, view: viewOf(held.base, changes, held.view) };
}

/** The store holds exactly what this isolate serves. */
export function isSaved(held: LiveHeld): boolean {
  return held.changes.length === 0 && held.base !== null && held.missing !== true;
}

/**
 * The view shows the write a cookie names: its tag is among the view's or its base's (a view holds its base),
 * or the store moved so far past it that its tag left the history (it landed long ago).
 */
export function shows(held: LiveHeld, claim: Claim): boolean {
  if (claim.version === 0 || held.view.tags.includes(claim.tag)) return true;
  const base = held.base;
  if (base?.tags.includes(claim.tag)) return true;
  return base !== null && base.tags.length >= HISTORY_TAGS && base.version >= claim.version + HISTORY_TAGS;
}

/** Serving `held` is all a cookie's claim may ask: the view shows its write, or the write was settled as never landing. */
export function serves(held: LiveHeld, claim: Claim): boolean {
  return shows(held, claim) || held.settled.includes(claim.tag);
}

/** A claim worth waiting for: made recently enough that its write may still be on its way. */
export function mayStillLand(claim: Claim, now: number, idleTimeoutMs: number): boolean {
  return claim.version > 0 && claim.at > 0 && now - claim.at < Math.min(FRESH_CLAIM_MS, idleTimeoutMs / 2);
}

/** Remembers that the claim's write will not be waited for again (bounded). */
export function settle(settled: readonly string[], tag: string): readonly string[] {
  return settled.includes(tag) || tag === "" ? settled : [tag, ...settled].slice(0, 8);
}

/** The bytes an entry holds, as the memory tier counts them: every string and change it keeps. */
export function heldBytes(id: string, held: Held): number {
  const fixed = 200 + 2 * id.length;
  if (held.kind !== "live") return fixed + (held.kind === "gone" ? 16 * held.settled.length : 0);
  // Per character of JSON: 2 bytes of UTF-16 string, and about as much again for its parsed object.
  let bytes = fixed + 4 * held.view.json.length + 12 * held.view.tags.length + 16 * held.settled.length;
  if (held.base !== null && held.base.json !== held.view.json) bytes += 2 * held.base.json.length;
  for (const change of held.changes) bytes += 64 + change.bytes;
  return bytes;
}

/** The newest version this isolate knows of or handed out. */
export function highestVersion(held: LiveHeld): number {
  return Math.max(held.floor, held.base?.version ?? 0, ...held.changes.map((c) => c.version));
}

/**
 * The store's version of a session whose base looked revoked, when it shows the base was only stale: newer,
 * and either tied to the same user since the cut-off or after ("sign out everywhere else" ties the session it
 * keeps anew just before it sets the cut-off; a plan made on the version before that restamp landed sees the
 * old tie), or no longer tied to that user at all (a change of tie that landed before the cut-off, perhaps
 * this isolate's own whose answer was lost: the cut-off is not this session's). `undefined` when the store
 * holds nothing newer that is not revoked: the session is revoked.
 */
export function retiedSince(base: Version, stored: Stored | "unchanged", revokedBefore: number): Version | undefined {
  if (stored === "unchanged" || stored.kind !== "live" || stored.version <= base.version) return undefined;
  if (stored.user === base.user && stored.since < revokedBefore) return undefined;
  return stored;
}
