import { unseal } from "./codec.js";
import { SealError } from "./errors.js";
import type { SessionKeys } from "./keys.js";

/** What a sealed blob holds besides its version (which the codec keeps in the authenticated header). */
export interface Envelope {
  /** The session data as JSON. */
  json: string;
  /** When the session was first saved (ms since epoch). */
  createdAt: number;
  /** When this blob was written: the store's expiry is at least `writtenAt` + timeout. */
  writtenAt: number;
}

/** The plaintext that gets sealed: a small JSON object around the data. */
export function wrap(envelope: Envelope): string {
  return `{"c":${envelope.createdAt},"w":${envelope.writtenAt},"d":${envelope.json}}`;
}

export async function openEnvelope(
  keys: SessionKeys,
  sessionId: string,
  sealed: string,
): Promise<Envelope & { version: number }> {
  const { version, plaintext } = await unseal(keys, sessionId, sealed);
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    throw new SealError("sealed session holds no valid JSON");
  }
  const { c, w, d } = (parsed ?? {}) as { c?: unknown; w?: unknown; d?: unknown };
  if (typeof c !== "number" || typeof w !== "number" || typeof d !== "object" || d === null || Array.isArray(d)) {
    throw new SealError("sealed session has an unknown layout");
  }
  return { version, json: JSON.stringify(d), createdAt: c, writtenAt: w };
}
