import { setOwn, type SessionData } from "../types.js";

/**
 * Concurrent writes of one session merge per top-level key: a request's change is the set of top-level
 * keys it set (by JSON value) and deleted, applied onto the newest stored data. Keys it did not change
 * keep their newer values; a key both changed takes this request's value (an overwrite, reported). A
 * read-modify-write of one key (a counter, a list) needs `update(fn)`, which re-runs `fn` on the newest data.
 */
export interface Patch {
  set: SessionData;
  deleted: string[];
}

export function diff(before: SessionData, after: SessionData): Patch {
  const set: SessionData = {};
  for (const [key, value] of Object.entries(after)) {
    if (!Object.hasOwn(before, key) || JSON.stringify(before[key]) !== JSON.stringify(value)) setOwn(set, key, value);
  }
  return { set, deleted: Object.keys(before).filter((key) => !Object.hasOwn(after, key)) };
}

export function apply(patch: Patch, onto: SessionData): SessionData {
  const result: SessionData = { ...onto, ...patch.set };
  for (const key of patch.deleted) delete result[key];
  return result;
}

/** How many keys of `patch` another writer changed too, between `base` and `current`: those it overwrites. */
export function overwrittenKeys(patch: Patch, base: SessionData, current: SessionData): number {
  let count = 0;
  for (const key of [...Object.keys(patch.set), ...patch.deleted]) {
    if (JSON.stringify(base[key]) !== JSON.stringify(current[key])) count++;
  }
  return count;
}
