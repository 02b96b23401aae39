import { BoundedMap } from "../bounded-map.js";
import type { Secret } from "../config/secret.js";
import { encodeBase64Url } from "./base64url.js";
import { equalBytes } from "./constant-time.js";

/** Every key one secret gives, each derived for one purpose only. */
export interface SessionKeys {
  /** Names the secret inside sealed blobs, so a blob of a previous secret is recognised and opened. */
  keyId: Uint8Array<ArrayBuffer>;
  /** AES-256-GCM key that seals session payloads. */
  payload: CryptoKey;
  /** Raw HMAC-SHA-256 key for the signed cookies (hono/cookie takes raw key bytes). */
  cookie: Uint8Array<ArrayBuffer>;
  /** HMAC-SHA-256 key that turns a session id into the opaque handle a user's session list shows. */
  handle: CryptoKey;
  /** HMAC-SHA-256 key that turns a user id into the key of that user's session index. */
  user: CryptoKey;
}

/**
 * The current secret's keys, which seal, sign and name everything new, and the previous secrets' keys,
 * which still open, verify and find what they made until they are removed.
 */
export class KeyRing {
  /** Every secret's keys, the current first. */
  readonly all: readonly SessionKeys[];

  constructor(
    readonly current: SessionKeys,
    readonly previous: readonly SessionKeys[] = [],
  ) {
    this.all = [current, ...previous];
  }

  /** The keys whose key id is `keyId` (compared in constant time), if the ring has them. */
  forKeyId(keyId: Uint8Array): SessionKeys | undefined {
    let found: SessionKeys | undefined;
    for (const keys of this.all) if (equalBytes(keys.keyId, keyId)) found ??= keys;
    return found;
  }
}

const SALT = new TextEncoder().encode("hono-edge-session/hkdf-salt/v1");

/** HKDF-SHA-256, one `info` per purpose. Called once per isolate and secret (the isolate keeps the result). */
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
  const hmac = async (purpose: string) =>
    crypto.subtle.importKey("raw", await bits(purpose, 256), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const [keyId, payloadBytes, cookie, handle, user] = await Promise.all([
    bits("key-id/v1", 32),
    bits("payload-encryption/v1", 256),
    bits("cookie-signing/v1", 256),
    hmac("session-handle/v1"),
    hmac("user-index/v1"),
  ]);
  const payload = await crypto.subtle.importKey("raw", payloadBytes, { name: "AES-GCM" }, false, [
    "encrypt",
    "decrypt",
  ]);
  return { keyId, payload, cookie, handle, user };
}

/** The ring of the current secret and the previous ones. */
export async function deriveKeyRing(current: Secret, previous: readonly Secret[] = []): Promise<KeyRing> {
  const [first, ...rest] = await Promise.all([current, ...previous].map(deriveKeys));
  return new KeyRing(first!, rest);
}

const STORE_KEY_PREFIX = new TextEncoder().encode("hono-edge-session/store-key/v2:");

/*
 * Names computed lately, so a session written and confirmed again and again in one isolate is not hashed
 * again each time (a hash is about 10 µs of CPU, and Workers bill the CPU of `waitUntil` work too). They
 * hold ids and user ids with their hashes, as the memory tier holds ids anyway, and never a secret; only
 * finished strings, never a pending promise of another request.
 */
/** About 1,000 sessions' (or users') names per purpose: some 150 KB at most. */
const RECENT = 1_024;
const storeKeys = new BoundedMap<string, string>(RECENT);
const macs = new WeakMap<CryptoKey, BoundedMap<string, string>>();

async function mac(key: CryptoKey, text: string): Promise<string> {
  let names = macs.get(key);
  if (names === undefined) macs.set(key, (names = new BoundedMap(RECENT)));
  const known = names.get(text);
  if (known !== undefined) return known;
  return names.set(
    text,
    encodeBase64Url(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(text)))),
  );
}

/**
 * The store key of a session: a hash of the id, so a dump of the store holds no id a cookie could carry
 * (ids are 144 random bits: no one can guess an id from its hash). Not keyed by the secret, so a secret
 * rotation leaves every session where it is: it is sealed again in place on its next write.
 */
export async function storeKeyOf(sessionId: string): Promise<string> {
  const known = storeKeys.get(sessionId);
  if (known !== undefined) return known;
  const id = new TextEncoder().encode(sessionId);
  const input = new Uint8Array(STORE_KEY_PREFIX.length + id.length);
  input.set(STORE_KEY_PREFIX);
  input.set(id, STORE_KEY_PREFIX.length);
  return storeKeys.set(sessionId, encodeBase64Url(new Uint8Array(await crypto.subtle.digest("SHA-256", input))));
}

/** The opaque, stable handle of a session in its user's list: it cannot be turned back into the id. */
export async function handleOf(keys: SessionKeys, sessionId: string): Promise<string> {
  return (await mac(keys.handle, sessionId)).slice(0, 22);
}

/** The key of a user's session index: a keyed hash of the user id. */
export function userKeyOf(keys: SessionKeys, userId: string): Promise<string> {
  return mac(keys.user, userId);
}
