import { isDeepStrictEqual } from "node:util";
import { setCookies } from "../../test/support/cookie-jar.js";
import type { PlannedRequest } from "./cookie-requests.js";
import { ID_COOKIE, MARKER_PATTERN, VERSION_COOKIE, type SessionPool, type ValidSession } from "./session-pool.js";

/*
 * One response, judged. The rules:
 * - no 5xx, and only the statuses the route may answer;
 * - a response shows the data of at most one pool session (by its marker): the one whose genuine id cookie
 *   the request carried (`expected`), and no Set-Cookie names any other pool session's id;
 * - a response that shows no session's data shows exactly a new session's (nothing left over from
 *   another session, pool or not).
 */

export type Verdict = { outcome: string } | { failure: string; detail: string };

export interface Answer {
  status: number;
  body: string;
  response: Response;
}

export const SAME_SESSION = "200 same session";
export const FRESH_SESSION = "200 fresh session";

export function judge(
  request: PlannedRequest,
  answer: Answer,
  expected: ValidSession | undefined,
  pool: SessionPool,
): Verdict {
  const { status, body } = answer;
  const said = `${request.method} ${request.path} → ${status}: ${clip(body)}`;
  if (status >= 500) return { failure: "5xx", detail: said };
  if (!request.allowed.includes(status)) return { failure: "unexpected status", detail: said };

  const markers = new Set(body.match(MARKER_PATTERN) ?? []);
  const foreign = [...markers].filter((marker) => marker !== expected?.marker);
  if (foreign.length > 0) {
    const whose = expected === undefined ? "a cookie that names no pool session" : "another pool session's cookie";
    return { failure: "leak", detail: `${said} (shows ${foreign.join(", ")} to ${whose})` };
  }
  for (const id of idsSet(answer.response)) {
    const owner = pool.ownerOfId(id);
    if (owner !== undefined && owner !== expected) {
      return { failure: "leak", detail: `${request.method} ${request.path} → Set-Cookie names ${owner.marker}'s id` };
    }
  }

  if (status !== 200) return { outcome: status === 204 ? "204" : `${status}` };
  if (expected !== undefined && markers.has(expected.marker)) return { outcome: SAME_SESSION };
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    return { failure: "not JSON", detail: said };
  }
  if (!isDeepStrictEqual(data, request.freshData)) return { failure: "wrong content", detail: said };
  return { outcome: FRESH_SESSION };
}

/** Session ids the response's Set-Cookie headers name (in either cookie). */
function idsSet(response: Response): string[] {
  const ids: string[] = [];
  for (const line of setCookies(response)) {
    const pair = upTo(line, ";");
    const at = pair.indexOf("=");
    const name = pair.slice(0, at);
    if (name !== ID_COOKIE && name !== VERSION_COOKIE) continue;
    const value = decodeURIComponent(pair.slice(at + 1));
    if (value !== "") ids.push(upTo(value, "."));
  }
  return ids;
}

/** `text` up to the first `char` (all of it when there is none). */
function upTo(text: string, char: string): string {
  const at = text.indexOf(char);
  return at < 0 ? text : text.slice(0, at);
}

/** Bodies are session data of the fuzz (markers, patches), never secrets; cut short for the report. */
function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}… (${text.length} characters)` : text;
}
