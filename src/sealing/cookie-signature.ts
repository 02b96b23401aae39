import { encodeBase64 } from "./base64url.js";

/*
 * Signed cookie values in hono's format (`setSignedCookie` / `getSignedCookie` of hono/cookie), so that a
 * cookie signed here verifies there and the other way round: `<value>.<signature>`, the signature the
 * HMAC-SHA-256 of the value in standard base64 with its padding (44 characters, the last "=").
 *
 * hono's helpers take the raw key and import it again on every call (an importKey per cookie set or
 * checked); here the key is imported once per isolate and secret, and the caller keeps it.
 */

const HMAC = { name: "HMAC", hash: "SHA-256" } as const;
const SIGNATURE_CHARS = 44;
const encoder = new TextEncoder();

/** The HMAC key for signing and verifying cookie values, from the raw cookie-signing key. */
export function importCookieKey(raw: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", raw, HMAC, false, ["sign", "verify"]);
}

/** `value.signature`, as hono's `setSignedCookie` signs it (before it percent-encodes the cookie). */
export async function signCookieValue(key: CryptoKey, value: string): Promise<string> {
  const signature = new Uint8Array(await crypto.subtle.sign(HMAC.name, key, encoder.encode(value)));
  return `${value}.${encodeBase64(signature)}`;
}

/**
 * The value of a signed cookie value (`value.signature`, percent-decoded) if `key` signed it, as hono's
 * `getSignedCookie` checks it: the signature after the last ".", 44 characters ending in "=", decoded with
 * `atob`, and compared by `crypto.subtle.verify` (in constant time).
 */
export async function verifyCookieValue(key: CryptoKey, signed: string): Promise<string | undefined> {
  const dot = signed.lastIndexOf(".");
  if (dot < 0) return undefined;
  const signature = signed.slice(dot + 1);
  if (signature.length !== SIGNATURE_CHARS || !signature.endsWith("=")) return undefined;
  const value = signed.slice(0, dot);
  try {
    const binary = atob(signature);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return (await crypto.subtle.verify(HMAC.name, key, bytes, encoder.encode(value))) ? value : undefined;
  } catch {
    return undefined; // not base64: as hono, not signed
  }
}
