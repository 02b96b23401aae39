import type { SessionData } from "../request/session-handle.js";

/** The top-level keys a request changed: what it set (by JSON value) and what it deleted. */
export interface Patch {
  set: SessionData;
  deleted: string[];
}

export function diff(before: SessionData, after: SessionData): Patch {
  const set: SessionData = {};
  for (const [key, value] of Object.entries(after)) {
    if (!(key in before) || JSON.stringify(before[key]) !== JSON.stringify(value)) set[key] = value;
  }
  return { set, deleted: Object.keys(before).filter((key) => !(key in after)) };
}

/** Applies a request's changes onto newer data: keys it did not change keep their newer values. */
export function apply(patch: Patch, onto: SessionData): SessionData {
  const result: SessionData = { ...onto, ...patch.set };
  for (const key of patch.deleted) delete result[key];
  return result;
}
