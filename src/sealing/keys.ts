import { encodeBase64Url } from "./base64url.js";
import type { Secret } from "../config/secret.js";

/** Every key the layer uses, each derived from `sessionSecret` for one purpose only. */
export interface SessionKeys {
  /** Names the secret inside sealed blobs, so a rotated secret is recognised instead of failing as tampering. */
  keyId: Uint8Array<ArrayBuffer>;
  /** AES-256-GCM key that seals session payloads. */
  payload: CryptoKey;
  /** Raw HMAC-SHA-256 key for the signed cookie (hono/cookie takes raw key bytes). */
  cookie: Uint8Array<ArrayBuffer>;
  /** HMAC-SHA-256 key that turns a session id into its store key. */
  storeKey: CryptoKey;
}

const SALT = new TextEncoder().encode("hono-edge-session/hkdf-salt/v1");

/** HKDF-SHA-256, one `info` per purpose. Called once per isolate (the runtime keeps the result). */
export async function deriveKeys(secret: Secret): Promise<SessionKeys> {
  const master = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret.reveal()), "HKDF", false, [
    "deriveBits",
  ]);
  const bits = async (purpose: string, length: number) =>
    new Uint8Array(
      await crypto.subtle.deriveBits(
        { name: "HKDF", hash: "SHA-256", salt: SALT, info: new TextEncoder().encode(purpose) },
        master,
        length,
      ),
    );
  const [keyId, payloadBytes, cookie, storeKeyBytes] = await Promise.all([
    bits("key-id/v1", 32),
    bits("payload-encryption/v1", 256),
    bits("cookie-signing/v1", 256),
    bits("store-key/v1", 256),
  ]);
  const [payload, storeKey] = await Promise.all([
    crypto.subtle.importKey("raw", payloadBytes, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]),
    crypto.subtle.importKey("raw", storeKeyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]),
  ]);
  return { keyId, payload, cookie, storeKey };
}

/** The store key of a session: a keyed hash, so a dump of the store holds no id that a cookie could carry. */
export async function storeKeyOf(keys: SessionKeys, sessionId: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", keys.storeKey, new TextEncoder().encode(sessionId));
  return encodeBase64Url(new Uint8Array(mac));
}
