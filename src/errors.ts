import { HTTPException } from "hono/http-exception";

/*
 * Every error of the package, in one module: each extends `SessionError` and has a stable `code` a caller
 * can switch on (the message may change, and is for logs: it never reaches a response). `SessionError`
 * extends Hono's HTTPException, so one that reaches Hono's error handler answers a bare 500 (or, for
 * `SessionUnavailableError`, a 503 with Retry-After).
 */

/** The base of every error this package throws. */
export abstract class SessionError extends HTTPException {
  abstract readonly code: string;
  constructor(message: string, options: { status?: 500 | 503; cause?: unknown } = {}) {
    super(options.status ?? 500, { message, cause: options.cause });
  }

  /** What Hono answers if the error reaches its handler: never the message. */
  override getResponse(): Response {
    return new Response("Internal Server Error", {
      status: this.status,
      headers: { "Content-Type": "text/plain; charset=UTF-8" },
    });
  }
}

/** A configuration value breaks a rule. The message names the property and the rule, never a secret. */
export class SessionConfigError extends SessionError {
  override readonly name = "SessionConfigError";
  readonly code = "ERR_SESSION_CONFIG";
  constructor(
    readonly property: string,
    rule: string,
  ) {
    super(`${property}: ${rule}`);
  }
}

/** A sealed blob did not open: wrong key, tampered bytes, sealed for another session, or an unknown format. */
export class SealError extends SessionError {
  override readonly name = "SealError";
  readonly code = "ERR_SESSION_SEAL";
}

/**
 * The store could not be read, so the session behind a valid cookie is unknown. Answering 503 (instead of an
 * empty session) keeps a logged-in user from being handed a blank session that would later overwrite theirs.
 */
export class SessionUnavailableError extends SessionError {
  override readonly name = "SessionUnavailableError";
  readonly code = "ERR_SESSION_UNAVAILABLE";
  constructor(cause: unknown) {
    super("the session store is unavailable", { status: 503, cause });
  }

  override getResponse(): Response {
    return new Response("Session store unavailable, please retry", {
      status: 503,
      headers: { "Retry-After": "1", "Content-Type": "text/plain; charset=UTF-8" },
    });
  }
}

/**
 * A store call failed for a reason that waiting will not fix: the store refused the credentials, or it
 * uses an I/O object that belongs to an earlier request. The message says what to change.
 */
export class StoreMisconfiguredError extends SessionError {
  override readonly name = "StoreMisconfiguredError";
  readonly code = "ERR_STORE_MISCONFIGURED";
}

/** A store call that did not settle within `storeTimeoutMs`. */
export class StoreTimeoutError extends SessionError {
  override readonly name = "StoreTimeoutError";
  readonly code = "ERR_STORE_TIMEOUT";
}

/** A failed Redis call, without the command text (the client's message quotes the whole command and its values). */
export class RedisStoreError extends SessionError {
  override readonly name = "RedisStoreError";
  readonly code = "ERR_REDIS_STORE";
}

/** A change of the session is larger than `maxSessionBytes`: it is not saved (the last saved version stands). */
export class SessionTooLargeError extends SessionError {
  override readonly name = "SessionTooLargeError";
  readonly code = "ERR_SESSION_TOO_LARGE";
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`the session is ${bytes} bytes of JSON, more than maxSessionBytes (${maxBytes}); the change is not saved`);
  }
}

/** Session data JSON cannot hold (a BigInt, a cycle, nesting too deep): the change is not saved. */
export class SessionDataError extends SessionError {
  override readonly name = "SessionDataError";
  readonly code = "ERR_SESSION_DATA";
  constructor(cause: unknown) {
    super(`session data cannot be saved as JSON (${describeError(cause)}); the change is not saved`, { cause });
  }
}

/** Listing or revoking a user's sessions needs a store that keeps user indexes (see `IndexedStore`). */
export class SessionIndexUnsupportedError extends SessionError {
  override readonly name = "SessionIndexUnsupportedError";
  readonly code = "ERR_SESSION_INDEX_UNSUPPORTED";
  constructor() {
    super(
      "this store keeps no user index, or versionedWrites: false turned it off (a user index needs compare-and-set): " +
        "sessions cannot be listed or revoked by user (the Redis, Durable Object and memory stores keep one; a custom " +
        "store needs setIfVersion, getIfChanged, changeIndex, readIndex, revokeBefore and revokedBefore, see IndexedStore)",
    );
  }
}

/** A change that did not reach the store: dropped (destroyed, regenerated, expired…), refused, or not confirmed. */
export class SessionNotSavedError extends SessionError {
  override readonly name = "SessionNotSavedError";
  readonly code = "ERR_SESSION_NOT_SAVED";
}

const CROSS_REQUEST_IO = "Cannot perform I/O on behalf of a different request";

/**
 * Recognises the runtime's refusal of an I/O object kept from an earlier request (a Durable Object stub, a
 * stream, a body), which no retry can cure, and says how to fix the store; any other error is kept as it is.
 */
export function diagnoseStoreError(error: unknown): unknown {
  if (error instanceof Error && error.message.includes(CROSS_REQUEST_IO)) {
    return new StoreMisconfiguredError(
      "the store uses an I/O object created by an earlier request (a Durable Object stub, a stream, a request or response body); " +
        "a store kept for the isolate must create those in each call (e.g. namespace.get(id) per call), not once",
      { cause: error },
    );
  }
  return error;
}

/**
 * The log line for a failed store call: what it means for the session when the failure may pass (an
 * outage), or, when it will not, that the store is misconfigured and what to fix.
 */
export function storeFailureLine(error: unknown, consequence: string): string {
  if (error instanceof StoreMisconfiguredError) {
    return `hono-edge-session: the session store is misconfigured, and waiting will not fix it: ${error.message}`;
  }
  return `hono-edge-session: ${consequence} (${describeError(error)})`;
}

/** Error text for logs: short, and never a value (store errors may quote the command they ran). */
export function describeError(error: unknown): string {
  let text: string;
  try {
    text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  } catch {
    // Thrown by something that cannot be made text (no prototype, a throwing toString): named by its kind.
    text = Object.prototype.toString.call(error);
  }
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
