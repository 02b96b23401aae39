import type { OpenOutcome } from "./blob-protocol.js";
import type { BlobCase } from "./blob-mutators.js";

/*
 * One opened blob, judged: only a SealError may refuse a blob (never another error: that would escape
 * the store tier as a failed request), a damaged blob never opens, a sound one always does, and whatever
 * opens is exactly what was sealed for that id.
 */

export type BlobVerdict = { outcome: string } | { failure: string; detail: string };

export const OPENED_EQUAL = "opened, equal";
export const UNCHANGED = "no byte changed: opened, equal";

export function judgeBlob(blob: BlobCase, outcome: OpenOutcome): BlobVerdict {
  if (!outcome.opened) {
    if (outcome.error !== "SealError") {
      return { failure: `uncaught ${outcome.error}`, detail: `${outcome.error}: ${outcome.message.slice(0, 300)}` };
    }
    if (blob.expect === "equal") return { failure: "refused a sound blob", detail: outcome.message };
    return { outcome: `SealError: ${reason(outcome.message)}` };
  }
  const opened = `opened (${outcome.kind}, version ${outcome.version})`;
  if (blob.expect === "reject") return { failure: "opened a damaged blob", detail: opened };
  if (blob.digest !== undefined && outcome.digest !== blob.digest) {
    return { failure: "wrong content", detail: `${opened}, not what was sealed for that id` };
  }
  if (blob.unchanged === true) return { outcome: UNCHANGED };
  return { outcome: blob.digest !== undefined ? OPENED_EQUAL : "opened" };
}

/** The codec's refusals, by what they say (the messages quote no content; sizes blanked). */
const REASONS: [RegExp, string][] = [
  [/not base64url/, "not base64url"],
  // Before "truncated", which its message mentions among the causes.
  [/failed authentication/, "failed authentication"],
  [/is truncated/, "truncated"],
  [/unknown sealed format/, "unknown format version"],
  [/another secret/, "another secret"],
  [/inflates past/, "inflates past the bound"],
  [/larger than the maximum/, "larger than the bound"],
  [/does not inflate/, "does not inflate"],
  [/no valid JSON/, "not JSON"],
  [/unknown layout/, "unknown layout"],
];

function reason(message: string): string {
  return REASONS.find(([pattern]) => pattern.test(message))?.[1] ?? message.replace(/\d+/g, "N");
}
