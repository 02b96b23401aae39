/**
 * A map that keeps at most `max` entries, for what an isolate remembers per session or per user (verified
 * cookies, cut-offs, hashed names): setting an entry makes it the newest, and past the bound the oldest
 * goes. Map iteration order is insertion order, so the first key is always the oldest.
 */
export class BoundedMap<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(readonly max: number) {}

  get(key: K): V | undefined {
    return this.#entries.get(key);
  }

  set(key: K, value: V): V {
    this.#entries.delete(key);
    this.#entries.set(key, value);
    if (this.#entries.size > this.max) this.#entries.delete(this.#entries.keys().next().value!);
    return value;
  }
}
