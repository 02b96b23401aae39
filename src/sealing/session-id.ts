import { encodeBase64Url } from "./base64url.js";

/** 144 random bits, 24 base64url characters. */
const ID_BYTES = 18;
export const SESSION_ID_PATTERN = "[A-Za-z0-9_-]{24}";

export function newSessionId(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(ID_BYTES)));
}

/** 48 random bits, 8 base64url characters: names one write, so two writes of one version differ. */
const TAG_BYTES = 6;
export const WRITE_TAG_PATTERN = "[A-Za-z0-9_-]{8}";

/**
 * Tags are cut from a pool of random text, refilled 64 tags at a time: one call to the generator and one
 * encoding per 64 writes (6 bytes are exactly 8 base64url characters, so each tag is its own 6 bytes).
 */
const POOLED_TAGS = 64;
let pool = "";
let taken = 0;

export function newWriteTag(): string {
  // Filled on first use, not at module scope (workerd refuses random values there).
  if (taken === pool.length) {
    pool = encodeBase64Url(crypto.getRandomValues(new Uint8Array(TAG_BYTES * POOLED_TAGS)));
    taken = 0;
  }
  taken += 8;
  return pool.slice(taken - 8, taken);
}
