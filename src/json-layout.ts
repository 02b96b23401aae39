import { setOwn, type SessionData } from "./types.js";

/*
 * A changed request's new JSON, made from its base's text. JSON.stringify of the whole session was most of
 * what a change cost before its response, though a handler touches a few top-level keys: so the JSON of the
 * data a change leaves is kept with the place of each top-level entry (`"key":value`) in it, and the next
 * change serialises only the entries it touched, taking the others from that text as they stand.
 */

/** Exactly JSON.stringify of some data, and where each of its top-level entries lies in that text. */
export interface JsonLayout {
  readonly json: string;
  /** The keys of the text's entries, in its order (a key JSON leaves out, an undefined value's, has none). */
  readonly keys: readonly string[];
  /** Where each entry ends (it starts just after the `{` or the `,` before it). */
  readonly ends: readonly number[];
}

/** The JSON of `data` with its layout, and the keys it serialised anew (`touchedJson`: their entries, as an object). */
export interface LaidOut {
  layout: JsonLayout;
  touched: string[];
  touchedJson: string;
}

/**
 * Exactly `JSON.stringify(data)`, `data` being a plain object made from `base` (its own keys, a few set or
 * deleted). An entry whose value `unchanged(key)` says serialises as base's does is taken from `baseLayout`
 * (base's own layout), or serialised from base's value without one; each other entry is serialised with its
 * key, as JSON.stringify does it inside the object (a `toJSON(key)` is given its key).
 */
export function layOut(
  data: SessionData,
  base: SessionData,
  baseLayout: JsonLayout | undefined,
  unchanged: (key: string) => boolean,
): LaidOut {
  const keys: string[] = [];
  const ends: number[] = [];
  const entries: string[] = [];
  const touched: string[] = [];
  const touchedEntries: string[] = [];
  // Where the text's next entry ends: after the `{`, or the `,` before it.
  let end = 1;
  // Where the next entry of base's text is expected: data keeps base's keys in their order.
  let next = 0;
  for (const key of Object.keys(data)) {
    let entry: string;
    if (unchanged(key)) {
      const at = baseLayout === undefined ? -1 : baseLayout.keys[next] === key ? next : baseLayout.keys.indexOf(key);
      if (at >= 0) {
        entry = baseLayout!.json.slice(at === 0 ? 1 : baseLayout!.ends[at - 1]! + 1, baseLayout!.ends[at]);
        next = at + 1;
      } else {
        // Base's values are parsed JSON (no toJSON, nothing left out): their text is JSON.stringify's.
        entry = `${JSON.stringify(key)}:${JSON.stringify(base[key])}`;
      }
    } else {
      touched.push(key);
      const one: SessionData = {};
      setOwn(one, key, data[key]);
      const text = JSON.stringify(one);
      // An undefined value (a function, a symbol): JSON leaves the entry out.
      if (text.length === 2) continue;
      entry = text.slice(1, -1);
      touchedEntries.push(entry);
    }
    end += entry.length;
    entries.push(entry);
    keys.push(key);
    ends.push(end);
    end += 1;
  }
  // Concatenated: copied once, when first read whole (compared with the base's text, or sealed after the
  // response). Until then its slices keep the text they were cut from alive: one more text at most, since
  // slicing a text flattens it first (they never chain).
  let json = "{";
  for (let i = 0; i < entries.length; i++) json += i === 0 ? entries[i] : `,${entries[i]}`;
  json += "}";
  return { layout: { json, keys, ends }, touched, touchedJson: `{${touchedEntries.join(",")}}` };
}
