import type { Prng } from "./prng.js";

/*
 * What each fuzz case asks the reference worker (app/session-api.ts), and which statuses are its right
 * answers. Any other status fails the case, so a route that starts answering 404 or 500 is noticed.
 */

export interface PlannedRequest {
  method: "GET" | "PUT" | "DELETE" | "POST";
  path: string;
  body?: string;
  /** The data a new session holds after this request (GET and regenerate: none; PUT: the patch). */
  freshData: unknown;
  /** The answers that are right; 431 (headers too large) is the runtime's, for the largest headers. */
  allowed: readonly number[];
}

const TOO_LARGE_HEADERS = 431;
/** Just past the reference worker's body limit (64 KiB): a 413. */
const OVERSIZED_BODY = JSON.stringify({ pad: "b".repeat(64 * 1024 + 1) });

export function planRequest(rng: Prng, index: number): PlannedRequest {
  const roll = rng.float();
  if (roll < 0.45) return { method: "GET", path: "/session", freshData: {}, allowed: [200, TOO_LARGE_HEADERS] };
  if (roll < 0.75) return planPut(rng, index);
  if (roll < 0.87) return { method: "DELETE", path: "/session", freshData: {}, allowed: [204, TOO_LARGE_HEADERS] };
  return { method: "POST", path: "/session/regenerate", freshData: {}, allowed: [200, TOO_LARGE_HEADERS] };
}

/** Mostly a small patch (the case's index, never a marker); sometimes a body the API must refuse. */
function planPut(rng: Prng, index: number): PlannedRequest {
  const patch = { fuzz: index };
  const refused = (body: string, status: number): PlannedRequest => ({
    method: "PUT",
    path: "/session",
    body,
    freshData: {},
    allowed: [status, TOO_LARGE_HEADERS],
  });
  const roll = rng.float();
  if (roll < 0.04) return refused('{"fuzz":', 400);
  if (roll < 0.07) return refused(rng.pick(["[1,2]", "null", '"text"', "42"]), 400);
  if (roll < 0.09) return refused(OVERSIZED_BODY, 413);
  return {
    method: "PUT",
    path: "/session",
    body: JSON.stringify(patch),
    freshData: patch,
    allowed: [200, TOO_LARGE_HEADERS],
  };
}
