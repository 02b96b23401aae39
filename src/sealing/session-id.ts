import { encodeBase64Url } from "./base64url.js";

/** 144 random bits, 24 base64url characters. */
const ID_BYTES = 18;
export const SESSION_ID_PATTERN = "[A-Za-z0-9_-]{24}";

export function newSessionId(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(ID_BYTES)));
}

/** 48 random bits, 8 base64url characters: names one write, so two writes of one version differ. */
const TAG_BYTES = 6;
export const WRITE_TAG_PATTERN = "[A-Za-z0-9_-]{8}";

export function newWriteTag(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(TAG_BYTES)));
}
