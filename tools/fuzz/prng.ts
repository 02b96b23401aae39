/*
 * A small seeded PRNG (sfc32, seeded through splitmix32). Every fuzz case draws from its own generator,
 * derived from the run's seed and the case's index, so what a case sends does not depend on how the
 * concurrent requests before it were scheduled: `npm run fuzz -- --seed N` sends the same cases again.
 */

/** splitmix32: spreads a 32-bit input over all bits (used to seed sfc32 and to mix seeds with indexes). */
function splitmix32(state: number): number {
  let z = (state + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = splitmix32(seed);
    this.#b = splitmix32(this.#a);
    this.#c = splitmix32(this.#b);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.next(); // leave the seeding's correlations behind
  }

  /** The generator of one case of one stream ("cookies", "blobs", …): independent of every other case. */
  static forCase(seed: number, stream: string, index: number): Prng {
    let mixed = splitmix32(seed ^ index);
    for (let i = 0; i < stream.length; i++) mixed = splitmix32(mixed ^ stream.charCodeAt(i));
    return new Prng(mixed ^ splitmix32(index));
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / 0x1_0000_0000;
  }

  /** An integer in [0, max). */
  int(max: number): number {
    return Math.floor(this.float() * max);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** Sizes spread over orders of magnitude: small ones as often as large ones. */
  logBetween(min: number, max: number): number {
    return Math.floor(Math.exp(Math.log(min) + this.float() * (Math.log(max + 1) - Math.log(min))));
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[this.int(items.length)]!;
  }

  bytes(length: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
    return out;
  }

  /** `length` characters drawn from `alphabet`. */
  string(alphabet: string, length: number): string {
    let out = "";
    for (let i = 0; i < length; i++) out += alphabet[this.int(alphabet.length)];
    return out;
  }
}

export const BASE64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A random seed for a run that was given none (printed, so the run can be replayed). */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
