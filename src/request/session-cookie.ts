import type { Context } from "hono";
import { deleteCookie, getCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import type { SessionConfig } from "../config/parse-config.js";
import { equalStrings } from "../sealing/constant-time.js";
import type { SessionKeys } from "../sealing/keys.js";
import { SESSION_ID_PATTERN } from "../sealing/session-id.js";

/** What the cookie carries: which session, and the newest version this browser has seen. */
export interface SessionCookie {
  id: string;
  version: number;
}

const VALUE = new RegExp(`^(${SESSION_ID_PATTERN})\\.(\\d{1,10})$`);
const MAX_VERSION = 0xffff_ffff;

/**
 * Signed cookie values this isolate has already verified, by session id. A request that brings the same
 * value again (the common case: every request of a session between two writes) is matched in constant
 * time instead of paying for an HMAC; any other value is verified in full.
 */
export class VerifiedCookies {
  readonly #byId = new Map<string, { raw: string; cookie: SessionCookie }>();
  constructor(readonly maxEntries = 10_000) {}

  get(raw: string): SessionCookie | undefined {
    const known = this.#byId.get(raw.slice(0, raw.indexOf(".")));
    return known !== undefined && equalStrings(known.raw, raw) ? known.cookie : undefined;
  }

  remember(raw: string, cookie: SessionCookie): void {
    this.#byId.delete(cookie.id);
    this.#byId.set(cookie.id, { raw, cookie });
    if (this.#byId.size > this.maxEntries) this.#byId.delete(this.#byId.keys().next().value!);
  }
}

/** `undefined` for a missing, forged, malformed or oversized cookie: the caller starts a new session. */
export async function readSessionCookie(
  c: Context,
  config: SessionConfig,
  keys: SessionKeys,
  verified: VerifiedCookies,
): Promise<SessionCookie | undefined> {
  const raw = getCookie(c, config.cookieName);
  if (raw === undefined) return undefined;
  const known = verified.get(raw);
  if (known !== undefined) return known;
  const value = await getSignedCookie(c, keys.cookie, config.cookieName);
  if (typeof value !== "string") return undefined;
  const match = VALUE.exec(value);
  if (match === null) return undefined;
  const version = Number(match[2]);
  if (version > MAX_VERSION) return undefined;
  const cookie = { id: match[1]!, version };
  verified.remember(raw, cookie);
  return cookie;
}

export async function writeSessionCookie(
  c: Context,
  config: SessionConfig,
  keys: SessionKeys,
  cookie: SessionCookie,
): Promise<void> {
  await setSignedCookie(c, config.cookieName, `${cookie.id}.${cookie.version}`, keys.cookie, {
    ...config.cookie,
    httpOnly: true,
  });
}

export function clearSessionCookie(c: Context, config: SessionConfig): void {
  deleteCookie(c, config.cookieName, { ...config.cookie, httpOnly: true });
}
