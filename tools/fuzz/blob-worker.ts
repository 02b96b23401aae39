import { Secret } from "../../src/config/secret.js";
import { SealError } from "../../src/errors.js";
import { decodeBase64Url, encodeBase64Url } from "../../src/sealing/base64url.js";
import { seal, unseal } from "../../src/sealing/codec.js";
import { openEnvelope } from "../../src/sealing/envelope.js";
import { deriveKeys, KeyRing, type SessionKeys } from "../../src/sealing/keys.js";
import type { CraftItem, OpenOutcome, OpenRequest, RingName, SealItem, SecretRole } from "./blob-protocol.js";

/*
 * The codec in workerd, for the blob fuzz: POST /seal seals with the codec, POST /craft frames bodies the
 * codec would never write, POST /open opens blobs as the store tier does (openEnvelope, with the plaintext
 * bound) and says, per blob, what happened. Many blobs per request: the fuzz is about the codec, not HTTP.
 * An error escaping here is an answer of 500, which the fuzz counts as a crash of the whole batch.
 */
interface Env {
  FUZZ_SECRET_OWN: string;
  FUZZ_SECRET_NEXT: string;
  FUZZ_SECRET_OTHER: string;
}

interface Keys {
  byRole: Record<SecretRole, SessionKeys>;
  rings: Record<RingName, KeyRing>;
}

let keys: Keys | undefined;

async function keysOf(env: Env): Promise<Keys> {
  if (keys !== undefined) return keys;
  const [own, next, other] = await Promise.all(
    [env.FUZZ_SECRET_OWN, env.FUZZ_SECRET_NEXT, env.FUZZ_SECRET_OTHER].map((s) => deriveKeys(new Secret(s))),
  );
  keys = {
    byRole: { own: own!, next: next!, other: other! },
    rings: { own: new KeyRing(own!), rotated: new KeyRing(next!, [own!]) },
  };
  return keys;
}

async function craft(keys: SessionKeys, item: CraftItem): Promise<string> {
  const header = new Uint8Array(22);
  header[0] = item.formatVersion;
  header[1] = item.flags;
  header.set(keys.keyId, 2);
  new DataView(header.buffer).setUint32(6, item.version);
  crypto.getRandomValues(header.subarray(10, 22));
  const id = new TextEncoder().encode(item.id);
  const aad = new Uint8Array(header.length + id.length);
  aad.set(header);
  aad.set(id, header.length);
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: header.subarray(10, 22), additionalData: aad },
    keys.payload,
    decodeBase64Url(item.body),
  );
  const out = new Uint8Array(header.length + ciphertext.byteLength);
  out.set(header);
  out.set(new Uint8Array(ciphertext), header.length);
  return encodeBase64Url(out);
}

async function digest(version: number, plaintext: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${version}:${plaintext}`));
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** One blob opened the store's way; the plaintext it opened to is read with `unseal` (same checks). */
async function open(ring: KeyRing, id: string, sealed: string, maxBytes: number): Promise<OpenOutcome> {
  try {
    const envelope = await openEnvelope(ring, id, sealed, maxBytes);
    const { plaintext } = await unseal(ring, id, sealed, maxBytes);
    return {
      opened: true,
      digest: await digest(envelope.version, plaintext),
      kind: envelope.kind,
      version: envelope.version,
    };
  } catch (error) {
    const name =
      error instanceof SealError ? "SealError" : error instanceof Error ? error.constructor.name : typeof error;
    return { opened: false, error: name, message: error instanceof Error ? error.message : String(error) };
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { byRole, rings } = await keysOf(env);
    const path = new URL(request.url).pathname;
    if (path === "/seal") {
      const items = (await request.json()) as SealItem[];
      const sealed = [];
      for (const item of items) sealed.push(await seal(byRole[item.secret], item.id, item.version, item.plaintext));
      return Response.json(sealed);
    }
    if (path === "/craft") {
      const items = (await request.json()) as CraftItem[];
      const sealed = [];
      for (const item of items) sealed.push(await craft(byRole[item.secret], item));
      return Response.json(sealed);
    }
    if (path === "/open") {
      const { maxBytes, items } = (await request.json()) as OpenRequest;
      const outcomes = [];
      for (const item of items) outcomes.push(await open(rings[item.ring], item.id, item.sealed, maxBytes));
      return Response.json(outcomes);
    }
    return new Response("not found", { status: 404 });
  },
};
