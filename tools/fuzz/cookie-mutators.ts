import type { Signers } from "./cookie-signing.js";
import {
  BASE64_ALPHABET,
  changeOneChar,
  COOKIE_VALUE_ALPHABET,
  encodeValue,
  flipSignatureBits,
  forgedSignedValue,
  headerBytes,
  insertAt,
  sendableByte,
  splitSigned,
  UNICODE_SAMPLES,
  unrelatedName,
} from "./cookie-text.js";
import { BASE64URL_ALPHABET, type Prng } from "./prng.js";
import { ID_COOKIE, VERSION_COOKIE, type SessionPool, type ValidSession } from "./session-pool.js";

/*
 * Cookie headers built from the pool's genuine cookies. Which session a header may open is decided per
 * case by the oracle (cookie-oracle.ts), not by the mutator; the family says what the mutator is for:
 *
 * - equivalent: the genuine id cookie, written another way or with other cookies around it. It must open
 *   its session (the fuzz checks that each of these did, at least sometimes).
 * - forged: the id cookie altered, replaced, absent or signed by someone else. It must open nothing.
 * - signed: values signed with the worker's own secret (the fuzz knows the test secret) that the worker
 *   would never issue, to reach the parsing behind the signature: versions at the ends of the range, ids
 *   of the wrong shape, unknown ids.
 * - noise: random, unicode, huge or repeated; it opens the session only where the genuine cookie survived.
 */
export type Family = "equivalent" | "forged" | "signed" | "noise";

export interface MutationContext {
  rng: Prng;
  pool: SessionPool;
  sign: Signers;
}

export interface CookieMutator {
  name: string;
  family: Family;
  /** The Cookie header to send (code units 0–255: the bytes on the wire). */
  mutate(ctx: MutationContext): Promise<string> | string;
}

/** A pool session, and another one (when the pool has more than one). */
function sessions(ctx: MutationContext): [ValidSession, ValidSession] {
  const { slots } = ctx.pool;
  const first = ctx.rng.int(slots.length);
  const second = slots.length > 1 ? (first + 1 + ctx.rng.int(slots.length - 1)) % slots.length : first;
  return [slots[first]!, slots[second]!];
}

const decodedId = (s: ValidSession) => decodeURIComponent(s.idCookie);
const decodedVersion = (s: ValidSession) => decodeURIComponent(s.versionCookie);
const idPair = (value: string) => `${ID_COOKIE}=${value}`;
const versionPair = (value: string) => `${VERSION_COOKIE}=${value}`;
const withId = (s: ValidSession, versionValue: string) => `${idPair(s.idCookie)}; ${versionPair(versionValue)}`;
const writeTag = (rng: Prng) => rng.string(BASE64URL_ALPHABET, 8);

/** Versions at and past every edge: the parser's (\d{1,10}, at most 2³¹−1), uint32's, and Number()'s. */
const EDGE_VERSIONS = [
  "0",
  "1",
  "2",
  "2147483647",
  "2147483648",
  "4294967294",
  "4294967295",
  "4294967296",
  "9999999999",
  "99999999999",
  "0000000001",
  "-1",
  "NaN",
  "1e3",
  "0x1f",
  "",
  " 7",
  "1.5",
];

export const COOKIE_MUTATORS: readonly CookieMutator[] = [
  // equivalent ---------------------------------------------------------------------------------------------
  { name: "valid", family: "equivalent", mutate: (ctx) => ctx.pool.header(sessions(ctx)[0]) },
  { name: "reordered", family: "equivalent", mutate: (ctx) => ctx.pool.header(sessions(ctx)[0], "version-first") },
  {
    name: "extra-cookies",
    family: "equivalent",
    mutate: (ctx) => {
      const { rng } = ctx;
      const pairs = ctx.pool.header(sessions(ctx)[0]).split("; ");
      for (let n = rng.between(1, 20); n > 0; n--) {
        const pair = `${unrelatedName(rng, [ID_COOKIE, VERSION_COOKIE])}=${rng.string(COOKIE_VALUE_ALPHABET, rng.between(0, 40))}`;
        pairs.splice(rng.int(pairs.length + 1), 0, pair);
      }
      return pairs.join("; ");
    },
  },
  {
    name: "whitespace",
    family: "equivalent",
    mutate: (ctx) => {
      const { rng } = ctx;
      const space = () => rng.pick(["", " ", "  ", "\t", " \t "]);
      const separator = () => rng.pick([";", "; ", " ; ", ";\t", ";;", "; ; "]);
      const pairs = ctx.pool.header(sessions(ctx)[0]).split("; ");
      const spaced = pairs.map((pair) => {
        const at = pair.indexOf("=");
        return `${space()}${pair.slice(0, at)}${space()}=${space()}${pair.slice(at + 1)}${space()}`;
      });
      return `${rng.chance(0.3) ? separator() : ""}${spaced.join(separator())}${rng.chance(0.3) ? separator() : ""}`;
    },
  },
  {
    name: "quoted",
    family: "equivalent",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      return `${idPair(`"${s.idCookie}"`)}; ${versionPair(`"${s.versionCookie}"`)}`;
    },
  },
  {
    name: "unencoded",
    family: "equivalent",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      // "=", "+" and "/" as they are: well-formed for the parser, which has nothing to decode then.
      return `${idPair(decodedId(s))}; ${versionPair(decodedVersion(s))}`;
    },
  },
  {
    name: "over-encoded",
    family: "equivalent",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const hex = (c: string) => c.charCodeAt(0).toString(16).padStart(2, "0");
      const encoded = [...decodedId(s)]
        .map((c) => (rng.chance(0.4) ? `%${rng.chance(0.5) ? hex(c).toUpperCase() : hex(c)}` : encodeURIComponent(c)))
        .join("");
      return `${idPair(encoded)}; ${versionPair(s.versionCookie)}`;
    },
  },
  {
    name: "signature-spare-bits",
    family: "equivalent",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const { signed, signature } = splitSigned(decodedId(s));
      // 43 characters carry 258 bits for 256: the last one's two low bits are not part of the signature.
      const last = BASE64_ALPHABET.indexOf(signature[42]!);
      const spare = (last & ~3) | ((last + 1 + rng.int(3)) & 3);
      const respelled = `${signature.slice(0, 42)}${BASE64_ALPHABET[spare]}=`;
      return withId({ ...s, idCookie: encodeValue(`${signed}.${respelled}`) }, s.versionCookie);
    },
  },
  {
    name: "duplicate-genuine-first",
    family: "equivalent",
    mutate: (ctx) => `${ctx.pool.header(sessions(ctx)[0])}; ${idPair(encodeValue(forgedSignedValue(ctx.rng)))}`,
  },
  { name: "no-version-cookie", family: "equivalent", mutate: (ctx) => idPair(sessions(ctx)[0].idCookie) },
  {
    name: "version-damaged",
    family: "equivalent",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const { signed, signature } = splitSigned(decodedVersion(s));
      const damaged = rng.pick([
        () => `${signed}.${flipSignatureBits(signature, rng, rng.between(1, 3))}`,
        () => changeOneChar(signed, BASE64URL_ALPHABET, rng) + `.${signature}`,
        () => decodedVersion(s).slice(0, rng.int(decodedVersion(s).length)),
        () => rng.string(COOKIE_VALUE_ALPHABET, rng.between(0, 120)),
        () => "",
      ])();
      return withId(s, encodeValue(damaged));
    },
  },
  {
    name: "version-of-other-session",
    family: "equivalent",
    mutate: (ctx) => {
      const [s, other] = sessions(ctx);
      return withId(s, other.versionCookie);
    },
  },
  {
    name: "version-unsigned-huge",
    family: "equivalent",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const { signature } = splitSigned(decodedVersion(s));
      const huge = rng.pick(["4294967296", "99999999999999999999", "-1", "NaN", "1e309", "Infinity"]);
      return withId(s, encodeValue(`${s.id}.${huge}.${writeTag(rng)}.${signature}`));
    },
  },
  // signed (with the worker's own secret) ------------------------------------------------------------------
  {
    name: "signed-version-edge",
    family: "signed",
    mutate: async (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const tag = rng.pick([writeTag(rng), writeTag(rng), "", "abcdefg", "abcdefghi", "+/+/+/+/"]);
      return withId(s, await ctx.sign.own(VERSION_COOKIE, `${s.id}.${rng.pick(EDGE_VERSIONS)}.${tag}`));
    },
  },
  {
    name: "signed-version-other-id",
    family: "signed",
    mutate: async (ctx) => {
      const [s, other] = sessions(ctx);
      return withId(s, await ctx.sign.own(VERSION_COOKIE, `${other.id}.${ctx.rng.between(1, 9)}.${writeTag(ctx.rng)}`));
    },
  },
  {
    name: "signed-unknown-id",
    family: "signed",
    mutate: async (ctx) => {
      const { rng } = ctx;
      const id = rng.string(BASE64URL_ALPHABET, 24);
      const header = idPair(await ctx.sign.own(ID_COOKIE, id));
      // With a version, the worker waits a little for a write that never comes, then starts a new session.
      if (rng.chance(0.5)) return header;
      return `${header}; ${versionPair(await ctx.sign.own(VERSION_COOKIE, `${id}.${rng.between(1, 4)}.${writeTag(rng)}`))}`;
    },
  },
  {
    name: "signed-malformed-id",
    family: "signed",
    mutate: async (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const value = rng.pick([
        s.id.slice(0, 23),
        `${s.id}A`,
        `${s.id.slice(0, 23)}+`,
        `${s.id.slice(0, 22)}/=`,
        `${s.id.slice(0, 23)}é`,
        `${s.id} `,
        ` ${s.id}`,
        s.id.toLowerCase() === s.id ? s.id.toUpperCase() : s.id.toLowerCase(),
        `${s.id}.1.${writeTag(rng)}`,
        "",
        "😀".repeat(12),
      ]);
      return withId({ ...s, idCookie: await ctx.sign.own(ID_COOKIE, value) }, s.versionCookie);
    },
  },
  // forged -------------------------------------------------------------------------------------------------
  {
    name: "id-signature-bit-flip",
    family: "forged",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      const { signed, signature } = splitSigned(decodedId(s));
      const flipped = flipSignatureBits(signature, ctx.rng, ctx.rng.between(1, 3));
      return withId({ ...s, idCookie: encodeValue(`${signed}.${flipped}`) }, s.versionCookie);
    },
  },
  {
    name: "id-char-changed",
    family: "forged",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      const { signed, signature } = splitSigned(decodedId(s));
      return withId(
        { ...s, idCookie: encodeValue(`${changeOneChar(signed, BASE64URL_ALPHABET, ctx.rng)}.${signature}`) },
        s.versionCookie,
      );
    },
  },
  {
    name: "id-truncated",
    family: "forged",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      const decoded = decodedId(s);
      return withId({ ...s, idCookie: encodeValue(decoded.slice(0, ctx.rng.int(decoded.length))) }, s.versionCookie);
    },
  },
  {
    name: "id-extended",
    family: "forged",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const { signed, signature } = splitSigned(decodedId(s));
      const extra = rng.string(BASE64_ALPHABET, rng.between(1, 50));
      const value = rng.pick([
        `${signed}${extra}.${signature}`,
        `${insertAt(signed, extra, rng)}.${signature}`,
        `${signed}.${signature}${extra}`,
        `${signed}.${extra}.${signature}`,
      ]);
      return withId({ ...s, idCookie: encodeValue(value) }, s.versionCookie);
    },
  },
  {
    name: "signature-of-other-session",
    family: "forged",
    mutate: (ctx) => {
      const [s, other] = sessions(ctx);
      const value = `${splitSigned(decodedId(s)).signed}.${splitSigned(decodedId(other)).signature}`;
      return withId({ ...s, idCookie: encodeValue(value) }, s.versionCookie);
    },
  },
  {
    name: "signature-missing",
    family: "forged",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      return withId({ ...s, idCookie: ctx.rng.pick([s.id, `${s.id}.`, `${s.id}..`]) }, s.versionCookie);
    },
  },
  {
    name: "signature-reshaped",
    family: "forged",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const { signed, signature } = splitSigned(decodedId(s));
      const urlAlphabet = signature.replace(/\+/g, "-").replace(/\//g, "_");
      const reshaped = rng.pick([
        signature.slice(0, -1), // unpadded
        `${signature}=`, // padded twice
        urlAlphabet !== signature ? urlAlphabet : signature.slice(0, -1),
        `${signature.slice(0, -1)}A`,
      ]);
      return withId({ ...s, idCookie: encodeValue(`${signed}.${reshaped}`) }, s.versionCookie);
    },
  },
  {
    name: "names-swapped",
    family: "forged",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      return `${idPair(s.versionCookie)}; ${versionPair(s.idCookie)}`;
    },
  },
  {
    name: "version-value-as-id",
    family: "forged",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      return `${idPair(s.versionCookie)}; ${versionPair(s.versionCookie)}`;
    },
  },
  {
    name: "other-instance",
    family: "forged",
    mutate: async (ctx) => {
      const [s] = sessions(ctx);
      const id = await ctx.sign.other(ID_COOKIE, s.id);
      const version = await ctx.sign.other(VERSION_COOKIE, `${s.id}.${ctx.rng.between(1, 9)}.${writeTag(ctx.rng)}`);
      return `${idPair(id)}; ${versionPair(version)}`;
    },
  },
  {
    name: "duplicate-forged-first",
    // A forged id cookie tossed in front of the genuine one: passed over, the genuine one opens its session.
    family: "equivalent",
    mutate: (ctx) => `${idPair(encodeValue(forgedSignedValue(ctx.rng)))}; ${ctx.pool.header(sessions(ctx)[0])}`,
  },
  {
    name: "empty-values",
    family: "forged",
    mutate: (ctx) =>
      ctx.rng.pick([
        "",
        `${ID_COOKIE}=`,
        `${ID_COOKIE}=; ${VERSION_COOKIE}=`,
        `${ID_COOKIE}=""`,
        ID_COOKIE,
        "=",
        ";",
        `=${sessions(ctx)[0].idCookie}`,
        `${VERSION_COOKIE}=${sessions(ctx)[0].versionCookie}`,
      ]),
  },
  {
    name: "name-case-changed",
    family: "forged",
    mutate: (ctx) => {
      const [s] = sessions(ctx);
      const name = ctx.rng.pick(["jsessionid", "JSessionID", "JSESSIONId", "JSESSION_ID", "JSESSIONID_V"]);
      return `${name}=${s.idCookie}; ${versionPair(s.versionCookie)}`;
    },
  },
  // noise --------------------------------------------------------------------------------------------------
  {
    name: "random-bytes",
    family: "noise",
    mutate: (ctx) => {
      const { rng } = ctx;
      let text = "";
      for (let n = rng.logBetween(1, 4000); n > 0; n--) text += sendableByte(rng);
      return rng.chance(0.5) ? `${ID_COOKIE}=${text}` : text;
    },
  },
  {
    name: "unicode",
    family: "noise",
    mutate: (ctx) => {
      const { rng } = ctx;
      let header = ctx.pool.header(sessions(ctx)[0]);
      for (let n = rng.between(1, 5); n > 0; n--) header = insertAt(header, rng.pick(UNICODE_SAMPLES), rng);
      return headerBytes(header);
    },
  },
  {
    name: "oversized",
    family: "noise",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const size = rng.between(4 * 1024, 64 * 1024);
      return rng.pick([
        () => `big=${"x".repeat(size)}; ${ctx.pool.header(s)}`,
        () => `${ctx.pool.header(s)}; big=${rng.string(COOKIE_VALUE_ALPHABET, size)}`,
        () => withId({ ...s, idCookie: s.idCookie + "A".repeat(size) }, s.versionCookie),
        () => idPair(rng.string(BASE64URL_ALPHABET, size)),
        () => withId(s, s.versionCookie + "0".repeat(size)),
      ])();
    },
  },
  {
    name: "repeated-names",
    family: "noise",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const pairs: string[] = [];
      for (let n = rng.logBetween(2, 500); n > 0; n--) {
        pairs.push(
          rng.chance(0.7)
            ? idPair(encodeValue(forgedSignedValue(rng)))
            : versionPair(rng.string(COOKIE_VALUE_ALPHABET, 20)),
        );
      }
      // Sometimes the genuine cookies too, anywhere among them: they count only if their name comes first.
      if (rng.chance(0.6)) pairs.splice(rng.int(pairs.length + 1), 0, ctx.pool.header(s));
      return pairs.join("; ");
    },
  },
  {
    name: "percent-garbage",
    family: "noise",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      let value = s.idCookie;
      for (let n = rng.between(1, 3); n > 0; n--) {
        value = insertAt(value, rng.pick(["%", "%G1", "%E0%A4%A", "%00", "%0A", "%3B", "%C0%AF", "%FF", "%%"]), rng);
      }
      return withId({ ...s, idCookie: value }, s.versionCookie);
    },
  },
  {
    name: "separators",
    family: "noise",
    mutate: (ctx) => {
      const { rng } = ctx;
      const [s] = sessions(ctx);
      const id = idPair(s.idCookie);
      const version = versionPair(s.versionCookie);
      return rng.pick([
        `${id}, ${version}`,
        `${version}, ${id}`,
        `${id} ${version}`,
        `${id}${version}`,
        `${ID_COOKIE}==${s.idCookie}`,
        `${ID_COOKIE}=${s.idCookie}=`,
        `${id};${version}`,
        `${id}\t;\t${version}`,
      ]);
    },
  },
  {
    name: "many-cookies",
    family: "noise",
    mutate: (ctx) => {
      const { rng } = ctx;
      const pairs: string[] = [];
      for (let n = rng.logBetween(100, 2000); n > 0; n--) {
        pairs.push(
          `${unrelatedName(rng, [ID_COOKIE, VERSION_COOKIE])}=${rng.string(COOKIE_VALUE_ALPHABET, rng.between(0, 20))}`,
        );
      }
      pairs.splice(rng.int(pairs.length + 1), 0, ctx.pool.header(sessions(ctx)[0]));
      return pairs.join("; ");
    },
  },
];
