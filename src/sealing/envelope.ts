import { SealError } from "../errors.js";
import { unseal } from "./codec.js";
import type { KeyRing } from "./keys.js";

/** What a sealed blob holds besides its version (which the codec keeps in the authenticated header). */
export type Envelope =
  /**
   * A live session: its data, the tags of the changes it holds (newest first: the write that made it, then
   * those before), its user and since when it is tied to them, if tied.
   */
  | {
      kind: "data";
      json: string;
      tags: readonly string[];
      createdAt: number;
      writtenAt: number;
      user?: string | undefined;
      since?: number | undefined;
    }
  /**
   * A destroyed session: kept longer than any copy of it can live, so no request can write it back. `tag`:
   * the end that wrote it (see `EndPlan`); older markers have none.
   */
  | { kind: "tombstone"; createdAt: number; writtenAt: number; tag?: string | undefined }
  /** A regenerated session's old id: as dead as a destroyed one, and it never names the new id. */
  | { kind: "retired"; createdAt: number; writtenAt: number; tag?: string | undefined };

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
      const [tag = "", ...prior] = envelope.tags;
      const user =
        envelope.user === undefined
          ? ""
          : `,"u":${JSON.stringify(envelope.user)},"s":${envelope.since ?? envelope.createdAt}`;
      const history = prior.length > 0 ? `,"p":${JSON.stringify(prior)}` : "";
      return `${head},"t":${JSON.stringify(tag)}${history}${user},"d":${envelope.json}}`;
    }
    case "tombstone":
      return `${head}${markerTag(envelope.tag)},"x":1}`;
    case "retired":
      return `${head}${markerTag(envelope.tag)},"r":1}`;
  }
}

function markerTag(tag: string | undefined): string {
  return tag === undefined ? "" : `,"t":${JSON.stringify(tag)}`;
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
  const { c, w, d, t, p, u, s, x, r, g } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof c === "number" && typeof w === "number") {
    const tag = typeof t === "string" ? t : undefined;
    if (x === 1) return { kind: "tombstone", version, createdAt: c, writtenAt: w, tag };
    // "g" (a grace window's end) is how 0.2 wrote retirements.
    if (r === 1 || typeof g === "number") return { kind: "retired", version, createdAt: c, writtenAt: w, tag };
    if (typeof t === "string" && typeof d === "object" && d !== null && !Array.isArray(d)) {
      // The data is the last member, as `wrap` writes it (the plaintext is authenticated, so the layout is
      // ours, and no member before it can hold the text ',"d":'): its JSON is the rest of the text.
      const at = plaintext.indexOf(',"d":');
      const json = at > 0 && plaintext.endsWith("}") ? plaintext.slice(at + 5, -1) : JSON.stringify(d);
      const user = typeof u === "string" ? u : undefined;
      const prior = Array.isArray(p) ? p.filter((tag): tag is string => typeof tag === "string") : [];
      const since = typeof s === "number" ? s : c;
      return { kind: "data", version, json, tags: [t, ...prior], createdAt: c, writtenAt: w, user, since };
    }
  }
  throw new SealError("sealed session has an unknown layout");
}
