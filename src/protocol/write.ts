import { endedHeld, HISTORY_TAGS, holding, notLanded, settle, viewTags, withChanges } from "./held.js";
import { mayRestore } from "./load.js";
import { overwrittenKeys } from "./patch.js";
import type { EndReason, Held, LiveHeld, Policy, Stored, Tie, Version } from "./types.js";

/*
 * What to write, and what the store's answer to a write means. A write is a compare-and-set over the
 * version this isolate last saw stored; it takes every change of this isolate not yet landed (oldest
 * first) and puts their tags into the new version's history. On a conflict the newer version's history
 * says which of them landed after all (a lost answer, a retried call); the rest is applied again onto it.
 * Pure: src/engine/ carries the writes out.
 */

/** Conflicts after which a write gives up for now (its changes stay, and the next request writes them). */
export const MAX_WRITE_ATTEMPTS = 32;

/** One compare-and-set: store `json` as `version` if the store holds `expected` (0: nothing). */
export interface WritePlan {
  expected: number;
  version: number;
  json: string;
  tie: Tie;
  createdAt: number;
  /** The new version's history: this write's tags, then the base's. */
  tags: readonly string[];
  /** The tag this write recognises itself by in a later version's history (it landed). */
  writeTag: string;
}

/** Why a write was given up. */
export type DropReason =
  /** The session was destroyed (or revoked) while the request ran. */
  | "destroyed"
  /** The session was regenerated while the request ran: its old id takes no more writes. */
  | "regenerated"
  /** The session expired in the store before the write. */
  | "expired"
  /** The store held a value that does not open, or whose parts disagree. */
  | "tampered";

/**
 * The write of this isolate's changes (all not yet landed): `undefined` when there is nothing to write,
 * "too-large" when the merged session would pass `maxSessionBytes`.
 */
export function planWrite(held: LiveHeld, policy: Policy): WritePlan | "too-large" | undefined {
  if (held.changes.length === 0 && !held.missing) return undefined;
  if (exceeds(held.view.json, policy.maxSessionBytes)) return "too-large";
  // A write of a lost session alone (no change on top) is known by the tag of the version it puts back.
  const writeTag = held.changes.at(-1)?.tag ?? held.base!.tags[0] ?? "";
  return plan(held, held.view.json, writeTag, held.changes.map((c) => c.tag).reverse());
}

/**
 * The write of `update(fn)`: `json` (what `fn` made of the view) over the version this isolate last saw
 * stored, taking this isolate's changes not yet landed with it (they are in the view `fn` was given).
 */
export function planUpdate(held: LiveHeld, json: string, tag: string): WritePlan {
  return plan(held, json, tag, [tag, ...held.changes.map((c) => c.tag).reverse()]);
}

function plan(held: LiveHeld, json: string, writeTag: string, ownTags: readonly string[]): WritePlan {
  const stored = held.base !== null && !held.missing;
  const expected = stored ? held.base!.version : 0;
  const newestClaimed = Math.max(0, ...held.changes.map((c) => c.version));
  // Above what it replaces, and at least the version the browser's cookie names for its newest change.
  // Where the store lost the session, above everything this isolate saw, by a jump drawn from the write's
  // tag: other isolates may have seen later versions, and two copies must not come back under one number
  // (a conditional read compares numbers).
  const version = Math.max(expected + 1, newestClaimed, held.missing ? held.floor + 1 + jump(writeTag) : 0);
  // The view's tags once these changes land (one formula, so a landed view keeps its identity).
  const tags = viewTags(ownTags, held.base?.tags ?? []).slice(0, HISTORY_TAGS);
  return {
    expected,
    version,
    json,
    tie: { user: held.view.user, since: held.view.since },
    createdAt: held.view.createdAt,
    tags,
    writeTag,
  };
}

/** 1 to 65536, from a write tag's first three characters (random, base64url). */
function jump(tag: string): number {
  let n = 0;
  for (let i = 0; i < 3 && i < tag.length; i++) n = n * 64 + (tag.charCodeAt(i) % 64);
  return 1 + (n % 65_536);
}

export interface WriteAnswer {
  /** What memory holds now (other requests may have changed it while the store answered). */
  held: Held | undefined;
  plan: WritePlan;
  /** `null`: written. Otherwise what the store held instead. */
  answer: Stored | null;
  /** When the write was sent. */
  startedAt: number;
  now: number;
  policy: Policy;
}

export type WriteOutcome =
  /** The write landed (or a retry found it landed): memory now holds `held`; more changes may be left to write. */
  | { kind: "landed"; held: LiveHeld | undefined; version: Version }
  /**
   * A newer version stood there: `held` stands on it, the changes that did not land in it applied again
   * (`overwrites`: keys of theirs that another writer had changed too). Write again, if anything is left.
   */
  | { kind: "conflict"; held: LiveHeld; overwrites: number }
  /** The store lost the session: write it again over nothing. */
  | { kind: "restore"; held: LiveHeld }
  /** Given up for good: the session ended, expired or was tampered with (its changes are dropped). */
  | { kind: "dropped"; reason: DropReason; held: Held };

/** What the store's answer to a write means. */
export function afterWrite({ held, plan, answer, startedAt, now, policy }: WriteAnswer): WriteOutcome {
  if (answer === null || (answer.kind === "live" && answer.tags.includes(plan.writeTag))) {
    // Written, or found in the history of what stands there: a retried call whose first attempt landed.
    const version: Version =
      answer === null
        ? {
            version: plan.version,
            tags: plan.tags,
            json: plan.json,
            ...plan.tie,
            createdAt: plan.createdAt,
            expiresAt: startedAt + policy.idleTimeoutMs,
          }
        : stripKind(answer);
    if (held?.kind === "ended" || held?.kind === "gone") return { kind: "landed", held: undefined, version };
    if (held?.kind === "live" && held.base !== null && !held.missing && held.base.version > version.version) {
      // This isolate saw a newer version meanwhile: it stands; only the changes that landed go.
      return { kind: "landed", held: withChanges(held, notLanded(held.changes, plan.tags)), version };
    }
    return { kind: "landed", held: holding(version, startedAt, held, policy.idleTimeoutMs), version };
  }
  // The id ended in this isolate meanwhile (a destroy or regenerate of another request): nothing more is written.
  if (held?.kind === "ended") return { kind: "dropped", reason: dropReason(held.reason), held };
  switch (answer.kind) {
    case "live": {
      const before = held?.kind === "live" ? held : undefined;
      if (before?.base != null && !before.missing && before.base.version >= answer.version) {
        // Older news: another write of this isolate moved its copy past that version meanwhile.
        return { kind: "conflict", held: withChanges(before, notLanded(before.changes, answer.tags)), overwrites: 0 };
      }
      // Another write stands there: this isolate's changes it holds have landed; the others go onto it.
      const on = holding(stripKind(answer), startedAt, held, policy.idleTimeoutMs);
      return { kind: "conflict", held: on, overwrites: countOverwrites(before, on) };
    }
    case "none":
      if (held?.kind === "live" && policy.merges && mayRestore(held, startedAt)) {
        // The store lost a session this isolate knows live: write it again over nothing.
        return { kind: "restore", held: { ...held, missing: true } };
      }
      return { kind: "dropped", reason: "expired", held: { kind: "gone", confirmedAt: startedAt, settled: [] } };
    case "ended":
      return { kind: "dropped", reason: dropReason(answer.reason), held: endedHeld(answer.reason, now, policy) };
    case "tampered":
      return { kind: "dropped", reason: "tampered", held: { kind: "gone", confirmedAt: startedAt, settled: [] } };
  }
}

function countOverwrites(before: LiveHeld | undefined, on: LiveHeld): number {
  if (before?.base == null || on.base === null) return 0;
  const base = JSON.parse(before.base.json) as Record<string, unknown>;
  const theirs = JSON.parse(on.base.json) as Record<string, unknown>;
  return on.changes.reduce((count, change) => count + overwrittenKeys(change.patch, base, theirs), 0);
}

export function dropReason(reason: EndReason): DropReason {
  return reason === "retired" ? "regenerated" : "destroyed";
}

/**
 * A merge too large to keep: this isolate's changes are dropped (the store keeps what it holds), and their
 * tags settled, so a cookie naming one of them is not waited for.
 */
export function refuse(held: LiveHeld): LiveHeld {
  const settled = held.changes.reduce((tags, change) => settle(tags, change.tag), held.settled);
  return { ...withChanges(held, []), missing: false, settled };
}

/**
 * One marker write that ends an id: over the version this isolate last saw there (0: nothing). `tag` (random,
 * one per end, kept when it is tried again) is written into the marker: an attempt whose answer was lost
 * leaves a marker that the next attempt finds, and knows for its own.
 */
export interface EndPlan {
  expected: number;
  version: number;
  reason: EndReason;
  tag: string;
}

export function planEnd(expected: number, reason: EndReason, tag: string): EndPlan {
  return { expected, version: expected + 1, reason, tag };
}

export type EndOutcome =
  /** The marker stands; `replaced` is the live version it ended, if there was one. */
  | { kind: "ended"; replaced: Version | null }
  /** The id had ended already (another request ended it). */
  | { kind: "already"; reason: EndReason }
  /** Something else stood there: end it again over that. */
  | { kind: "again"; plan: EndPlan; live: Version | null };

/** What the store's answer to an end means (`replacing`: the live version the last attempt expected). */
export function afterEnd(plan: EndPlan, answer: Stored | null, replacing: Version | null): EndOutcome {
  if (answer === null) return { kind: "ended", replaced: replacing };
  switch (answer.kind) {
    case "ended":
      // This end's own marker, found by an attempt after one whose answer was lost: it landed over `replacing`.
      if (answer.tag === plan.tag) return { kind: "ended", replaced: replacing };
      return { kind: "already", reason: answer.reason };
    case "live":
      return {
        kind: "again",
        plan: { ...plan, expected: answer.version, version: Math.max(plan.version, answer.version) + 1 },
        live: stripKind(answer),
      };
    case "none":
      return { kind: "again", plan: { ...plan, expected: 0, version: plan.version + 1 }, live: null };
    case "tampered":
      return {
        kind: "again",
        plan: { ...plan, expected: answer.version, version: Math.max(plan.version, answer.version) + 1 },
        live: null,
      };
  }
}

function stripKind<T extends { kind: string }>(value: T): Omit<T, "kind"> {
  const { kind: _kind, ...rest } = value;
  return rest;
}

/** More than `maxBytes` UTF-8 bytes; counted only when the length leaves any doubt (a character takes one to three). */
export function exceeds(json: string, maxBytes: number): boolean {
  if (json.length * 3 <= maxBytes) return false;
  return json.length > maxBytes || new TextEncoder().encode(json).length > maxBytes;
}

/** The UTF-8 bytes of a string. */
export function byteLength(json: string): number {
  return new TextEncoder().encode(json).length;
}
