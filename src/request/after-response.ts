import { SessionNotSavedError } from "../errors.js";
import type { CookiePlan, Loaded } from "../protocol/request.js";

/*
 * A session's life after the middleware took the request's change (in a streamed response, in an outer
 * middleware after `next()`): nothing saves a change made then, so it is written at once, and only to the id
 * the browser holds after the response. That id is known once the response's cookies are decided; a late
 * call made before waits for it here, on this request's own memory (no I/O).
 */

/** The id the cookie names, whatever it is (the session was not loaded before the change was taken). */
const COOKIE_ID = Symbol("the cookie's id");

/** What the handle's state says of the id a late write would go to. */
export interface Current {
  loaded: Loaded | undefined;
  /** `loaded.id` was destroyed in this request: a write after it goes to a new id. */
  spentId: boolean;
}

export class AfterResponse {
  #stage: "open" | "taken" | "sent" = "open";
  #heldAfter: string | undefined | typeof COOKIE_ID;
  #waiting: (() => void)[] | undefined;

  /** The middleware has not taken the request's change yet: a change is saved with it. */
  get open(): boolean {
    return this.#stage === "open";
  }

  /** The middleware takes the request's change to save it: from now on, a change is a late one. */
  take(loadedYet: boolean): void {
    this.#stage = "taken";
    // Not loaded yet: a later load finds whatever the cookie names.
    if (!loadedYet) this.#heldAfter = COOKIE_ID;
  }

  /** The response's cookies are decided: the id the browser holds after it is known, and late calls go on. */
  delivered(sent: CookiePlan, { loaded, spentId }: Current): void {
    if (sent.kind === "set" && sent.withId) this.#heldAfter = sent.id;
    else if (sent.kind === "clear") this.#heldAfter = undefined;
    else if (this.#heldAfter !== COOKIE_ID)
      this.#heldAfter = loaded !== undefined && !loaded.isNew && !loaded.readOnly && !spentId ? loaded.id : undefined;
    this.#stage = "sent";
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting !== undefined) for (const resume of waiting) resume();
  }

  /**
   * A late write may go only to the id the browser holds: a new session whose cookie was not sent, or one
   * destroyed here, would be written under an id no browser ever sends. `current` is read once the
   * response's cookies are decided.
   */
  async mayWrite(what: string, current: () => Current): Promise<void> {
    if (this.#stage === "taken") await new Promise<void>((resume) => (this.#waiting ??= []).push(resume));
    const { loaded, spentId } = current();
    const held = this.#heldAfter;
    const id = held === COOKIE_ID ? (loaded!.isNew || loaded!.readOnly ? undefined : loaded!.id) : held;
    if (spentId || id === undefined || id !== loaded!.id) throw tooLate(what);
  }
}

/** A change the browser could never get: refused. */
export function tooLate(what: string): SessionNotSavedError {
  return new SessionNotSavedError(
    `${what} after the response was made (in a streamed response, or after next()): ` +
      "its cookies are sent, and the browser does not hold the id this change would need",
  );
}
