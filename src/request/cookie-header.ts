/*
 * Finds one cookie in a Cookie header without parsing the others. A browser on a real site sends twenty
 * or more cookies (analytics, consent, CSRF, a bot-management cookie: 2 KB and more), and a full parse
 * splits, trims and decodes every one of them on every request, to read two.
 *
 * What it finds is exactly what hono's `parse(header, name)` (`getCookie(c, name)`) finds: pairs are
 * separated by ";", the name is trimmed of spaces and tabs, the value is trimmed the same way, a value in
 * double quotes loses them, a value with a character cookies may not hold is skipped (a later pair of the
 * same name may then be the one), the first well-formed pair of the name wins, and the value is
 * percent-decoded as hono does (a malformed escape is kept as it is).
 */

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const QUOTE = 0x22;
/** hono's `validCookieValueRegEx`: the characters a cookie value may hold (RFC 6265, and space). */
const VALID_VALUE = /^[ !#-:<-[\]-~]*$/;

const isBlank = (code: number) => code === 0x20 || code === 0x09;

/** The value of the first well-formed cookie called `name` in `header` (a `Cookie` header), decoded. */
export function findCookie(header: string, name: string): string | undefined {
  for (let at = header.indexOf(name); at !== -1; at = header.indexOf(name, at + 1)) {
    const start = valueStart(header, name, at);
    if (start === -1) continue;
    const value = cookieValue(sentText(header, start));
    if (value !== undefined) return value;
  }
  return undefined;
}

/**
 * The value of the first pair called `name` as the browser sent it: not trimmed, checked or decoded. Equal
 * sent texts read alike, so a value this isolate already read and verified is recognised by its text alone.
 * When `cookieValue` of it is undefined, `findCookie` reads a later pair instead.
 */
export function sentCookie(header: string, name: string): string | undefined {
  for (let at = header.indexOf(name); at !== -1; at = header.indexOf(name, at + 1)) {
    const start = valueStart(header, name, at);
    if (start !== -1) return sentText(header, start);
  }
  return undefined;
}

/** The texts of the pairs called `name`, as sent and in the order sent: at most `limit` of them. */
export function sentCookies(header: string, name: string, limit: number): string[] {
  const texts: string[] = [];
  for (let at = header.indexOf(name); at !== -1 && texts.length < limit; at = header.indexOf(name, at + 1)) {
    const start = valueStart(header, name, at);
    if (start !== -1) texts.push(sentText(header, start));
  }
  return texts;
}

/** Where the value of the pair whose name `header` holds at `at` starts; -1 if that is no whole pair's name. */
function valueStart(header: string, name: string, at: number): number {
  // The name must be a whole pair's name: after the header's start or a ";" (and blanks)…
  let before = at - 1;
  while (before >= 0 && isBlank(header.charCodeAt(before))) before--;
  if (before >= 0 && header.charCodeAt(before) !== SEMICOLON) return -1;
  // …and followed (after blanks) by the pair's first "=".
  let equals = at + name.length;
  while (equals < header.length && isBlank(header.charCodeAt(equals))) equals++;
  return header.charCodeAt(equals) === EQUALS ? equals + 1 : -1;
}

function sentText(header: string, start: number): string {
  const end = header.indexOf(";", start);
  return header.slice(start, end === -1 ? header.length : end);
}

/** A pair's value as hono reads it: trimmed, unquoted, checked, decoded; undefined when malformed. */
export function cookieValue(text: string): string | undefined {
  let start = 0;
  let end = text.length;
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  // One lone quote counts as opening and closing, as in hono (`startsWith` and `endsWith`): "".
  if (end > start && text.charCodeAt(start) === QUOTE && text.charCodeAt(end - 1) === QUOTE) {
    start++;
    end = Math.max(start, end - 1);
  }
  const value = text.slice(start, end);
  return VALID_VALUE.test(value) ? percentDecoded(value) : undefined;
}

/** hono's `tryDecodeURIComponent`: decoded, or, when that fails, each run of valid escapes decoded on its own. */
function percentDecoded(value: string): string {
  if (!value.includes("%")) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (match) => {
      try {
        return decodeURIComponent(match);
      } catch {
        return match;
      }
    });
  }
}
