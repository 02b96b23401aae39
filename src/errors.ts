import { HTTPException } from "hono/http-exception";

/** A configuration value breaks a rule. The message names the property and the rule, never a secret. */
export class SessionConfigError extends Error {
  override readonly name = "SessionConfigError";
  constructor(
    readonly property: string,
    rule: string,
  ) {
    super(`${property}: ${rule}`);
  }
}

/** A sealed blob did not open: wrong key, tampered bytes, moved to another session, or an unknown format. */
export class SealError extends Error {
  override readonly name = "SealError";
}

/**
 * The store could not be read, so the session behind a valid cookie is unknown. Answering 503 (instead of an
 * empty session) keeps a logged-in user from being handed a blank session that would later overwrite theirs.
 * It extends HTTPException so Hono's default error handler already turns it into the 503 response.
 */
export class SessionUnavailableError extends HTTPException {
  override readonly name = "SessionUnavailableError";
  constructor(cause: unknown) {
    super(503, {
      cause,
      res: new Response("Session store unavailable, please retry", {
        status: 503,
        headers: { "Retry-After": "1", "Content-Type": "text/plain; charset=UTF-8" },
      }),
    });
  }
}

/** Error text for logs: short, and never a value (store errors may quote the command they ran). */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
