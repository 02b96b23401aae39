import { decodeBase64Url, encodeBase64Url } from "./base64url.js";
import { SealError } from "../errors.js";
import type { KeyRing, SessionKeys } from "./keys.js";

/*
 * Sealed session format (then base64url, unpadded):
 *
 *   offset  size  field
 *   0       1     format version (1)
 *   1       1     flags: bit 0 set = plaintext was compressed with deflate-raw
 *   2       4     key id (derived from the secret: says which secret of the key ring opens it)
 *   6       4     session version, uint32 big-endian
 *   10      12    AES-GCM IV (random)
 *   22      n+16  AES-256-GCM ciphertext and tag
 *
 * The additional authenticated data is the 22-byte header followed by the session id, so a blob opens only
 * for the session it was sealed for, at the version it claims, with the flags it was written with.
 */
const FORMAT_VERSION = 1;
const FLAG_COMPRESSED = 1;
const HEADER_BYTES = 22;
const TAG_BYTES = 16;
/** Below this, deflate's framing costs more than it saves. */
const COMPRESS_FROM_BYTES = 200;
const MAX_VERSION = 0xffff_ffff;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export interface Unsealed {
  version: number;
  plaintext: string;
}

export async function seal(keys: SessionKeys, sessionId: string, version: number, plaintext: string): Promise<string> {
  if (!Number.isInteger(version) || version < 0 || version > MAX_VERSION) {
    throw new RangeError("session version must be a uint32");
  }
  // Always backed by an ArrayBuffer; some lib typings (Node's) say only ArrayBufferLike.
  const raw = encoder.encode(plaintext) as Uint8Array<ArrayBuffer>;
  let body = raw;
  let flags = 0;
  if (raw.length >= COMPRESS_FROM_BYTES) {
    const compressed = await deflate(raw);
    if (compressed.length < raw.length) {
      body = compressed;
      flags |= FLAG_COMPRESSED;
    }
  }
  const header = new Uint8Array(HEADER_BYTES);
  header[0] = FORMAT_VERSION;
  header[1] = flags;
  header.set(keys.keyId, 2);
  new DataView(header.buffer).setUint32(6, version);
  crypto.getRandomValues(header.subarray(10, 22));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv: header.subarray(10, 22), additionalData: aad(header, sessionId) },
    keys.payload,
    body,
  );
  const out = new Uint8Array(HEADER_BYTES + ciphertext.byteLength);
  out.set(header);
  out.set(new Uint8Array(ciphertext), HEADER_BYTES);
  return encodeBase64Url(out);
}

/**
 * Opens a blob sealed for `sessionId` with one of the ring's keys (the key id in the header says which);
 * any mismatch or damage throws a `SealError`. A blob whose plaintext would exceed `maxBytes` is refused,
 * while it inflates: a small blob cannot make the isolate inflate megabytes.
 */
export async function unseal(
  ring: KeyRing,
  sessionId: string,
  sealed: string,
  maxBytes: number = Number.MAX_SAFE_INTEGER,
): Promise<Unsealed> {
  if (sealed.length > ((maxBytes + HEADER_BYTES + TAG_BYTES) * 4) / 3 + 4) {
    throw new SealError(`sealed session is larger than the maximum of ${maxBytes} bytes`);
  }
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = decodeBase64Url(sealed);
  } catch {
    throw new SealError("sealed session is not base64url");
  }
  if (bytes.length < HEADER_BYTES + TAG_BYTES) throw new SealError("sealed session is truncated");
  const header = bytes.subarray(0, HEADER_BYTES);
  if (header[0] !== FORMAT_VERSION) throw new SealError(`unknown sealed format version ${header[0]}`);
  const keys = ring.forKeyId(header.subarray(2, 6));
  if (keys === undefined) throw new SealError("sealed with another secret (key id does not match)");
  let body: Uint8Array<ArrayBuffer>;
  try {
    body = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: header.subarray(10, 22), additionalData: aad(header, sessionId) },
        keys.payload,
        bytes.subarray(HEADER_BYTES),
      ),
    );
  } catch {
    throw new SealError("sealed session failed authentication (tampered, truncated, or not this session's)");
  }
  if ((header[1]! & FLAG_COMPRESSED) !== 0) {
    body = await inflate(body, maxBytes);
  } else if (body.length > maxBytes) {
    throw new SealError(`sealed session is larger than the maximum of ${maxBytes} bytes`);
  }
  const version = new DataView(header.buffer, header.byteOffset).getUint32(6);
  return { version, plaintext: decoder.decode(body) };
}

function aad(header: Uint8Array, sessionId: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(header.length + sessionId.length * 3);
  out.set(header);
  const { written } = encoder.encodeInto(sessionId, out.subarray(header.length));
  return out.subarray(0, header.length + written);
}

/*
 * The streams are written to and read from directly: a Blob's stream piped through the transform costs
 * about as much again as the compression of a small session itself (measured: `npm run bench`, Codec).
 * A write's rejection also errors the readable, which is where it is seen; it is caught here only so
 * that it does not surface a second time as an unhandled rejection.
 */
async function deflate(input: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new CompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  writer.write(input).catch(() => {});
  writer.close().catch(() => {});
  return new Uint8Array(await new Response(stream.readable).arrayBuffer());
}

/** Inflates chunk by chunk and stops (refusing the blob) as soon as the output passes `maxBytes`. */
async function inflate(input: Uint8Array<ArrayBuffer>, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new DecompressionStream("deflate-raw");
  const writer = stream.writable.getWriter();
  writer.write(input).catch(() => {});
  writer.close().catch(() => {});
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      length += value.length;
      if (length > maxBytes) {
        await reader.cancel();
        throw new SealError(`sealed session inflates past the maximum of ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  } catch (error) {
    if (error instanceof SealError) throw error;
    throw new SealError("sealed session does not inflate (damaged)");
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array<ArrayBuffer>;
  const out = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
