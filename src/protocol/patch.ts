import { setOwn } from "../types.js";
import type { Patch } from "./types.js";

/*
 * Concurrent changes of one session merge per top-level key: a change is the set of top-level keys it set
 * (by JSON value) and deleted, applied onto the newest data. Keys it did not change keep their newer
 * values; a key two changes set takes the later one's value (an overwrite, reported). A read-modify-write
 * of one key (a counter, a list) needs `update(fn)`, which runs `fn` again on the newest data.
 */

export const NO_CHANGE: Patch = { set: {}, deleted: [] };

/** The change that turns `before` into `after`, per top-level key (compared as JSON). */
export function diff(before: Record<string, unknown>, after: Record<string, unknown>): Patch {
  const set: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(after)) {
    if (!Object.hasOwn(before, key) || JSON.stringify(before[key]) !== JSON.stringify(value)) setOwn(set, key, value);
  }
  return { set, deleted: Object.keys(before).filter((key) => !Object.hasOwn(after, key)) };
}

/** A new object: `onto` with the patch's keys set and deleted (`onto` is not changed). */
export function apply(patch: Patch, onto: Record<string, unknown>): Record<string, unknown> {
  const result: Record<string, unknown> = { ...onto };
  for (const key of Object.keys(patch.set)) setOwn(result, key, patch.set[key]);
  for (const key of patch.deleted) delete result[key];
  return result;
}

export function isEmpty(patch: Patch): boolean {
  return patch.deleted.length === 0 && Object.keys(patch.set).length === 0;
}

/** How many keys of `patch` another writer changed too, between `base` and `current`: those it overwrites. */
export function overwrittenKeys(patch: Patch, base: Record<string, unknown>, current: Record<string, unknown>): number {
  let count = 0;
  for (const key of [...Object.keys(patch.set), ...patch.deleted]) {
    if (JSON.stringify(base[key]) !== JSON.stringify(current[key])) count++;
  }
  return count;
}
