import { SealError } from "../errors.js";
import { unseal } from "./codec.js";
import type { KeyRing } from "./keys.js";

/** What a sealed blob holds besides its version (which the codec keeps in the authenticated header). */
export type Envelope =
  /**
   * A live session: its data, the tag of the write that produced this version, the tags of the few writes
   * before it (newest first), and its user, if tied to one.
   */
  | {
      kind: "data";
      json: string;
      tag: string;
      prior?: readonly string[] | undefined;
      createdAt: number;
      writtenAt: number;
      user?: string | undefined;
    }
  /** A destroyed session: kept for the session's lifetime so no request can write it back. */
  | { kind: "tombstone"; createdAt: number; writtenAt: number }
  /**
   * A regenerated session's old id. It never names the new id. Until `graceUntil`, requests with the old
   * id that were in flight may finish (read only); after it the old id is as dead as a destroyed one.
   */
  | { kind: "retired"; createdAt: number; writtenAt: number; graceUntil: number }
  /** The session moved to the store key of the current secret (after a secret rotation). */
  | { kind: "moved"; createdAt: number; writtenAt: number };

/**
 * Room for the envelope around the data, in a sealed plaintext: its times, tags and a user id of at most 256
 * bytes (up to 6 characters each, escaped in JSON) stay well under it. The plaintext bound is the session
 * size limit plus this.
 */
export const ENVELOPE_ROOM_BYTES = 4096;

/** The plaintext that gets sealed: a small JSON object around the data (or the marker). */
export function wrap(envelope: Envelope): string {
  const head = `{"c":${envelope.createdAt},"w":${envelope.writtenAt}`;
  switch (envelope.kind) {
    case "data": {
      const user = envelope.user === undefined ? "" : `,"u":${JSON.stringify(envelope.user)}`;
      const prior = envelope.prior?.length ? `,"p":${JSON.stringify(envelope.prior)}` : "";
      return `${head},"t":${JSON.stringify(envelope.tag)}${prior}${user},"d":${envelope.json}}`;
    }
    case "tombstone":
      return `${head},"x":1}`;
    case "retired":
      return `${head},"g":${envelope.graceUntil}}`;
    case "moved":
      return `${head},"m":1}`;
  }
}

export type OpenedEnvelope = Envelope & { version: number };

/** Opens a sealed envelope; `maxBytes` bounds its plaintext (see `unseal`). */
export async function openEnvelope(
  ring: KeyRing,
  sessionId: string,
  sealed: string,
  maxBytes?: number,
): Promise<OpenedEnvelope> {
  const { version, plaintext } = await unseal(ring, sessionId, sealed, maxBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(plaintext);
  } catch {
    throw new SealError("sealed session holds no valid JSON");
  }
  const { c, w, d, t, p, u, x, g, m } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof c === "number" && typeof w === "number") {
    if (x === 1) return { kind: "tombstone", version, createdAt: c, writtenAt: w };
    if (m === 1) return { kind: "moved", version, createdAt: c, writtenAt: w };
    if (typeof g === "number") return { kind: "retired", version, createdAt: c, writtenAt: w, graceUntil: g };
    if (typeof t === "string" && typeof d === "object" && d !== null && !Array.isArray(d)) {
      // The data is the last member, as `wrap` writes it (the plaintext is authenticated, so the layout is
      // ours, and no member before it can hold the text ',"d":'): its JSON is the rest of the text.
      const at = plaintext.indexOf(',"d":');
      const json = at > 0 && plaintext.endsWith("}") ? plaintext.slice(at + 5, -1) : JSON.stringify(d);
      const user = typeof u === "string" ? u : undefined;
      const prior = Array.isArray(p) ? p.filter((tag): tag is string => typeof tag === "string") : [];
      return { kind: "data", version, json, tag: t, prior, createdAt: c, writtenAt: w, user };
    }
  }
  throw new SealError("sealed session has an unknown layout");
}
