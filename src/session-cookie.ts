import type { Context } from "hono";
import { deleteCookie, getSignedCookie, setSignedCookie } from "hono/cookie";
import type { SessionConfig } from "./config.js";
import type { SessionKeys } from "./keys.js";
import { SESSION_ID_PATTERN } from "./session-id.js";

/** What the cookie carries: which session, and the newest version this browser has seen. */
export interface SessionCookie {
  id: string;
  version: number;
}

const VALUE = new RegExp(`^(${SESSION_ID_PATTERN})\\.(\\d{1,10})$`);
const MAX_VERSION = 0xffff_ffff;

/** `undefined` for a missing, forged, malformed or oversized cookie: the caller starts a new session. */
export async function readSessionCookie(
  c: Context,
  config: SessionConfig,
  keys: SessionKeys,
): Promise<SessionCookie | undefined> {
  const value = await getSignedCookie(c, keys.cookie, config.cookieName);
  if (typeof value !== "string") return undefined;
  const match = VALUE.exec(value);
  if (match === null) return undefined;
  const version = Number(match[2]);
  return version <= MAX_VERSION ? { id: match[1]!, version } : undefined;
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
