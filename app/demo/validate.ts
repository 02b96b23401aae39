/**
 * Input rules of the demo: a name or a cart item is 1 to 40 printable characters (counted as code points,
 * after trimming). Not printable: control characters, unassigned and private-use code points, lone
 * surrogates, line and paragraph separators, and format characters other than the joiners emoji use
 * (so no bidirectional overrides).
 */
export const MAX_TEXT = 40;
const NOT_PRINTABLE = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]|(?![\u200c\u200d])\p{Cf}/u;

/** The trimmed text, or undefined if it breaks the rules. */
export function printableText(value: unknown, max = MAX_TEXT): string | undefined {
  if (typeof value !== "string") return undefined;
  const text = value.normalize("NFC").trim();
  const length = [...text].length;
  return length >= 1 && length <= max && !NOT_PRINTABLE.test(text) ? text : undefined;
}

/** An opaque session handle as `listSessions()` gives it. */
export const HANDLE = /^[A-Za-z0-9_-]{22}$/;
