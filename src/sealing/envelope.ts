import { unseal } from "./codec.js";
import { SealError } from "../errors.js";
import type { SessionKeys } from "./keys.js";

/** What a sealed blob holds besides its version (which the codec keeps in the authenticated header). */
export type Envelope =
  /** A live session. */
  | { kind: "data"; json: string; createdAt: number; writtenAt: number }
  /** A destroyed session: kept for the session's lifetime so no in-flight request can write it back. */
  | { kind: "tombstone"; createdAt: number; writtenAt: number }
  /** A regenerated session's old id, for the grace window: it resolves to the new id. */
  | { kind: "redirect"; to: string; createdAt: number; writtenAt: number };

/** The plaintext that gets sealed: a small JSON object around the data (or the marker). */
export function wrap(envelope: Envelope): string {
  const head = `{"c":${envelope.createdAt},"w":${envelope.writtenAt}`;
  switch (envelope.kind) {
    case "data":
      return `${head},"d":${envelope.json}}`;
    case "tombstone":
      return `${head},"x":1}`;
    case "redirect":
      return `${head},"r":${JSON.stringify(envelope.to)}}`;
  }
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
  const { c, w, d, x, r } = (parsed ?? {}) as { c?: unknown; w?: unknown; d?: unknown; x?: unknown; r?: unknown };
  if (typeof c === "number" && typeof w === "number") {
    if (x === 1) return { kind: "tombstone", version, createdAt: c, writtenAt: w };
    if (typeof r === "string") return { kind: "redirect", version, to: r, createdAt: c, writtenAt: w };
    if (typeof d === "object" && d !== null && !Array.isArray(d)) {
      return { kind: "data", version, json: JSON.stringify(d), createdAt: c, writtenAt: w };
    }
  }
  throw new SealError("sealed session has an unknown layout");
}
