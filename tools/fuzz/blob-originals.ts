import { createHash } from "node:crypto";
import { wrap, type Envelope } from "../../src/sealing/envelope.js";
import type { SecretRole } from "./blob-protocol.js";
import { UNICODE_SAMPLES } from "./cookie-text.js";
import { BASE64URL_ALPHABET, type Prng } from "./prng.js";

/*
 * The sound blobs the blob mutators start from: envelopes as the layer writes them (`wrap`), of every
 * kind and size class, sealed by the codec in workerd. Each keeps what it was sealed from, so an opened
 * blob can be compared with it.
 */

export interface Original {
  /** What it is (for the fuzz's own bookkeeping). */
  shape: string;
  id: string;
  version: number;
  plaintext: string;
  secret: SecretRole;
  sealed: string;
  /** SHA-256 of `${version}:${plaintext}`, as the codec worker reports an opened blob. */
  digest: string;
}

export type Unsealed = Omit<Original, "sealed" | "digest">;

export function digestOf(version: number, plaintext: string): string {
  return createHash("sha256").update(`${version}:${plaintext}`).digest("hex");
}

export function randomId(rng: Prng): string {
  return rng.string(BASE64URL_ALPHABET, 24);
}

const WORDS = ["cart", "sku", "user", "theme", "dark", "locale", "en-GB", "token", "visits", "flags", "α", "中"];

/** JSON session data of about `size` characters, compressible or not. */
function sessionData(rng: Prng, size: number, compressible: boolean): string {
  const data: Record<string, unknown> = {};
  let length = 2;
  for (let i = 0; length < size; i++) {
    const room = Math.max(1, size - length);
    const value = compressible
      ? Array.from({ length: Math.min(room, 64) >> 2 || 1 }, () => rng.pick(WORDS)).join(" ")
      : rng.string(BASE64URL_ALPHABET, Math.min(room, 512));
    data[`k${i}`] = rng.chance(0.2) ? { nested: [value, i, rng.chance(0.5)] } : value;
    length += value.length + 12;
  }
  return JSON.stringify(data);
}

/** An envelope plaintext of the given shape. */
function envelopeOf(rng: Prng, shape: string): string {
  const createdAt = 1_700_000_000_000 + rng.int(100_000_000);
  const writtenAt = createdAt + rng.int(1_000_000);
  const data = (json: string, user?: string): Envelope => ({
    kind: "data",
    json,
    tags: Array.from({ length: rng.chance(0.5) ? rng.between(2, 16) : 1 }, () => rng.string(BASE64URL_ALPHABET, 8)),
    createdAt,
    writtenAt,
    user,
    since: user === undefined ? undefined : writtenAt,
  });
  switch (shape) {
    case "small":
      return wrap(data(sessionData(rng, rng.between(2, 120), true)));
    case "text":
      return wrap(data(sessionData(rng, rng.logBetween(200, 20_000), true)));
    case "random":
      return wrap(data(sessionData(rng, rng.logBetween(200, 30_000), false)));
    case "unicode":
      return wrap(
        data(
          JSON.stringify({
            name: Array.from({ length: rng.between(1, 400) }, () => rng.pick(UNICODE_SAMPLES)).join(""),
          }),
        ),
      );
    case "user":
      return wrap(data(sessionData(rng, rng.logBetween(20, 2_000), true), `user-${rng.int(1000)}@example.test`));
    case "tombstone":
      return wrap({ kind: "tombstone", createdAt, writtenAt });
    case "retired":
      return wrap({ kind: "retired", createdAt, writtenAt });
    default:
      throw new Error(`no envelope shape ${shape}`);
  }
}

const SHAPES = ["small", "small", "text", "text", "random", "unicode", "user", "tombstone", "retired"];

/** An original to seal: mostly the worker's own secret; some the next one's (rotation), some another app's. */
export function newOriginal(rng: Prng): Unsealed {
  const shape = rng.pick(SHAPES);
  const roll = rng.float();
  const secret: SecretRole = roll < 0.8 ? "own" : roll < 0.9 ? "next" : "other";
  return {
    shape,
    id: randomId(rng),
    version: rng.pick([1, 2, rng.between(1, 1000), 0xffff_ffff]),
    plaintext: envelopeOf(rng, shape),
    secret,
  };
}

/** A data envelope of exactly `length` characters (ASCII, so as many bytes), compressible or not. */
export function envelopeOfLength(rng: Prng, length: number, compressible: boolean): string {
  const head = wrap({ kind: "data", json: '{"pad":""}', tags: ["abcdefgh"], createdAt: 1, writtenAt: 2 });
  const room = length - head.length;
  if (room < 0) throw new RangeError(`no envelope of ${length} characters`);
  const pad = compressible ? "z".repeat(room) : rng.string(BASE64URL_ALPHABET, room);
  return wrap({ kind: "data", json: JSON.stringify({ pad }), tags: ["abcdefgh"], createdAt: 1, writtenAt: 2 });
}

/**
 * Fixed originals at the plaintext bound: exactly at it (must open), and bombs past it (must be refused
 * while inflating): highly compressible envelopes from just past the bound to ~40 times it.
 */
export function boundaryOriginals(rng: Prng, maxBytes: number): { atLimit: Unsealed[]; bombs: Unsealed[] } {
  const at = (shape: string, plaintext: string): Unsealed => ({
    shape,
    id: randomId(rng),
    version: 1,
    plaintext,
    secret: "own",
  });
  return {
    atLimit: [
      at("at-limit", envelopeOfLength(rng, maxBytes, true)),
      at("at-limit", envelopeOfLength(rng, maxBytes, false)),
    ],
    bombs: [maxBytes + 1, maxBytes + 4096, 2 * maxBytes, 8 * maxBytes, 40 * maxBytes].map((length) =>
      at("bomb", envelopeOfLength(rng, length, true)),
    ),
  };
}
