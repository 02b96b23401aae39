/*
 * What the blob fuzz (Node) and the codec worker (workerd, blob-worker.ts) say to each other, in JSON. The
 * worker holds the keys; Node names a secret by its role.
 */

/** The worker's secrets: its own, the one it rotates to (own becomes the previous), another app's. */
export type SecretRole = "own" | "next" | "other";
/** The key rings a blob is opened with: the own secret alone, or rotated (next, with own as the previous). */
export type RingName = "own" | "rotated";

/** Seal `plaintext` for `id` at `version` with the codec (`seal`). */
export interface SealItem {
  id: string;
  version: number;
  plaintext: string;
  secret: SecretRole;
}

/**
 * Frame and encrypt `body` (base64url) exactly as the codec would, but with the header given here: a body
 * the codec would never write (a damaged deflate stream, text that is not JSON) that still authenticates,
 * so the checks behind the authentication are reached.
 */
export interface CraftItem {
  id: string;
  version: number;
  formatVersion: number;
  flags: number;
  secret: SecretRole;
  body: string;
}

/** Open `sealed` as the session `id`'s envelope, with ring `ring` (`openEnvelope`, the store's way). */
export interface OpenItem {
  id: string;
  sealed: string;
  ring: RingName;
}

export interface OpenRequest {
  /** The plaintext bound, as the store tier passes it (maxSessionBytes + the envelope's room). */
  maxBytes: number;
  items: OpenItem[];
}

export type OpenOutcome =
  /** Opened: SHA-256 (hex) of `${version}:${plaintext}`, the envelope's kind. */
  | { opened: true; digest: string; kind: string; version: number }
  /** Refused with an error: its class name and message (the codec's messages quote no content). */
  | { opened: false; error: string; message: string };
