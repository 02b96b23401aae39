import { BrowserJar } from "../../test/support/node.js";
import { canonicalSigned, decodedCookieValue, signedCookieCandidates } from "./cookie-oracle.js";

/*
 * Real sessions, made through the worker's own API, that the cookie mutators start from. Each holds a
 * unique marker; a response may show a marker only to a request that carries that session's genuine id
 * cookie. The pool remembers every id cookie a session has had (regenerate gives it a new one; the old one
 * stays readable for a grace window), and every session it ever held (a destroyed one's cookies must then
 * open nothing, and a new session must never answer to them).
 */

export const ID_COOKIE = "JSESSIONID";
export const VERSION_COOKIE = `${ID_COOKIE}_v`;
/** Every marker looks like this, so a response can be searched for any of them. */
export const MARKER_PATTERN = /fuzz-marker-\d+-[0-9a-f]{8}/g;

export interface ValidSession {
  readonly marker: string;
  readonly slot: number;
  /** The current session id, and its two cookies as the worker set them (URL-encoded, ready to send). */
  id: string;
  idCookie: string;
  versionCookie: string;
  /** Destroyed, or found gone: its slot gets a new session. */
  dead: boolean;
}

/** One request to the worker; `dispatchFetch` in the fuzz. */
export type Send = (method: string, path: string, headers: Record<string, string>, body?: string) => Promise<Response>;

export class SessionPool {
  readonly slots: ValidSession[] = [];
  /** Canonical id cookie value → the session it opens (every one ever issued to a pool session). */
  readonly #byIdCookie = new Map<string, ValidSession>();
  /** Session id → pool session (every one ever). */
  readonly #byId = new Map<string, ValidSession>();
  #made = 0;

  constructor(
    readonly send: Send,
    readonly size: number,
  ) {}

  async fill(): Promise<void> {
    for (let slot = 0; slot < this.size; slot++) this.slots.push(await this.#make(slot));
  }

  /** A new session for the slot of a dead one (unless the slot already got one). */
  async replace(dead: ValidSession): Promise<void> {
    dead.dead = true;
    if (this.slots[dead.slot] !== dead) return;
    const made = await this.#make(dead.slot);
    if (this.slots[dead.slot] === dead) this.slots[dead.slot] = made;
  }

  /**
   * The pool session whose genuine id cookie the worker takes from `header`: the first pair it tries that is
   * a pool session's (any other pair is forged: the fuzz sends no genuine cookie from outside the pool).
   */
  namedBy(header: string): ValidSession | undefined {
    const value = this.#genuine(header);
    return value === undefined ? undefined : this.#byIdCookie.get(value);
  }

  /** The header carries the session's current id cookie (not one it had before a regenerate). */
  carriesCurrentId(session: ValidSession, header: string): boolean {
    const value = this.#genuine(header);
    return value !== undefined && value === canonicalSigned(decodedCookieValue(session.idCookie));
  }

  #genuine(header: string): string | undefined {
    return signedCookieCandidates(header, ID_COOKIE).find((value) => this.#byIdCookie.has(value));
  }

  /** The pool session that ever had this id. */
  ownerOfId(id: string): ValidSession | undefined {
    return this.#byId.get(id);
  }

  header(session: ValidSession, order: "id-first" | "version-first" = "id-first"): string {
    const id = `${ID_COOKIE}=${session.idCookie}`;
    const version = `${VERSION_COOKIE}=${session.versionCookie}`;
    return order === "id-first" ? `${id}; ${version}` : `${version}; ${id}`;
  }

  /** Takes the cookies a response set for a pool session: a new version, or a new id after regenerate. */
  adopt(session: ValidSession, response: Response): void {
    const jar = new BrowserJar().with(this.header(session));
    jar.take(response);
    const idCookie = jar.get(ID_COOKIE);
    const versionCookie = jar.get(VERSION_COOKIE);
    if (idCookie === undefined || versionCookie === undefined) return;
    if (idCookie !== session.idCookie) this.#remember(session, idCookie);
    session.idCookie = idCookie;
    session.versionCookie = versionCookie;
    session.id = jar.id!;
  }

  async #make(slot: number): Promise<ValidSession> {
    const n = ++this.#made;
    const marker = `fuzz-marker-${n}-${crypto.getRandomValues(new Uint32Array(1))[0]!.toString(16).padStart(8, "0")}`;
    // Some bulk, so the sessions are compressed when sealed, as real ones are.
    const profile = "lorem ipsum dolor sit amet ".repeat(1 + (n % 40));
    const res = await this.send(
      "PUT",
      "/session",
      { "Content-Type": "application/json" },
      JSON.stringify({ marker, profile }),
    );
    const body = await res.text();
    if (res.status !== 200 || !body.includes(marker)) {
      throw new Error(`making a pool session answered ${res.status}: ${body.slice(0, 200)}`);
    }
    const jar = new BrowserJar();
    jar.take(res);
    const idCookie = jar.get(ID_COOKIE);
    const versionCookie = jar.get(VERSION_COOKIE);
    if (idCookie === undefined || versionCookie === undefined) throw new Error("a new session got no cookies");
    const session: ValidSession = { marker, slot, id: jar.id!, idCookie, versionCookie, dead: false };
    this.#remember(session, idCookie);
    return session;
  }

  #remember(session: ValidSession, rawIdCookie: string): void {
    const canonical = canonicalSigned(decodedCookieValue(rawIdCookie));
    if (canonical === undefined) throw new Error("the worker set an id cookie hono cannot verify");
    this.#byIdCookie.set(canonical, session);
    this.#byId.set(canonical.slice(0, canonical.indexOf(".")), session);
  }
}
