import { parse } from "hono/utils/cookie";

/*
 * Which id cookie value the worker will read from a Cookie header, in the canonical form that decides
 * whether it is a genuine one. The worker reads cookies with hono's parser (the first occurrence of a name
 * whose value is well-formed wins, quotes and percent-encoding removed), the same code used here.
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

/** The canonical value of cookie `name` as the worker reads `header`, if any. */
export function readSignedCookie(header: string, name: string): string | undefined {
  const value = parse(header, name)[name];
  return value === undefined ? undefined : canonicalSigned(value);
}

/** A raw cookie value as sent (URL-encoded) → as parsed. */
export function decodedCookieValue(raw: string): string {
  const value = parse(`x=${raw}`, "x")["x"];
  if (value === undefined) throw new Error("the worker set a cookie value its own parser refuses");
  return value;
}
