import type { Context } from "hono";
import { deleteCookie } from "hono/cookie";
import { serialize, type CookieOptions } from "hono/utils/cookie";
import { BoundedMap } from "../bounded-map.js";
import type { SessionConfig } from "../config/parse-config.js";
import { equalStrings } from "../sealing/constant-time.js";
import { importCookieKey, signCookieValue, verifyCookieValue } from "../sealing/cookie-signature.js";
import type { KeyRing } from "../sealing/keys.js";
import { SESSION_ID_PATTERN, WRITE_TAG_PATTERN } from "../sealing/session-id.js";
import type { CookiePlan } from "../protocol/request.js";
import type { Claim } from "../protocol/types.js";
import { cookieValue, sentCookie, sentCookies } from "./cookie-header.js";

/*
 * Two signed cookies. The id cookie (`JSESSIONID=<id>`) changes only when the session's id does: a new
 * session, a regenerate, a destroy. The version cookie (`JSESSIONID_v=<id>.<version>.<tag>.<time>`) names the
 * newest write this browser has seen, so any isolate can tell whether its copy is at least that new.
 * Keeping them apart means that a request still in flight with an old id, answering after a regenerate,
 * can only ever touch the version cookie (which then names another id and is ignored), never replace the
 * browser's new id.
 */
const ID_VALUE = new RegExp(`^${SESSION_ID_PATTERN}$`);
const VERSION_VALUE = new RegExp(
  `^(${SESSION_ID_PATTERN})\\.(\\d{1,10})\\.(${WRITE_TAG_PATTERN})(?:\\.([0-9a-z]{1,11}))?$`,
);
/*
 * Versions are uint32 (the sealed header holds them) and each write adds one, so no real cookie comes near
 * the end of the range. A cookie past half of it is refused (it claims nothing): were it accepted, the next
 * write would be sealed at its version plus one, and a session pushed to the end could never be written or
 * destroyed again.
 */
const MAX_VERSION = 0x7fff_ffff;

/**
 * How many pairs of one name are tried, in the order sent. A browser sends a cookie that a sibling subdomain
 * set for the whole domain with a longer path in front of ours (cookie tossing): were only the first pair
 * read, such a cookie would sign the user out. A few pairs bound the HMACs a request can ask for.
 */
const MAX_PAIRS = 4;

/** The longest cookie text remembered as verified (a real one is under 200 characters, percent-encoded). */
const MAX_REMEMBERED_TEXT = 256;

/** A copy of `text` that shares no memory with the string it was cut from. */
const detached = (text: string): string => JSON.parse(JSON.stringify(text)) as string;

/** What a version cookie names. */
interface VersionValue {
  id: string;
  version: number;
  tag: string;
  at: number;
}

/** A verified cookie value, and whether a previous secret signed it. */
interface Verified<T> {
  value: T;
  previous: boolean;
}

/**
 * Signed cookie values this isolate has already verified, by the id they name, with the text the browser
 * sent. A request that sends the same text again (the common case) is matched in constant time instead of
 * paying for decoding and an HMAC: the same text always reads as the same value.
 */
class VerifiedValues<T> {
  readonly #byId = new BoundedMap<string, { sent: string; verified: Verified<T> }>(10_000);

  get(sent: string): Verified<T> | undefined {
    // The id the text starts with (after the quote of a quoted value).
    const known = this.#byId.get(sent.slice(sent.startsWith('"') ? 1 : 0, sent.indexOf(".")));
    return known !== undefined && equalStrings(known.sent, sent) ? known.verified : undefined;
  }

  remember(sent: string, id: string, verified: Verified<T>): void {
    this.#byId.set(id, { sent, verified });
  }
}

/** Reads and writes the session cookies of one configuration; keeps the isolate's verified values. */
export class SessionCookies {
  readonly #ids = new VerifiedValues<string>();
  readonly #versions = new VerifiedValues<VersionValue>();
  readonly versionName: string;
  /** Both cookies' attributes: the configuration's, always HttpOnly. */
  readonly #attributes: CookieOptions;
  /**
   * Each cookie's `Set-Cookie` text after its value (`; Path=/; HttpOnly; …`), made once by hono's `serialize`
   * (which checks the name and the attributes, as `setCookie` does): the attributes never change, and
   * serialising them again costs a changed request a few µs.
   */
  readonly #idAttributes: string;
  readonly #versionAttributes: string;
  /**
   * The ring's cookie keys as HMAC CryptoKeys (the current first), imported once per isolate. Kept as keys,
   * not as a shared promise: a request must never wait on work that another request started (workerd can
   * leave it pending once that request is gone), so concurrent first requests each import them.
   */
  #keys: CryptoKey[] | undefined;

  constructor(
    readonly config: Pick<SessionConfig, "cookieName" | "cookie">,
    readonly ring: KeyRing,
  ) {
    this.versionName = `${config.cookieName}_v`;
    const { domain, ...rest } = config.cookie;
    this.#attributes = { ...rest, ...(domain !== undefined ? { domain } : {}), httpOnly: true };
    this.#idAttributes = attributesOf(config.cookieName, this.#attributes);
    this.#versionAttributes = attributesOf(this.versionName, this.#attributes);
  }

  /**
   * `undefined` for a missing, forged, malformed or oversized id cookie: the caller starts a new session.
   * Synchronous when this isolate verified both values before (the common case): the hit path awaits nothing.
   */
  read(c: Context): Claim | undefined | Promise<Claim | undefined> {
    const header = c.req.raw.headers.get("Cookie");
    if (header === null) return undefined;
    // Each cookie found by its name: a browser sends many others, and none of them needs parsing. A value
    // this isolate verified before is recognised by the text the browser sent, before any decoding.
    const sentId = sentCookie(header, this.config.cookieName);
    if (sentId === undefined) return undefined;
    const sentVersion = sentCookie(header, this.versionName);
    const id = this.#ids.get(sentId);
    const version = sentVersion === undefined ? undefined : this.#versions.get(sentVersion);
    // A version cookie of another id (left by a request that answered after a regenerate) names no write of
    // this one: only when another pair of its name follows (one tossed in front of ours) is that one looked at.
    const versionRead =
      version !== undefined &&
      (version.value.id === id?.value || sentCookies(header, this.versionName, 2).length === 1);
    if (id !== undefined && (sentVersion === undefined || versionRead)) return claimOf(id, version);
    return this.#readVerifying(header, sentVersion !== undefined);
  }

  async #readVerifying(header: string, withVersion: boolean): Promise<Claim | undefined> {
    const id = await this.#verified(header, this.config.cookieName, this.#ids, parseId);
    if (id === undefined) return undefined;
    // The first version cookie that names this id: one of another id sent in front of it (a cookie tossed by
    // a sibling subdomain, the attacker's own and validly signed) would otherwise hide the browser's newest write.
    const version = !withVersion
      ? undefined
      : await this.#verified(header, this.versionName, this.#versions, parseVersion, (value) => value.id === id.value);
    return claimOf(id, version);
  }

  async write(c: Context, plan: CookiePlan): Promise<void> {
    const attributes = this.#attributes;
    switch (plan.kind) {
      case "keep":
        return;
      case "clear":
        deleteCookie(c, this.config.cookieName, attributes);
        deleteCookie(c, this.versionName, attributes);
        return;
      case "set": {
        const { id, mark } = plan;
        // Imported once per isolate: after that, no await before the signature.
        const [key] = this.#keys ?? (await this.#cryptoKeys());
        const value = `${id}.${mark.version}.${mark.tag}.${Math.max(0, Math.floor(mark.at)).toString(36)}`;
        // Percent-encoded, as hono's setSignedCookie sets a signed value. The browser sends back exactly the
        // text set here: remembered as verified, so the next request pays no HMAC.
        if (plan.withId) {
          const signedId = encodeURIComponent(await signCookieValue(key!, id));
          c.header("Set-Cookie", `${this.config.cookieName}=${signedId}${this.#idAttributes}`, { append: true });
          this.#ids.remember(signedId, id, { value: id, previous: false });
        }
        const signed = encodeURIComponent(await signCookieValue(key!, value));
        c.header("Set-Cookie", `${this.versionName}=${signed}${this.#versionAttributes}`, { append: true });
        const named = { id, version: mark.version, tag: mark.tag, at: Math.max(0, Math.floor(mark.at)) };
        // A version the cookie's reader would refuse is not taken as read either (see MAX_VERSION).
        if (mark.version <= MAX_VERSION) this.#versions.remember(signed, id, { value: named, previous: false });
        return;
      }
    }
  }

  /**
   * The value of the first pair of the name that one of the ring's secrets signed (the current one tried
   * first) and that is `wanted`: a pair that does not verify is passed over, as a cookie tossed in front of
   * ours must be. Each pair's text is looked up among the values verified before, and a value verified here
   * is remembered by its text (each by the id it names), so a tossed pair costs its HMAC once per isolate.
   */
  async #verified<T>(
    header: string,
    name: string,
    cache: VerifiedValues<T>,
    parse: (value: string) => { id: string; value: T } | undefined,
    wanted: (value: T) => boolean = () => true,
  ): Promise<Verified<T> | undefined> {
    for (const text of sentCookies(header, name, MAX_PAIRS)) {
      const verified = cache.get(text) ?? (await this.#verify(text, cache, parse));
      if (verified !== undefined && wanted(verified.value)) return verified;
    }
    return undefined;
  }

  /** A pair's text verified and parsed (`undefined` if no secret of the ring signed it), and remembered. */
  async #verify<T>(
    text: string,
    cache: VerifiedValues<T>,
    parse: (value: string) => { id: string; value: T } | undefined,
  ): Promise<Verified<T> | undefined> {
    const raw = cookieValue(text);
    if (raw === undefined) return undefined;
    for (const [i, key] of (await this.#cryptoKeys()).entries()) {
      const value = await verifyCookieValue(key, raw);
      const parsed = value === undefined ? undefined : parse(value);
      if (parsed === undefined) continue;
      const verified = { value: parsed.value, previous: i > 0 };
      // Remembered by a short text only: a real cookie's is under 200 characters, and a copy of it, since a
      // slice of the header would keep the whole header alive.
      if (text.length <= MAX_REMEMBERED_TEXT) cache.remember(detached(text), parsed.id, verified);
      return verified;
    }
    return undefined;
  }

  async #cryptoKeys(): Promise<CryptoKey[]> {
    if (this.#keys !== undefined) return this.#keys;
    const keys = await Promise.all(this.ring.all.map((keys) => importCookieKey(keys.cookie)));
    return (this.#keys ??= keys);
  }
}

/** What follows the value in a cookie's `Set-Cookie`, as hono's `setCookie` writes it (`path` "/" unless given). */
function attributesOf(name: string, attributes: CookieOptions): string {
  const cookie = serialize(name, "", { path: "/", ...attributes });
  return cookie.slice(`${name}=`.length);
}

const parseId = (value: string) => (ID_VALUE.test(value) ? { id: value, value } : undefined);

function parseVersion(value: string) {
  const match = VERSION_VALUE.exec(value);
  const number = Number(match?.[2]);
  return match === null || number > MAX_VERSION
    ? undefined
    : {
        id: match[1]!,
        value: { id: match[1]!, version: number, tag: match[3]!, at: parseInt(match[4] ?? "0", 36) },
      };
}

/** The claim of a verified id cookie, with what its version cookie names when that names the same id. */
function claimOf(id: Verified<string>, version: Verified<VersionValue> | undefined): Claim {
  const resign = id.previous || version?.previous === true;
  // A version cookie of another id (left by a request that answered after a regenerate) says nothing.
  return version !== undefined && version.value.id === id.value
    ? { id: id.value, version: version.value.version, tag: version.value.tag, at: version.value.at, resign }
    : { id: id.value, version: 0, tag: "", at: 0, resign };
}
