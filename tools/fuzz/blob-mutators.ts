import { deflateRawSync, inflateRawSync } from "node:zlib";
import type { CraftItem, RingName, SecretRole } from "./blob-protocol.js";
import { digestOf, envelopeOfLength, randomId, type Original } from "./blob-originals.js";
import { BASE64URL_ALPHABET, type Prng } from "./prng.js";

/*
 * Damaged, moved and crafted sealed blobs. What each case must come to:
 * - equal: opens, to exactly what was sealed for that id at that version;
 * - reject: a SealError (the damage is not authenticated: AES-GCM or the framing must catch it);
 * - typed: authenticated content the codec would never write (a damaged deflate stream, huge declared
 *   sizes, deep JSON): a SealError, or an opening to exactly what the stream holds when Node's zlib can tell
 *   (`digest`); never another kind of error.
 */
export type Expectation = "equal" | "reject" | "typed";

export interface BlobCase {
  expect: Expectation;
  /** The damage happened to change no byte (a splice at matching points): it is the sound blob. */
  unchanged?: boolean;
  id: string;
  ring: RingName;
  /** The blob, or what the worker is to craft it from. */
  sealed?: string;
  craft?: CraftItem;
  /** What it must open to, when that is known. */
  digest?: string;
}

export interface BlobContext {
  rng: Prng;
  originals: readonly Original[];
  atLimit: readonly Original[];
  bombs: readonly Original[];
  /** Key ids of the worker's secrets, read from blobs each sealed. */
  keyIds: Record<SecretRole, Uint8Array>;
  maxBytes: number;
}

export interface BlobMutator {
  name: string;
  expect: Expectation;
  mutate(ctx: BlobContext): BlobCase;
}

const HEADER_BYTES = 22;
const TAG_BYTES = 16;

const bytesOf = (sealed: string) => new Uint8Array(Buffer.from(sealed, "base64url"));
const textOf = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64url");
/** The ring a sound blob of this secret opens with. */
const ringOf = (o: Original): RingName => (o.secret === "next" ? "rotated" : "own");

/** A blob sealed with a secret the worker holds. */
function sound(ctx: BlobContext): Original {
  for (;;) {
    const o = ctx.rng.pick(ctx.originals);
    if (o.secret !== "other") return o;
  }
}

/** A damaged copy of `o`: must be refused, unless the damage happens to change no byte. */
function damaged(o: Original, bytes: Uint8Array): BlobCase {
  const sealed = textOf(bytes);
  return sealed === o.sealed
    ? { expect: "equal", unchanged: true, id: o.id, ring: ringOf(o), sealed, digest: o.digest }
    : { expect: "reject", id: o.id, ring: ringOf(o), sealed };
}

/** Changes `count` distinct bits of `bytes[from, to)`. */
function flipBits(rng: Prng, bytes: Uint8Array, count: number, from = 0, to = bytes.length): Uint8Array {
  const out = bytes.slice();
  const bits = new Set<number>();
  while (bits.size < Math.min(count, (to - from) * 8)) bits.add(from * 8 + rng.int((to - from) * 8));
  for (const bit of bits) out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** The plaintext of `o`, as its own secret would frame it with another body: authenticated, never written so. */
function crafted(o: Original, body: Uint8Array, flags: number, expect: Expectation, digest?: string): BlobCase {
  const craft: CraftItem = {
    id: o.id,
    version: o.version,
    formatVersion: 1,
    flags,
    secret: o.secret,
    body: textOf(body),
  };
  return { expect, id: o.id, ring: ringOf(o), craft, ...(digest !== undefined ? { digest } : {}) };
}

/** What the codec opens an authenticated deflate body to, when Node's zlib can inflate it within the bound. */
function inflatedDigest(version: number, body: Uint8Array, maxBytes: number): string | undefined {
  try {
    const out = inflateRawSync(body, { maxOutputLength: maxBytes + 1 });
    return out.length > maxBytes ? undefined : digestOf(version, new TextDecoder().decode(out));
  } catch {
    return undefined;
  }
}

const utf8 = (text: string) => new TextEncoder().encode(text);

/** Large bodies made once per run (a 20 MB bomb deflates in tens of milliseconds): the IVs still differ. */
const made = new Map<string, Uint8Array>();
function memo(key: string, make: () => Uint8Array): Uint8Array {
  let body = made.get(key);
  if (body === undefined) made.set(key, (body = make()));
  return body;
}

export const BLOB_MUTATORS: readonly BlobMutator[] = [
  // equal ---------------------------------------------------------------------------------------------------
  {
    name: "unmodified",
    expect: "equal",
    mutate: (ctx) => {
      const o = sound(ctx);
      return { expect: "equal", id: o.id, ring: ringOf(o), sealed: o.sealed, digest: o.digest };
    },
  },
  {
    name: "rotated-ring",
    expect: "equal",
    mutate: (ctx) => {
      // Sealed with the secret that is now the previous one: the rotated ring still opens it.
      let o = sound(ctx);
      while (o.secret !== "own") o = sound(ctx);
      return { expect: "equal", id: o.id, ring: "rotated", sealed: o.sealed, digest: o.digest };
    },
  },
  {
    name: "at-limit",
    expect: "equal",
    mutate: (ctx) => {
      const o = ctx.rng.pick(ctx.atLimit);
      return { expect: "equal", id: o.id, ring: "own", sealed: o.sealed, digest: o.digest };
    },
  },
  {
    name: "recompressed",
    expect: "equal",
    mutate: (ctx) => {
      // Another deflate encoder's stream (any level, 0 = stored blocks) is the same plaintext.
      const o = sound(ctx);
      const body = deflateRawSync(utf8(o.plaintext), { level: ctx.rng.between(0, 9) });
      return crafted(o, body, 1, "equal", o.digest);
    },
  },
  {
    name: "stored-uncompressed",
    expect: "equal",
    mutate: (ctx) => {
      const o = ctx.rng.chance(0.1) ? ctx.rng.pick(ctx.atLimit) : sound(ctx);
      return crafted(o, utf8(o.plaintext), 0, "equal", o.digest);
    },
  },
  // reject: unauthenticated damage ---------------------------------------------------------------------------
  {
    name: "truncated",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      const bytes = bytesOf(o.sealed);
      return damaged(o, bytes.subarray(0, ctx.rng.int(bytes.length)));
    },
  },
  {
    name: "bit-flip",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      return damaged(o, flipBits(ctx.rng, bytesOf(o.sealed), ctx.rng.between(1, 8)));
    },
  },
  {
    name: "bytes-inserted-or-deleted",
    expect: "reject",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      const bytes = bytesOf(o.sealed);
      const at = rng.int(bytes.length);
      const n = rng.between(1, 16);
      const out = rng.chance(0.5)
        ? Buffer.concat([bytes.subarray(0, at), rng.bytes(n), bytes.subarray(at)])
        : Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + n))]);
      return damaged(o, out);
    },
  },
  {
    name: "spliced",
    expect: "reject",
    mutate: (ctx) => {
      // The head of one blob on the tail of another (the same session's, or another's).
      const { rng } = ctx;
      const o = sound(ctx);
      const other = rng.chance(0.5) ? rng.pick(ctx.originals) : o;
      const a = bytesOf(o.sealed);
      const b = bytesOf(other.sealed);
      return damaged(o, Buffer.concat([a.subarray(0, rng.int(a.length + 1)), b.subarray(rng.int(b.length))]));
    },
  },
  {
    name: "moved-to-other-id",
    expect: "reject",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      let id = rng.pick([
        randomId(rng),
        rng.pick(ctx.originals).id,
        o.id.slice(0, 23) + rng.pick([...BASE64URL_ALPHABET]),
      ]);
      if (id === o.id) id = o.id.slice(1) + o.id[0]!.replace(/./, (c) => (c === "A" ? "B" : "A"));
      return { expect: "reject", id, ring: ringOf(o), sealed: o.sealed };
    },
  },
  {
    name: "other-secret",
    expect: "reject",
    mutate: (ctx) => {
      let o = ctx.rng.pick(ctx.originals);
      while (o.secret !== "other") o = ctx.rng.pick(ctx.originals);
      return { expect: "reject", id: o.id, ring: ctx.rng.pick(["own", "rotated"] as const), sealed: o.sealed };
    },
  },
  {
    name: "next-secret-old-ring",
    expect: "reject",
    mutate: (ctx) => {
      // Sealed after a rotation, opened by an isolate that does not know the new secret yet.
      let o = ctx.rng.pick(ctx.originals);
      while (o.secret !== "next") o = ctx.rng.pick(ctx.originals);
      return { expect: "reject", id: o.id, ring: "own", sealed: o.sealed };
    },
  },
  {
    name: "version-changed",
    expect: "reject",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      const bytes = bytesOf(o.sealed);
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      let version = o.version;
      while (version === o.version)
        version = rng.pick([o.version + 1, o.version - 1, 0, 0xffff_ffff, rng.next()]) >>> 0;
      view.setUint32(6, version);
      return damaged(o, bytes);
    },
  },
  {
    name: "format-changed",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      const bytes = bytesOf(o.sealed);
      bytes[0] = ctx.rng.pick([0, 2, 255, 2 + ctx.rng.int(254)]); // any but 1, the only format there is
      return damaged(o, bytes);
    },
  },
  {
    name: "flags-changed",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      return damaged(o, flipBits(ctx.rng, bytesOf(o.sealed), ctx.rng.between(1, 3), 1, 2));
    },
  },
  {
    name: "key-id-swapped",
    expect: "reject",
    mutate: (ctx) => {
      // Another secret's key id on this blob: it names keys that did not seal it.
      const o = sound(ctx);
      const roles = (["own", "next", "other"] as const).filter((r) => r !== o.secret);
      const bytes = bytesOf(o.sealed);
      bytes.set(ctx.keyIds[ctx.rng.pick(roles)], 2);
      return { ...damaged(o, bytes), ring: ctx.rng.pick(["own", "rotated"] as const) };
    },
  },
  {
    name: "iv-changed",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      return damaged(o, flipBits(ctx.rng, bytesOf(o.sealed), ctx.rng.between(1, 8), 10, HEADER_BYTES));
    },
  },
  {
    name: "tag-changed",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      const bytes = bytesOf(o.sealed);
      return damaged(o, flipBits(ctx.rng, bytes, ctx.rng.between(1, 8), bytes.length - TAG_BYTES, bytes.length));
    },
  },
  {
    name: "random-base64",
    expect: "reject",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      const bytes = rng.bytes(rng.logBetween(1, 4000));
      if (rng.chance(0.5) && bytes.length > 0) bytes[0] = 1; // past the format check, to the key id
      return { expect: "reject", id: o.id, ring: ringOf(o), sealed: textOf(bytes) };
    },
  },
  {
    name: "not-base64",
    expect: "reject",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      const bad = rng.pick(["+", "/", "=", " ", ".", "é", "\n", "%", "😀", "\u0000"]);
      const at = rng.int(o.sealed.length + 1);
      const sealed = rng.chance(0.8)
        ? o.sealed.slice(0, at) + bad + o.sealed.slice(at)
        : Array.from({ length: rng.between(1, 200) }, () => String.fromCharCode(rng.between(1, 0x2fff))).join("");
      return {
        expect: "reject",
        id: o.id,
        ring: ringOf(o),
        sealed: /^[A-Za-z0-9_-]*$/.test(sealed) ? `${sealed}!` : sealed,
      };
    },
  },
  {
    name: "standard-base64",
    expect: "reject",
    mutate: (ctx) => {
      // The same bytes in base64 with padding or "+/": not the codec's alphabet.
      const o = sound(ctx);
      const bytes = Buffer.from(bytesOf(o.sealed));
      let sealed = bytes.toString("base64");
      if (/^[A-Za-z0-9_-]*$/.test(sealed)) sealed += "==";
      return { expect: "reject", id: o.id, ring: ringOf(o), sealed };
    },
  },
  {
    name: "empty",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      return { expect: "reject", id: o.id, ring: ringOf(o), sealed: ctx.rng.pick(["", "A", "AA", "AAA", "AAAA"]) };
    },
  },
  {
    name: "oversized-string",
    expect: "reject",
    mutate: (ctx) => {
      // Longer than any blob of a plaintext within the bound could be: refused before it is decoded.
      const { rng } = ctx;
      const o = sound(ctx);
      const bound = Math.floor(((ctx.maxBytes + HEADER_BYTES + TAG_BYTES) * 4) / 3 + 4);
      const head = o.sealed.slice(0, 40);
      return {
        expect: "reject",
        id: o.id,
        ring: ringOf(o),
        sealed: head + "A".repeat(bound + rng.between(1, 4096) - head.length),
      };
    },
  },
  {
    name: "bomb-sealed",
    expect: "reject",
    mutate: (ctx) => {
      // A sound blob whose plaintext is past the bound: refused while it inflates.
      const o = ctx.rng.pick(ctx.bombs);
      return { expect: "reject", id: o.id, ring: "own", sealed: o.sealed };
    },
  },
  {
    name: "bomb-crafted",
    expect: "reject",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      const size = rng.pick([ctx.maxBytes + 1, 2 * ctx.maxBytes, 1 << 20, 4 << 20, 20 << 20]);
      const fill = rng.pick([0x00, 0x20, 0x7b]);
      return crafted(
        o,
        memo(`bomb ${size} ${fill}`, () => deflateRawSync(Buffer.alloc(size, fill), { level: 9 })),
        1,
        "reject",
      );
    },
  },
  {
    name: "over-limit-uncompressed",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      const length = ctx.maxBytes + ctx.rng.between(1, 16);
      return crafted(
        o,
        memo(`over ${length}`, () => utf8(envelopeOfLength(ctx.rng, length, false))),
        0,
        "reject",
      );
    },
  },
  {
    name: "not-json",
    expect: "reject",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      const body = rng.chance(0.5)
        ? rng.bytes(rng.logBetween(1, 2000)) // mostly not UTF-8 either
        : utf8(o.plaintext.slice(0, rng.int(o.plaintext.length)));
      return crafted(o, body, 0, "reject");
    },
  },
  {
    name: "bad-layout",
    expect: "reject",
    mutate: (ctx) => {
      const o = sound(ctx);
      const text = ctx.rng.pick([
        "[]",
        "null",
        "{}",
        '"text"',
        "1e999",
        '{"c":1}',
        '{"c":"1","w":2,"x":1}',
        '{"c":1,"w":2,"t":"abcdefgh","d":[]}',
        '{"c":1,"w":2,"t":1,"d":{}}',
        '{"c":1,"w":2,"t":"abcdefgh","d":null}',
        '{"c":1,"w":2,"t":"abcdefgh"}',
        '{"c":1,"w":2,"x":2}',
        '{"c":1,"w":2,"g":"soon"}',
      ]);
      return ctx.rng.chance(0.5)
        ? crafted(o, utf8(text), 0, "reject")
        : crafted(o, deflateRawSync(utf8(text)), 1, "reject");
    },
  },
  // typed: authenticated, never written so --------------------------------------------------------------------
  {
    name: "damaged-deflate",
    expect: "typed",
    mutate: (ctx) => {
      const { rng } = ctx;
      const o = sound(ctx);
      const stream = deflateRawSync(utf8(o.plaintext), { level: rng.between(1, 9) });
      const body = rng.chance(0.5)
        ? stream.subarray(0, rng.int(stream.length))
        : flipBits(rng, stream, rng.between(1, 4));
      return crafted(o, body, 1, "typed", inflatedDigest(o.version, body, ctx.maxBytes));
    },
  },
  {
    name: "garbage-deflate",
    expect: "typed",
    mutate: (ctx) => {
      const o = sound(ctx);
      const body = ctx.rng.bytes(ctx.rng.logBetween(1, 4000));
      return crafted(o, body, 1, "typed", inflatedDigest(o.version, body, ctx.maxBytes));
    },
  },
  {
    name: "declared-size",
    expect: "typed",
    mutate: (ctx) => {
      // Stored blocks that declare more bytes than follow, or a length whose complement is wrong.
      const { rng } = ctx;
      const o = sound(ctx);
      const len = rng.pick([0xffff, 0x8000, rng.int(0x10000)]);
      const nlen = rng.chance(0.8) ? ~len & 0xffff : rng.int(0x10000);
      const head = Buffer.from([rng.pick([0, 1]), len & 0xff, len >> 8, nlen & 0xff, nlen >> 8]);
      const body = Buffer.concat([head, rng.bytes(rng.int(Math.min(len, 4000)))]);
      return crafted(o, body, 1, "typed", inflatedDigest(o.version, body, ctx.maxBytes));
    },
  },
  {
    name: "deep-json",
    expect: "typed",
    mutate: (ctx) => {
      const o = sound(ctx);
      const depth = ctx.rng.logBetween(10, 60_000);
      const plaintext = `{"c":1,"w":2,"t":"abcdefgh","d":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
      const body = utf8(plaintext);
      const digest = digestOf(o.version, plaintext);
      return ctx.rng.chance(0.5)
        ? crafted(o, body, 0, "typed", digest)
        : crafted(o, deflateRawSync(body), 1, "typed", digest);
    },
  },
];
