import { layOut, type JsonLayout, type LaidOut } from "../json-layout.js";
import { setOwn, type SessionData } from "../types.js";

/**
 * A request's view of its session data. Reads share the isolate's parsed copy (never handed out), so a
 * request that only reads pays no JSON work; the first write makes a shallow private copy, and an object
 * value is handed out only as a private deep copy whose JSON is remembered, so in-place changes to it are
 * still seen as changes.
 */
export class WorkingCopy {
  readonly #base: SessionData;
  /** Where each entry lies in the base's JSON, when known (see json-layout.ts). */
  readonly #baseLayout: JsonLayout | undefined;
  /** This request's own data, from its first write (or `whole()`) on: a shallow copy of the base, changed. */
  #own: SessionData | undefined;
  /** Keys whose values in `#own` belong to this request alone. */
  #private: Set<string> | undefined;
  /** Object values handed out by `get(key)`: the private copy, and the shared original it was made from. */
  #exposed: Map<string, { copy: unknown; original: unknown }> | undefined;
  #wholeExposed = false;
  #written = false;
  /** The JSON `changedJson` made entry by entry, kept for `settle`. */
  #laidOut: LaidOut | undefined;

  constructor(base: SessionData, baseLayout?: JsonLayout) {
    this.#base = base;
    this.#baseLayout = baseLayout;
  }

  /** The whole data, as a private deep copy the caller may mutate. */
  whole(): SessionData {
    if (!this.#wholeExposed) {
      const current = this.current();
      const own = JSON.parse(JSON.stringify(current)) as SessionData;
      // A value handed out by get(key) before stays the handler's: the whole data holds that very object, so
      // a change made to it later is still a change (a fresh copy in its place would leave it unsaved).
      for (const [key, { copy }] of this.#exposed ?? []) {
        if (Object.hasOwn(current, key) && current[key] === copy && Object.hasOwn(own, key)) setOwn(own, key, copy);
      }
      this.#own = own;
      this.#wholeExposed = true;
    }
    return this.#own!;
  }

  get(key: string): unknown {
    const own = this.#own;
    if (own === undefined) {
      // Nothing written yet: an object value's copy is kept aside, and the base is not copied at all.
      const exposed = this.#exposed?.get(key);
      if (exposed !== undefined) return exposed.copy;
      // Own members only: "__proto__" or "constructor" is a key like any other, never the prototype's.
      const value = Object.hasOwn(this.#base, key) ? this.#base[key] : undefined;
      if (typeof value !== "object" || value === null) return value;
      const copy = copyJson(value);
      (this.#exposed ??= new Map()).set(key, { copy, original: value });
      return copy;
    }
    const value = Object.hasOwn(own, key) ? own[key] : undefined;
    if (typeof value !== "object" || value === null || this.#wholeExposed || this.#private?.has(key)) return value;
    const copy = copyJson(value);
    setOwn(own, key, copy);
    (this.#private ??= new Set()).add(key);
    (this.#exposed ??= new Map()).set(key, { copy, original: value });
    return copy;
  }

  set(key: string, value: unknown): void {
    setOwn(this.#writable(), key, value);
    (this.#private ??= new Set()).add(key);
    this.#written = true;
  }

  delete(key: string): void {
    delete this.#writable()[key];
    this.#written = true;
  }

  /** The data as it stands now (copies handed out included); read only. */
  current(): SessionData {
    return this.#exposed !== undefined ? this.#writable() : (this.#own ?? this.#base);
  }

  /** The data's JSON if it differs from `baseJson`; `undefined` when it cannot have changed or did not. */
  changedJson(baseJson: string): string | undefined {
    if (!this.#written && !this.#wholeExposed) {
      // Only copies handed out can have changed: compared with their originals, nothing serialised.
      if (!this.#copiesChanged()) return undefined;
    }
    // A top-level "toJSON" function would make JSON serialise what it returns instead of the session's entries
    // (not an object, perhaps nothing at all): such data cannot be a session.
    const own = this.current();
    if (typeof own.toJSON === "function") throw new TypeError("a top-level toJSON function");
    // The whole data handed out may have been changed anywhere (even given a toJSON): serialised as it is.
    if (this.#wholeExposed) {
      this.#laidOut = undefined;
      const json = JSON.stringify(own);
      return json === baseJson ? undefined : json;
    }
    // Otherwise only the keys written or handed out can differ from the base: the rest is its text.
    const base = this.#base;
    const exposed = this.#exposed;
    this.#laidOut = layOut(own, base, this.#baseLayout, (key) => {
      if (!Object.hasOwn(base, key)) return false;
      const value = own[key];
      // A copy handed out and left as it was: members in the same order, so the same text.
      return value === base[key] || (exposed?.has(key) === true && sameJson(value, base[key], true));
    });
    const json = this.#laidOut.layout.json;
    return json === baseJson ? undefined : json;
  }

  /** Whether a copy handed out by `get(key)` no longer matches the value it was made from. */
  #copiesChanged(): boolean {
    if (this.#exposed === undefined) return false;
    const own = this.#own;
    for (const [key, { copy, original }] of this.#exposed) {
      if (!sameJson(own === undefined ? copy : own[key], original)) return true;
    }
    return false;
  }

  /**
   * What the request changed, once: `patch`, per top-level key against the data this copy was made from
   * (only the keys it could have touched are compared, all of them once the whole data was handed out), and
   * `data`, the data as `JSON.parse` of its JSON gives it (the next request reads it instead of parsing).
   * The touched keys go through one JSON round trip, and both take their values from it: the handler's
   * objects stay the handler's (changing one after the response changes nothing written), and a value equal
   * to the base's but with its members in another order keeps the JSON's order. The untouched keys share the
   * base's values; `data`'s keys are in the order `JSON.stringify` writes them.
   */
  settle(): { patch: { set: SessionData; deleted: string[] }; data: SessionData; layout: JsonLayout | undefined } {
    const own = this.current();
    const base = this.#base;
    const laidOut = this.#laidOut;
    const touched: SessionData = {};
    let copied: SessionData;
    if (laidOut !== undefined) {
      // changedJson compared and serialised the touched keys already: their entries are parsed, not made again.
      for (const key of laidOut.touched) setOwn(touched, key, own[key]);
      copied = JSON.parse(laidOut.touchedJson) as SessionData;
    } else {
      for (const key of Object.keys(own)) {
        if (!this.#wholeExposed && !this.#private?.has(key)) continue;
        // A copy handed out and left as it was (its JSON the same text) is the base's value: not copied again.
        if (
          !this.#wholeExposed &&
          this.#exposed?.has(key) &&
          Object.hasOwn(base, key) &&
          sameJson(own[key], base[key], true)
        )
          continue;
        setOwn(touched, key, own[key]);
      }
      copied = JSON.parse(JSON.stringify(touched)) as SessionData;
    }
    const data: SessionData = {};
    for (const key of Object.keys(own)) {
      // Untouched: the base's own value, not a copy (the working copy took it from there).
      if (!Object.hasOwn(touched, key)) setOwn(data, key, base[key]);
      else if (Object.hasOwn(copied, key)) setOwn(data, key, copied[key]);
    }
    const set: SessionData = {};
    for (const key of Object.keys(touched)) {
      if (!Object.hasOwn(base, key) || !sameJson(own[key], base[key])) {
        // A value JSON leaves out (undefined) has no copy: it is set as it is.
        setOwn(set, key, Object.hasOwn(copied, key) ? copied[key] : own[key]);
      }
    }
    const deleted = Object.keys(base).filter((key) => !Object.hasOwn(own, key));
    return { patch: { set, deleted }, data, layout: laidOut?.layout };
  }

  /** This request's own data, made on first need: the base's keys, with the copies handed out so far. */
  #writable(): SessionData {
    if (this.#own === undefined) {
      const own = { ...this.#base };
      for (const [key, { copy }] of this.#exposed ?? []) {
        setOwn(own, key, copy);
        (this.#private ??= new Set()).add(key);
      }
      this.#own = own;
    }
    return this.#own;
  }
}

/**
 * Deep equality of JSON values, as JSON.stringify would see them (undefined members count as absent);
 * `inOrder`: object members in the same order too, so that the two serialise to the same text.
 */
function sameJson(a: unknown, b: unknown, inOrder = false): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i], inOrder)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  // A Date (or anything with toJSON), a boxed primitive, a Map: what it serialises to, not its members.
  if (!isPlain(left) || !isPlain(right)) return JSON.stringify(left) === JSON.stringify(right);
  if (inOrder) {
    const leftKeys = Object.keys(left).filter((key) => left[key] !== undefined);
    const rightKeys = Object.keys(right).filter((key) => right[key] !== undefined);
    return (
      leftKeys.length === rightKeys.length &&
      leftKeys.every((key, i) => key === rightKeys[i] && sameJson(left[key], right[key], true))
    );
  }
  let count = 0;
  for (const key in left) {
    if (!Object.hasOwn(left, key) || left[key] === undefined) continue;
    if (!Object.hasOwn(right, key) || !sameJson(left[key], right[key])) return false;
    count++;
  }
  for (const key in right) if (Object.hasOwn(right, key) && right[key] !== undefined) count--;
  return count === 0;
}

/**
 * A plain object (as JSON.parse makes, or a literal) with no `toJSON`: its JSON is its own enumerable members.
 * Anything else (a Date, `new Boolean(false)`, a Map, a class instance) serialises by its own rules.
 */
function isPlain(value: Record<string, unknown>): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return (proto === Object.prototype || proto === null) && typeof value.toJSON !== "function";
}

/**
 * A deep copy of a JSON value (faster than structuredClone or a JSON round trip for session-sized values;
 * written data nests at most `MAX_DEPTH` deep, so the recursion is bounded).
 */
function copyJson<V>(value: V): V {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(copyJson) as V;
  const copy: Record<string, unknown> = {};
  for (const key in value) setOwn(copy, key, copyJson((value as Record<string, unknown>)[key]));
  return copy as V;
}
