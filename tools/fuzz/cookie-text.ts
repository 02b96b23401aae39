import { BASE64URL_ALPHABET, type Prng } from "./prng.js";

/*
 * Pieces of Cookie headers, and the rules that keep a header sendable: Node's fetch (undici) refuses a
 * Cookie header with control characters before anything reaches the worker, and header bytes above 0x7F
 * travel as they are, so text beyond Latin-1 is sent as its UTF-8 bytes.
 */

/** Characters of a standard base64 signature, as hono writes them. */
export const BASE64_ALPHABET = BASE64URL_ALPHABET.slice(0, 62) + "+/";
/** Characters allowed in a cookie name (RFC 6265 token). */
export const COOKIE_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
/** Characters a well-formed cookie value may hold (hono's check); the parser skips values with others. */
export const COOKIE_VALUE_ALPHABET = COOKIE_NAME_ALPHABET + "()/:<=>?@[]{}";
/** Non-ASCII text of several widths: Latin-1, combining marks, CJK, astral (surrogate pairs), BOM. */
export const UNICODE_SAMPLES = ["é", "ÿ", "é", "€", "中文", "😀", "\u{10FFFF}", "\uFEFF", "ß", "İ", "\u200B"];

/** The bytes of a header value as a string of code units 0–255 (UTF-8 for anything beyond Latin-1). */
export function headerBytes(text: string): string {
  const sendable = text.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, "");
  return /[^\u0000-\u00ff]/.test(sendable) ? Buffer.from(sendable, "utf8").toString("latin1") : sendable;
}

/** A byte Node's fetch lets through in a Cookie header: tab, printable ASCII, or 0x80–0xFF. */
export function sendableByte(rng: Prng): string {
  const pick = rng.int(10);
  if (pick === 0) return "\t";
  if (pick < 7) return String.fromCharCode(rng.between(0x20, 0x7e));
  return String.fromCharCode(rng.between(0x80, 0xff));
}

/** A signed cookie value (decoded) split into what was signed and the signature. */
export function splitSigned(decoded: string): { signed: string; signature: string } {
  const dot = decoded.lastIndexOf(".");
  return { signed: decoded.slice(0, dot), signature: decoded.slice(dot + 1) };
}

/** As hono writes a signed value into a cookie. */
export function encodeValue(decoded: string): string {
  return encodeURIComponent(decoded);
}

/** The signature with `bits` distinct bits flipped (in its bytes, so it is always another signature). */
export function flipSignatureBits(signature: string, rng: Prng, bits: number): string {
  const bytes = Uint8Array.from(atob(signature), (c) => c.charCodeAt(0));
  const flipped = new Set<number>();
  while (flipped.size < bits) flipped.add(rng.int(bytes.length * 8));
  for (const bit of flipped) bytes[bit >> 3]! ^= 1 << (bit & 7);
  return btoa(String.fromCharCode(...bytes));
}

/** A forged `id.signature` of the right shape (24 + 1 + 44 characters), well-formed for the parser. */
export function forgedSignedValue(rng: Prng): string {
  return `${rng.string(BASE64URL_ALPHABET, 24)}.${rng.string(BASE64_ALPHABET, 43)}=`;
}

/** A cookie name that is not one of the session's. */
export function unrelatedName(rng: Prng, taken: readonly string[]): string {
  for (;;) {
    const name = rng.string(COOKIE_NAME_ALPHABET, rng.between(1, 16));
    if (!taken.includes(name)) return name;
  }
}

/** Inserts `piece` at a random position of `text`. */
export function insertAt(text: string, piece: string, rng: Prng): string {
  const at = rng.int(text.length + 1);
  return text.slice(0, at) + piece + text.slice(at);
}

/** Replaces one character of `text` with a different one from `alphabet`. */
export function changeOneChar(text: string, alphabet: string, rng: Prng): string {
  const at = rng.int(text.length);
  let replacement = text[at]!;
  while (replacement === text[at]) replacement = alphabet[rng.int(alphabet.length)]!;
  return text.slice(0, at) + replacement + text.slice(at + 1);
}
