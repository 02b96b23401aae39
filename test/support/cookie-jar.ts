/**
 * A browser's cookies for one site, shared by every isolate it talks to (requests are not sticky): it
 * keeps what each `Set-Cookie` sets, forgets what one expires, and sends them all back.
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  constructor(readonly cookieName = "JSESSIONID") {}

  /** The `Cookie` header to send, or undefined when the jar is empty. */
  get cookie(): string | undefined {
    if (this.#cookies.size === 0) return undefined;
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join("; ");
  }

  /** Replaces the jar with the cookies of a `Cookie` header (a copied cookie, another tab). */
  set cookie(header: string | undefined) {
    this.#cookies.clear();
    for (const pair of (header ?? "").split(/;\s*/)) {
      const at = pair.indexOf("=");
      if (at > 0) this.#cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
  }

  /** This jar holding `header`: another tab of the same browser, or an attacker with a copied cookie. */
  with(header: string | undefined): this {
    this.cookie = header;
    return this;
  }

  /** Applies a response's `Set-Cookie` headers, in order. */
  take(response: { headers: Headers }): void {
    for (const line of setCookies(response)) {
      const [pair] = line.split(";");
      const at = pair!.indexOf("=");
      const name = pair!.slice(0, at);
      if (/;\s*Max-Age=0/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, pair!.slice(at + 1));
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  /** The session id the id cookie names. */
  get id(): string | undefined {
    return this.#cookies.get(this.cookieName)?.split(".")[0];
  }

  /** The version the version cookie names for that id (0 when none). */
  get version(): number {
    const [id, version] = (this.#cookies.get(`${this.cookieName}_v`) ?? "").split(".");
    return id !== undefined && id === this.id ? Number(version) : 0;
  }
}

/** Every `Set-Cookie` header of a response, one string each. */
export function setCookies(response: { headers: Headers }): string[] {
  return (response.headers as Headers & { getSetCookie(): string[] }).getSetCookie();
}
