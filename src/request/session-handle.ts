import {
  SessionDataError,
  SessionIndexUnsupportedError,
  SessionNotSavedError,
  SessionTooLargeError,
  SessionUnavailableError,
} from "../errors.js";
import { diff } from "../protocol/patch.js";
import { freshSession, type CookiePlan, type Loaded, type RequestChange } from "../protocol/request.js";
import type { Tie } from "../protocol/types.js";
import type { SessionOperations } from "../engine/operations.js";
import { UnsavedRegeneration } from "../engine/end.js";
import { parsedView, type ParsedView } from "../engine/parsed-views.js";
import type { SessionChange } from "../engine/save.js";
import type { Session, SessionData, SessionInfo } from "../types.js";
import { MAX_DEPTH, tooDeep } from "../nesting.js";
import { AfterResponse, tooLate } from "./after-response.js";
import { WorkingCopy } from "./working-copy.js";

let changeOfHandle: (handle: SessionHandle<SessionData>) => SessionChange;
let deliveredToHandle: (handle: SessionHandle<SessionData>, sent: CookiePlan) => void;
let servesCookieOf: (value: unknown, cookieName: string) => boolean;

/**
 * What the handler changed in the session, for the middleware once the handler is done. A function of this
 * module, not a member of the class: nothing on `c.var.session` (nor its constructor) leads to it. From then
 * on the middleware saves nothing more: a later change (in a streamed response, in an outer middleware) is
 * written at once, or refused (see `delivered`).
 */
export function changeOf<T extends SessionData>(handle: SessionHandle<T>): SessionChange {
  return changeOfHandle(handle as unknown as SessionHandle<SessionData>);
}

/** The cookies the response carries (`keep` when none could be set): they say which id the browser holds. */
export function delivered<T extends SessionData>(handle: SessionHandle<T>, sent: CookiePlan): void {
  deliveredToHandle(handle as unknown as SessionHandle<SessionData>, sent);
}

/**
 * `value` is a session of the cookie `cookieName` (`c.var.session` set by a middleware mounted earlier for it):
 * a second middleware of that cookie passes the request on.
 */
export function servesCookie(value: unknown, cookieName: string): boolean {
  return servesCookieOf(value, cookieName);
}

/** A user id is sealed into every version of the session: the envelope's room around the data is bounded. */
const MAX_USER_ID_BYTES = 256;

/**
 * The per-request side of a session: loads it lazily, tracks what the handler did, and says what changed.
 * `regenerate()`, `destroy()`, `commit()` and `update()` reach the store at once; plain changes are saved
 * after the handler. It is what the handler sees as `c.var.session`: its only public members are the
 * session's methods, on the prototype, so a request allocates no function for them (and a build that keeps
 * names, as wrangler's does, renames none per request).
 */
export class SessionHandle<T extends SessionData> implements Session<T> {
  readonly #operations: SessionOperations;
  #loading: Promise<void> | undefined;
  #loaded: Loaded | undefined;
  #data: WorkingCopy | undefined;
  /** Loaded, and not refused: every method may go on with `#data`. */
  #usable = false;
  #user: string | undefined;
  /** The browser does not know this id yet (regenerated here): the id cookie must be sent. */
  #newId = false;
  /** Destroyed in this request: unless something is written after, the cookies are cleared. */
  #ended = false;
  /** `#loaded.id` is the id destroyed here: a write after the destroy goes to a new one. */
  #spentId = false;
  readonly #cookieName: string;
  /** Once the middleware has taken the request's change, a later one is written at once, or refused. */
  readonly #after = new AfterResponse();

  constructor(operations: SessionOperations, cookieName: string) {
    this.#operations = operations;
    this.#cookieName = cookieName;
  }

  get(): Promise<T>;
  get<K extends keyof T & string>(key: K): Promise<T[K] | undefined>;
  async get(key?: keyof T & string): Promise<unknown> {
    SessionHandle.#own(this);
    const data = await this.#ready();
    return key === undefined ? data.whole() : data.get(key);
  }

  async set<K extends keyof T & string>(key: K, value: T[K]): Promise<void> {
    SessionHandle.#own(this);
    const data = await this.#ready();
    if (!this.#after.open) return this.#changeLate("set()", () => this.#data!.set(key, value));
    data.set(key, value);
  }

  async delete(key: keyof T & string): Promise<void> {
    SessionHandle.#own(this);
    const data = await this.#ready();
    if (!this.#after.open) return this.#changeLate("delete()", () => this.#data!.delete(key));
    data.delete(key);
  }

  async regenerate(): Promise<void> {
    SessionHandle.#own(this);
    await this.#ready();
    // The new id could never reach the browser: retiring the one it holds would end its session.
    if (!this.#after.open) throw tooLate("regenerate()");
    const requested = this.#requestChange();
    if (requested instanceof SessionDataError) throw requested;
    const change = requested?.change ?? { patch: { set: {}, deleted: [] } };
    const answer = await this.#operations.regenerate(this.#loaded!, change);
    const unsaved = answer instanceof UnsavedRegeneration ? answer : undefined;
    const regenerated = unsaved?.loaded ?? (answer as Loaded);
    this.#adopt(regenerated);
    if (regenerated.isNew) return this.#end(); // it had ended meanwhile: nothing was carried over
    this.#newId = true;
    this.#ended = false;
    // Retired, the old id holds nothing any more: the response still gives the browser the new one, whose
    // session this isolate writes again after the response. The handler hears of the failure.
    if (unsaved !== undefined) throw unsaved.error;
  }

  async destroy(): Promise<void> {
    SessionHandle.#own(this);
    await this.#ready();
    const loaded = this.#loaded!;
    // A retired id is already dead to writes; clearing its cookies could clear the browser's new id.
    if (loaded.readOnly) return;
    await this.#operations.destroy(loaded);
    this.#end();
  }

  async commit(): Promise<void> {
    SessionHandle.#own(this);
    await this.#ready();
    const change = this.#change();
    if (!this.#after.open && change.kind === "changed") await this.#mayWriteLate("commit()");
    const saved = await this.#operations.commit(change);
    if (saved !== undefined) this.#adopt(saved);
  }

  async update(fn: (data: T) => T | void): Promise<T> {
    SessionHandle.#own(this);
    await this.#ready();
    const loaded = this.#unspent();
    if (loaded.readOnly || this.#operations.endedMeanwhile(loaded.id)) {
      throw new SessionNotSavedError("this session's id was retired or ended; it takes no more writes");
    }
    if (!this.#after.open) await this.#mayWriteLate("update()");
    // This request's own set/delete so far are kept on top of the updated data.
    const pending = diff(JSON.parse(loaded.view.json) as SessionData, this.#data!.current());
    const user = this.#user;
    const saved = await this.#operations.update(loaded, fn as (data: SessionData) => SessionData | void);
    this.#adopt(saved);
    this.#user = user;
    for (const [key, value] of Object.entries(pending.set)) this.#data!.set(key, value);
    for (const key of pending.deleted) this.#data!.delete(key);
    return JSON.parse(saved.view.json) as T;
  }

  async setUser(userId: string | undefined): Promise<void> {
    SessionHandle.#own(this);
    await this.#ready();
    if (userId !== undefined && (typeof userId !== "string" || userId === "")) {
      throw new TypeError("setUser() takes a non-empty string, or undefined to untie the session");
    }
    if (userId !== undefined && new TextEncoder().encode(userId).length > MAX_USER_ID_BYTES) {
      throw new TypeError(`setUser() takes a user id of at most ${MAX_USER_ID_BYTES} bytes (UTF-8)`);
    }
    if (!this.#after.open) return this.#changeLate("setUser()", () => void (this.#user = userId));
    this.#user = userId;
  }

  /**
   * A change made after the middleware saved the request's (in a streamed response, in an outer middleware
   * after `next()`): nothing would save it any more, so it is written at once, as by `commit()`.
   */
  async #changeLate(what: string, change: () => void): Promise<void> {
    await this.#mayWriteLate(what);
    change();
    await this.commit();
  }

  /** After the response, a write may go only to the id the browser holds (see `AfterResponse`). */
  #mayWriteLate(what: string): Promise<void> {
    return this.#after.mayWrite(what, () => ({ loaded: this.#loaded, spentId: this.#spentId }));
  }

  async getUser(): Promise<string | undefined> {
    SessionHandle.#own(this);
    await this.#ready();
    return this.#user;
  }

  async listSessions(userId?: string): Promise<SessionInfo[]> {
    SessionHandle.#own(this);
    await this.#ready();
    if (!this.#operations.indexed) throw new SessionIndexUnsupportedError();
    const user = this.#acting(userId);
    if (user === undefined) return [];
    return await this.#operations.listSessions(
      user,
      this.#loaded!.isNew ? undefined : this.#loaded!.id,
      this.#ownTie(user),
    );
  }

  async revokeSession(handle: string, userId?: string): Promise<boolean> {
    SessionHandle.#own(this);
    await this.#ready();
    if (!this.#operations.indexed) throw new SessionIndexUnsupportedError();
    const user = this.#acting(userId);
    if (user === undefined) return false;
    const id = await this.#operations.revokeSession(user, handle, this.#ownTie(user));
    if (id !== undefined && id === this.#loaded!.id) this.#end();
    return id !== undefined;
  }

  async revokeAllSessions(options: { userId?: string; keepCurrent?: boolean } = {}): Promise<number> {
    SessionHandle.#own(this);
    await this.#ready();
    if (!this.#operations.indexed) throw new SessionIndexUnsupportedError();
    const user = this.#acting(options.userId);
    if (user === undefined) return 0;
    // The session kept is tied anew and becomes the request's as stored: what the request changed so far
    // (its data, and a tie made in this request, which no earlier cut-off revoked) is written first.
    const unsaved = options.keepCurrent === true && this.#user === user ? await this.#commitToKeep() : undefined;
    const loaded = this.#loaded!;
    const keep = options.keepCurrent === true && !loaded.isNew && this.#user === user ? loaded : undefined;
    const { ended, kept } = await this.#operations.revokeAll(user, keep, this.#ownTie(user));
    if (kept !== undefined) this.#adopt(kept);
    else if (this.#user === user && !loaded.isNew) this.#end();
    // The others are signed out: now the handler hears of the change that could not be saved.
    if (unsaved !== undefined) throw unsaved;
    return ended.length;
  }

  /**
   * `commit()` before a sign-out everywhere else. A change that cannot be saved (a BigInt, a cycle, too large)
   * must not block that security action: its data is dropped (reported, as any refused change), its tie is
   * written alone, and the error is answered, for the caller to throw once the others are signed out.
   */
  async #commitToKeep(): Promise<SessionDataError | SessionTooLargeError | undefined> {
    try {
      await this.commit();
      return undefined;
    } catch (error) {
      if (!(error instanceof SessionDataError || error instanceof SessionTooLargeError)) throw error;
      const shared = sharedData(this.#loaded!);
      this.#data = new WorkingCopy(shared.data, shared.layout);
      await this.commit();
      return error;
    }
  }

  /**
   * The user a user-level call acts for: the one given, else the session's own. None for a session that
   * may not act: a retired id, or one ended since it loaded (a copied old cookie lists and revokes nothing).
   */
  #acting(userId: string | undefined): string | undefined {
    const loaded = this.#loaded!;
    if (loaded.readOnly || (!loaded.isNew && this.#operations.endedMeanwhile(loaded.id))) return undefined;
    return userId ?? this.#user;
  }

  /** The session the request acts from, when it acts for the user it is tied to. */
  #ownTie(user: string): { id: string; since: number; known: number } | undefined {
    const loaded = this.#loaded!;
    if (loaded.isNew || loaded.view.user !== user) return undefined;
    const base = loaded.held?.missing === true ? null : (loaded.held?.base ?? null);
    return { id: loaded.id, since: loaded.view.since, known: base?.version ?? 0 };
  }

  /**
   * Destroyed: a new, empty session takes its place, and unless something is written the cookies go. Its id
   * is drawn when something is (see `#unspent`): the old id takes no more writes.
   */
  #end(): void {
    const loaded = this.#loaded!;
    // Under the old id until something is written (its claim and ending kept): a new session's own state.
    const fresh = freshSession(loaded.id, this.#operations.now(), loaded.claim, loaded.ending);
    this.#loaded = { ...loaded, ...fresh, readOnly: false };
    this.#spentId = true;
    this.#data = new WorkingCopy({});
    this.#user = undefined;
    this.#newId = false;
    this.#ended = true;
  }

  /**
   * The request's change so far: its patch over what it was served, and a new tie if the user changed;
   * with the data it leaves, as parsing its JSON gives it.
   */
  #requestChange(): { change: RequestChange; settled: ParsedView | undefined } | SessionDataError | undefined {
    const loaded = this.#loaded!;
    let json: string | undefined;
    let settled: ReturnType<WorkingCopy["settle"]> | undefined;
    try {
      json = this.#data!.changedJson(loaded.view.json);
      if (json !== undefined) {
        settled = this.#data!.settle();
        // Only what changed can nest too deep: the rest was checked when it was written.
        if (tooDeep(settled.patch.set)) throw new RangeError(`nesting deeper than ${MAX_DEPTH} levels`);
      }
    } catch (error) {
      // A BigInt, a cycle, or nesting too deep: an error of its own, not a store failure.
      return new SessionDataError(error);
    }
    const tie: Tie | undefined =
      this.#user === loaded.view.user
        ? undefined
        : {
            user: this.#user,
            since: this.#user === undefined ? this.#operations.now() : this.#operations.tieSince(this.#user),
          };
    if (json === undefined && tie === undefined) return undefined;
    const patch = settled?.patch ?? { set: {}, deleted: [] };
    return {
      change: { patch, tie, json },
      settled: settled !== undefined ? { data: settled.data, layout: settled.layout } : undefined,
    };
  }

  static {
    changeOfHandle = (handle) => handle.#take();
    deliveredToHandle = (handle, sent) => handle.#delivered(sent);
    servesCookieOf = (value, cookieName) => value instanceof SessionHandle && value.#cookieName === cookieName;
  }

  /** The middleware takes the request's change to save it: from now on, a change is a late one. */
  #take(): SessionChange {
    this.#after.take(this.#loaded !== undefined);
    const change = this.#change();
    // The middleware saves this change: a later one goes on top of it, never carries it again (written
    // again, it would undo what other requests wrote since the response).
    if (change.kind === "changed") {
      const { loaded, change: requested, settled } = change;
      const view = { ...loaded.view, ...(requested.tie ?? {}), json: requested.json ?? loaded.view.json };
      this.#loaded = { ...loaded, view };
      // The data after the change, as parsed once already (read only, as a working copy's base is).
      if (settled !== undefined) this.#data = new WorkingCopy(settled.data, settled.layout);
    }
    return change;
  }

  /** The response's cookies are decided: the id the browser holds after it is known, and late calls go on. */
  #delivered(sent: CookiePlan): void {
    this.#after.delivered(sent, { loaded: this.#loaded, spentId: this.#spentId });
  }

  /** A method taken off `c.var.session` (destructured, passed as a callback) has lost its session: say so. */
  static #own(value: unknown): void {
    if (typeof value !== "object" || value === null || !(#operations in value)) {
      throw new TypeError(
        "hono-edge-session: call the session's methods on the session (c.var.session.get(…)); taken off it, they have none",
      );
    }
  }

  /** What the handler changed: the data compared with what was loaded (so in-place mutations of nested values count too). */
  #change(): SessionChange {
    const loaded = this.#loaded;
    if (loaded === undefined) return { kind: "untouched" };
    const requested = this.#requestChange();
    if (requested instanceof SessionDataError) return { kind: "rejected", loaded, error: requested };
    // A new session with nothing in it is not written.
    const change = requested?.change;
    const empty =
      loaded.isNew && change !== undefined && Object.keys(change.patch.set).length === 0 && change.tie === undefined;
    if (change === undefined || empty) return { kind: "unchanged", loaded, newId: this.#newId, ended: this.#ended };
    const settled = requested!.settled;
    const writing = this.#unspent();
    return {
      kind: "changed",
      loaded: writing,
      change,
      newId: this.#newId,
      ...(settled !== undefined ? { settled } : {}),
    };
  }

  /**
   * The session a write goes to: after a destroy in this request, a new one under a new id (drawn only now:
   * most requests that destroy write nothing after).
   */
  #unspent(): Loaded {
    if (this.#spentId) {
      this.#loaded = freshSession(this.#operations.newId(), this.#operations.now(), undefined);
      this.#spentId = false;
    }
    return this.#loaded!;
  }

  /** The session as the store now holds it becomes this request's base (and its data). */
  #adopt(loaded: Loaded): void {
    // A new session that got written here: the browser learns its id from this response.
    if (this.#loaded?.isNew === true && !loaded.isNew && loaded.id === this.#loaded.id) this.#newId = true;
    this.#loaded = loaded;
    this.#spentId = false;
    this.#user = loaded.view.user;
    const shared = sharedData(loaded);
    this.#data = new WorkingCopy(shared.data, shared.layout);
  }

  /** The request's data: at once when the session was served from memory, or once it is loaded. */
  #ready(): WorkingCopy | Promise<WorkingCopy> {
    if (this.#usable) return this.#data!;
    if (this.#loading === undefined) {
      const loaded = this.#operations.load();
      if (!(loaded instanceof Promise) && !loaded.refused) return this.#start(loaded);
      this.#loading = Promise.resolve(loaded).then((answer) => void this.#start(answer));
    }
    return this.#whenLoaded();
  }

  async #whenLoaded(): Promise<WorkingCopy> {
    await this.#loading;
    return this.#data!;
  }

  /** The loaded session becomes the request's; a session the store refused to confirm is an error, every time. */
  #start(loaded: Loaded): WorkingCopy {
    this.#adopt(loaded);
    if (loaded.refused) throw new SessionUnavailableError(new Error("the store is behind the session cookie"));
    this.#usable = true;
    return this.#data!;
  }
}

/** The parsed data of a copy: parsed once per view and shared (read only) by the requests it serves. */
function sharedData(loaded: Loaded): ParsedView {
  if (loaded.readOnly || loaded.held === undefined || loaded.held.view !== loaded.view)
    return { data: JSON.parse(loaded.view.json) as SessionData, layout: undefined };
  return parsedView(loaded.view);
}
