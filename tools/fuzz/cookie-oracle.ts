import { parse } from "hono/utils/cookie";

/*
 * Which id cookie values the worker may read from a Cookie header, in the canonical form that decides
 * whether one is genuine. The worker tries the first few pairs of a name in the order sent (a forged one
 * tossed in front is passed over), each read as hono's parser reads it (quotes and percent-encoding removed,
 * a malformed value skipped), and takes the first whose signature holds; here each pair goes through hono's
 * parser on its own.
 *
 * Canonical, because hono checks a signature with `atob`, which ignores the two spare bits of the last
 * base64 character: four spellings of each signature verify. All four carry the genuine signature (no one
 * without it can write any of them), so they are the same credential, and the fuzz must count them as the
 * genuine cookie rather than report the session they open as a leak.
 */

/** `value.signature` with the signature re-encoded canonically; undefined when hono would not verify it. */
export function canonicalSigned(value: string): string | undefined {
  const dot = value.lastIndexOf(".");
  if (dot < 0) return undefined;
  const signature = value.slice(dot + 1);
  // hono's own precondition (parseSigned): 44 characters ending in "=".
  if (signature.length !== 44 || !signature.endsWith("=")) return undefined;
  try {
    return `${value.slice(0, dot)}.${btoa(atob(signature))}`;
  } catch {
    return undefined;
  }
}

/** How many pairs of a name the worker tries (src/request/session-cookie.ts). */
const MAX_PAIRS = 4;

/**
 * The canonical values of the pairs named `name` that the worker tries, in order: the first `MAX_PAIRS`
 * pairs of that name (a name trimmed of spaces and tabs, followed by "="), those hono reads as values.
 */
export function signedCookieCandidates(header: string, name: string): string[] {
  const candidates: string[] = [];
  let pairs = 0;
  for (const piece of header.split(";")) {
    const equals = piece.indexOf("=");
    if (equals < 0 || piece.slice(0, equals).replace(/^[ \t]+|[ \t]+$/g, "") !== name) continue;
    if (++pairs > MAX_PAIRS) break;
    const value = parse(piece, name)[name];
    const canonical = value === undefined ? undefined : canonicalSigned(value);
    if (canonical !== undefined) candidates.push(canonical);
  }
  return candidates;
}

/** A raw cookie value as sent (URL-encoded) → as parsed. */
export function decodedCookieValue(raw: string): string {
  const value = parse(`x=${raw}`, "x")["x"];
  if (value === undefined) throw new Error("the worker set a cookie value its own parser refuses");
  return value;
}
