import { encodeBase64Url } from "./base64url.js";

/** 144 random bits, 24 base64url characters. */
const ID_BYTES = 18;
export const SESSION_ID_PATTERN = "[A-Za-z0-9_-]{24}";

export function newSessionId(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(ID_BYTES)));
}
