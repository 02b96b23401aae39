import { Hono } from "hono";
import { generateSignedCookie, getSignedCookie } from "hono/cookie";
import { parse, serializeSigned } from "hono/utils/cookie";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";
import { Secret } from "../../src/config/secret.js";
import { findCookie } from "../../src/request/cookie-header.js";
import { SessionCookies } from "../../src/request/session-cookie.js";
import { MemoryStore } from "../../src/stores/memory-store.js";
import { importCookieKey, signCookieValue, verifyCookieValue } from "../../src/sealing/cookie-signature.js";
import { deriveKeys, KeyRing, type SessionKeys } from "../../src/sealing/keys.js";
import { Prng } from "../../tools/fuzz/prng.js";
import { withBrowserCookies } from "../../bench/browser-cookies.js";
import { setCookies } from "../support/cookie-jar.js";
import { SECRET } from "../support/workerd.js";

/** What hono's own parser reads for `name`: what findCookie must find. */
const honoReads = (header: string, name: string) => parse(header, name)[name];

describe("findCookie: one cookie of a Cookie header, read as hono's parse(header, name) reads it", () => {
  it.each([
    ["the only cookie", "sid=abc", "abc"],
    ["amid others", "a=1; sid=abc; b=2", "abc"],
    ["the last, no trailing separator", "a=1;sid=abc", "abc"],
    ["absent", "a=1; b=2", undefined],
    ["a name that ends with it is another cookie", "xsid=1; sid=2", "2"],
    ["a name that starts with it is another cookie", "sid_v=1; sid=2", "2"],
    ["only as a longer name", "sid_v=1", undefined],
    ["its name inside another cookie's value", "a=sid=evil; sid=good", "good"],
    ["its name after a space inside another cookie's value", "a=x sid=evil; sid=good", "good"],
    ["first occurrence wins", "sid=first; sid=second", "first"],
    ["a malformed first occurrence is skipped", 'sid=bad"quote; sid=good', "good"],
    ["a control character makes a value malformed", "sid=a\u0001b; sid=ok", "ok"],
    ["a pair without '=' is no value", "sid; sid=later", "later"],
    ["blanks around the name and the '='", "a=1;  \tsid \t= abc \t; b=2", "abc"],
    ["a value that keeps inner spaces", "sid=a b", "a b"],
    ["an empty value", "sid=; b=2", ""],
    ["double quotes are removed", 'sid="abc"', "abc"],
    ["one lone quote is an empty value, as in hono", 'sid="', ""],
    ["a quote on one side only is malformed", 'sid="abc; sid=def', "def"],
    ["percent-encoding is decoded", "sid=a%2Fb%3Dc%2Bd", "a/b=c+d"],
    ["a malformed escape is kept as it is", "sid=a%ZZb%2F", "a%ZZb/"],
    ["escapes that are not UTF-8 are kept, the others decoded", "sid=%E0%A4x%2F", "%E0%A4x/"],
    ["'=' inside the value", "sid=a=b=c", "a=b=c"],
    ["a comma is a cookie character here", "sid=a,b", "a,b"],
    ["a newline before the name is not a blank", "a=1;\nsid=x", undefined],
    ["the name at the very end, without '='", "a=1; sid", undefined],
  ])("%s", (_, header, expected) => {
    expect(honoReads(header, "sid")).toBe(expected);
    expect(findCookie(header, "sid")).toBe(expected);
  });

  it("agrees with hono on a browser's real header, for both session cookies", () => {
    const header = withBrowserCookies("JSESSIONID=abc.def%3D; JSESSIONID_v=abc.1.tag.sig%2F%3D");
    for (const name of ["JSESSIONID", "JSESSIONID_v", "_ga", "OptanonConsent", "__cf_bm", "theme", "nope"]) {
      expect(findCookie(header, name), name).toBe(honoReads(header, name));
    }
  });

  it("agrees with hono on 20 000 seeded random headers built from the characters that matter", () => {
    const prng = new Prng(20_261_127);
    const pick = (list: string[]) => list[prng.next() % list.length]!;
    const names = ["sid", "sid", " sid", "sid ", "\tsid", "sid_v", "xsid", "si", "a", "sid;", ""];
    const values = ["abc", " ", "\t", '"', "%", "%2F", "%Z", "=", "sid=", ",", "\u0001", "\n", "x y", ""];
    const separators = [";", "; ", ";\t", " ; ", ";;"];
    let found = 0;
    for (let i = 0; i < 20_000; i++) {
      const pairs: string[] = [];
      for (let j = 1 + (prng.next() % 5); j > 0; j--) {
        let value = "";
        for (let k = prng.next() % 4; k > 0; k--) value += pick(values);
        pairs.push(prng.next() % 5 === 0 ? pick(names) + value : `${pick(names)}=${value}`);
      }
      const header = pairs.map((pair, j) => (j === 0 ? pair : pick(separators) + pair)).join("");
      const expected = honoReads(header, "sid");
      if (expected !== undefined) found++;
      expect(findCookie(header, "sid"), JSON.stringify(header)).toBe(expected);
    }
    expect(found).toBeGreaterThan(5000); // the generator reaches headers that hold the cookie
  });
});

describe("signed cookie values: the format of hono's signed cookies", () => {
  let keys: SessionKeys;
  let key: CryptoKey;
  beforeAll(async () => {
    keys = await deriveKeys(new Secret(SECRET));
    key = await importCookieKey(keys.cookie);
  });

  /** What hono's getSignedCookie answers for `name` in `header`, with the raw key. */
  const honoVerifies = async (header: string, name: string, raw: Uint8Array<ArrayBuffer>) => {
    const app = new Hono().get("/", async (c) => c.json({ value: (await getSignedCookie(c, raw, name)) ?? null }));
    const res = await app.request("/", { headers: { Cookie: header } });
    return ((await res.json()) as { value: string | false | null }).value;
  };

  it("a value signed here is what hono signs, and hono's getSignedCookie verifies it", async () => {
    const signed = await signCookieValue(key, "ABCDEFGHIJKLMNOPQRSTUVWX.7.tag12345");
    const hono = await serializeSigned("c", "ABCDEFGHIJKLMNOPQRSTUVWX.7.tag12345", keys.cookie);
    expect(`c=${encodeURIComponent(signed)}`).toBe(hono);
    expect(await honoVerifies(withBrowserCookies(hono), "c", keys.cookie)).toBe("ABCDEFGHIJKLMNOPQRSTUVWX.7.tag12345");
  });

  it("a value hono signed verifies here; an altered one, one of another key, or a malformed one does not", async () => {
    const line = await serializeSigned("c", "some.value", keys.cookie);
    const value = findCookie(line, "c")!;
    expect(await verifyCookieValue(key, value)).toBe("some.value");
    const other = await importCookieKey((await deriveKeys(new Secret("another-".padEnd(72, "o")))).cookie);
    expect(await verifyCookieValue(other, value)).toBeUndefined();
    expect(await verifyCookieValue(key, value.replace("some", "same"))).toBeUndefined();
    const signature = value.slice(value.lastIndexOf(".") + 1);
    for (const broken of [
      "some.value", // no signature
      `some.value.${signature.slice(1)}`, // 43 characters
      `some.value.${signature.slice(0, -1)}A`, // not ending in "="
      `some.value.${"!".repeat(43)}=`, // not base64
      "nodot",
    ]) {
      expect(await verifyCookieValue(key, broken), broken).toBeUndefined();
      expect(await honoVerifies(`c=${encodeURIComponent(broken)}`, "c", keys.cookie), broken).not.toBe("some.value");
    }
  });

  it("the spellings of a signature that atob reads alike verify here as in hono (the spare bits)", async () => {
    const value = findCookie(await serializeSigned("c", "v", keys.cookie), "c")!;
    const last = value.at(-2)!;
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const sibling = alphabet[alphabet.indexOf(last) ^ 1]!; // differs only in a bit atob ignores
    const respelled = `${value.slice(0, -2)}${sibling}=`;
    expect(await honoVerifies(`c=${encodeURIComponent(respelled)}`, "c", keys.cookie)).toBe("v");
    expect(await verifyCookieValue(key, respelled)).toBe("v");
  });
});

describe("SessionCookies", () => {
  const config = parseConfig(
    {},
    {
      extSessionMgt: { instanceName: "cookies", storageType: "redis", sessionSecret: SECRET },
      store: new MemoryStore(),
    },
  );
  let ring: KeyRing;
  beforeAll(async () => {
    ring = new KeyRing(await deriveKeys(new Secret(SECRET)), [await deriveKeys(new Secret("old-".padEnd(72, "p")))]);
  });
  const ID = "ABCDEFGHIJKLMNOPQRSTUVWX";

  /** The cookies' Set-Cookie lines for `plan`, and what `read` makes of a header built from them. */
  async function roundTrip(cookies: SessionCookies, header: (set: string[]) => string) {
    const app = new Hono()
      .get("/write", async (c) => {
        await cookies.write(c, {
          kind: "set",
          withId: true,
          id: ID,
          mark: { version: 3, tag: "tag_4567", at: 1_700_000_000_000 },
        });
        return c.body(null);
      })
      .get("/read", async (c) => c.json((await cookies.read(c)) ?? null));
    const set = setCookies(await app.request("/write"));
    const res = await app.request("/read", { headers: { Cookie: header(set.map((line) => line.split(";")[0]!)) } });
    return { set, read: await res.json() };
  }

  it("sets exactly the lines hono's setSignedCookie sets", async () => {
    const { set } = await roundTrip(new SessionCookies(config, ring), () => "");
    const attributes = { path: "/", httpOnly: true, secure: true, sameSite: "Lax" } as const;
    expect(set).toEqual([
      await generateSignedCookie("JSESSIONID", ID, ring.current.cookie, attributes),
      await generateSignedCookie(
        "JSESSIONID_v",
        `${ID}.3.tag_4567.${(1_700_000_000_000).toString(36)}`,
        ring.current.cookie,
        attributes,
      ),
    ]);
  });

  it.each([
    ["every attribute set", "sid", { domain: "example.com", path: "/app", sameSite: "Strict", partitioned: true }],
    ["a __Host- name, SameSite None", "__Host-sid", { sameSite: "None", partitioned: true }],
    ["not Secure (a local http app)", "sid", { secure: false }],
  ] as const)("sets exactly hono's lines with the configuration's attributes too: %s", async (_, name, cookie) => {
    const configured = parseConfig(
      {},
      {
        extSessionMgt: { instanceName: "cookies", storageType: "redis", sessionSecret: SECRET },
        store: new MemoryStore(),
        cookieName: name,
        cookie,
      },
    );
    const { set } = await roundTrip(new SessionCookies(configured, ring), () => "");
    const { domain, ...rest } = configured.cookie;
    const attributes = { ...rest, ...(domain !== undefined ? { domain } : {}), httpOnly: true };
    expect(set).toEqual([
      await generateSignedCookie(name, ID, ring.current.cookie, attributes),
      await generateSignedCookie(
        `${name}_v`,
        `${ID}.3.tag_4567.${(1_700_000_000_000).toString(36)}`,
        ring.current.cookie,
        attributes,
      ),
    ]);
    expect(set[0]).toContain(domain === undefined ? "; Path=" : "; Domain=example.com; Path=/app");
  });

  it("reads its cookies back from amid a browser's other cookies, and quoted", async () => {
    const expected = { id: ID, version: 3, tag: "tag_4567", at: 1_700_000_000_000, resign: false };
    const cookies = new SessionCookies(config, ring);
    expect((await roundTrip(cookies, (pairs) => withBrowserCookies(pairs.join("; ")))).read).toEqual(expected);
    const quoted = (pairs: string[]) => pairs.map((pair) => pair.replace("=", '="') + '"').join("; ");
    // A fresh instance (no verified values remembered) and the one that has them: the same answer.
    expect((await roundTrip(new SessionCookies(config, ring), quoted)).read).toEqual(expected);
    expect((await roundTrip(cookies, quoted)).read).toEqual(expected);
  });

  it("passes over cookies of its names that do not verify, sent in front of its own (cookie tossing)", async () => {
    // A sibling subdomain can set JSESSIONID for the whole domain with a longer path: the browser sends it
    // first. Read as the only one, it would sign the user out; the pairs after it are tried.
    const expected = { id: ID, version: 3, tag: "tag_4567", at: 1_700_000_000_000, resign: false };
    const forgedId = `JSESSIONID=${encodeURIComponent(`${"Z".repeat(24)}.${"A".repeat(43)}=`)}`;
    const forgedVersion = `JSESSIONID_v=${encodeURIComponent(`${ID}.9.tag_4567.0.${"A".repeat(43)}=`)}`;
    const tossed = (pairs: string[]) => `${forgedId}; ${forgedVersion}; malformed=1; ${pairs.join("; ")}`;
    // A fresh instance, and one that verified the genuine cookies before (sent alone).
    const verifiedBefore = new SessionCookies(config, ring);
    expect((await roundTrip(verifiedBefore, (pairs) => pairs.join("; "))).read).toEqual(expected);
    for (const cookies of [new SessionCookies(config, ring), verifiedBefore]) {
      expect((await roundTrip(cookies, tossed)).read).toEqual(expected);
      expect((await roundTrip(cookies, (pairs) => `${pairs.join("; ")}; ${forgedId}`)).read).toEqual(expected);
    }
    // Only a cookie that verifies counts: forged ones alone read as no cookie at all.
    expect((await roundTrip(new SessionCookies(config, ring), () => `${forgedId}; ${forgedId}`)).read).toBeNull();
  });

  it("recognises a verified value by the text sent: another spelling reads the same, an altered one is refused", async () => {
    const cookies = new SessionCookies(config, ring);
    const expected = { id: ID, version: 3, tag: "tag_4567", at: 1_700_000_000_000, resign: false };
    const plain = (pairs: string[]) => pairs.map((pair) => decodeURIComponent(pair)).join("; ");
    const altered = (pairs: string[]) =>
      pairs.map((pair) => pair.replace(/(.)%3D$/, (_, last: string) => `${last === "A" ? "B" : "A"}%3D`)).join("; ");
    const malformedFirst = (pairs: string[]) => `JSESSIONID=not"valid; ${pairs.join("; ")}`;
    for (let round = 0; round < 2; round++) {
      // Sent percent-encoded (as set), then with its "=" unencoded: hono decodes both to one value.
      expect((await roundTrip(cookies, (pairs) => pairs.join("; "))).read).toEqual(expected);
      expect((await roundTrip(cookies, plain)).read).toEqual(expected);
      // A first pair hono skips as malformed: the next one of the name is read (and not remembered by it).
      expect((await roundTrip(cookies, malformedFirst)).read).toEqual(expected);
    }
    // The id's verified value is remembered, but a signature changed in one character is checked, and fails.
    const { read } = await roundTrip(cookies, altered);
    expect(read).toBeNull();
  });

  it("checks a signature once per isolate, sent plain or quoted: the same text again costs no HMAC", async () => {
    // Set by another isolate, read here.
    const { set } = await roundTrip(new SessionCookies(config, ring), () => "");
    const pairs = set.map((line) => line.split(";")[0]!);
    const quoted = pairs.map((pair) => pair.replace("=", '="') + '"').join("; ");
    for (const header of [pairs.join("; "), quoted]) {
      const cookies = new SessionCookies(config, ring);
      const app = new Hono().get("/", async (c) => c.json(await cookies.read(c)));
      const verify = vi.spyOn(crypto.subtle, "verify");
      try {
        for (let i = 0; i < 3; i++) {
          expect(await (await app.request("/", { headers: { Cookie: header } })).json()).toMatchObject({
            id: ID,
            version: 3,
          });
        }
        expect(verify).toHaveBeenCalledTimes(2); // the first time: both cookies verified; then none
      } finally {
        verify.mockRestore();
      }
    }
  });

  it("knows the cookies it set as signed: the browser sending them back costs no HMAC, on this isolate only", async () => {
    const cookies = new SessionCookies(config, ring);
    const verify = vi.spyOn(crypto.subtle, "verify");
    try {
      // Written, then read back as the browser sends it: nothing verified.
      expect((await roundTrip(cookies, (pairs) => withBrowserCookies(pairs.join("; ")))).read).toMatchObject({
        id: ID,
        version: 3,
        tag: "tag_4567",
      });
      expect(verify).not.toHaveBeenCalled();
      // Another isolate (another instance) did not set them: it checks both.
      const other = new SessionCookies(config, ring);
      const { set } = await roundTrip(cookies, () => "");
      const app = new Hono().get("/", async (c) => c.json(await other.read(c)));
      const header = set.map((line) => line.split(";")[0]).join("; ");
      expect(await (await app.request("/", { headers: { Cookie: header } })).json()).toMatchObject({ id: ID });
      expect(verify).toHaveBeenCalledTimes(2);
    } finally {
      verify.mockRestore();
    }
  });

  it("takes the version cookie that names its id, past a validly signed one of another id sent in front", async () => {
    // An attacker's own version cookie, signed by this very app, tossed by a sibling subdomain: read first, it
    // would make the browser's claim name no write, and hide its newest one from another isolate.
    const expected = { id: ID, version: 3, tag: "tag_4567", at: 1_700_000_000_000, resign: false };
    const key = await importCookieKey(ring.current.cookie);
    const theirs = await signCookieValue(key, `${"Z".repeat(24)}.41.tag_zzzz.0`);
    const tossed = (pairs: string[]) => `JSESSIONID_v=${encodeURIComponent(theirs)}; ${pairs.join("; ")}`;
    const cookies = new SessionCookies(config, ring);
    expect((await roundTrip(cookies, tossed)).read).toEqual(expected);
    // Each pair verified once per isolate: sent again, the same header costs no HMAC.
    const verify = vi.spyOn(crypto.subtle, "verify");
    try {
      const app = new Hono().get("/read", async (c) => c.json((await cookies.read(c)) ?? null));
      const { set } = await roundTrip(cookies, () => "");
      const header = tossed(set.map((line) => line.split(";")[0]!));
      verify.mockClear();
      expect(await (await app.request("/read", { headers: { Cookie: header } })).json()).toEqual(expected);
      expect(verify).not.toHaveBeenCalled();
    } finally {
      verify.mockRestore();
    }
  });

  it("does not remember a padded value by its text (it would keep the padding, or the whole header, alive)", async () => {
    const cookies = new SessionCookies(config, ring);
    // Blanks after each value (another cookie last: fetch trims a header's own ends).
    const padded = (pairs: string[]) => `${pairs.map((pair) => `${pair}${" ".repeat(300)}`).join("; ")}; theme=dark`;
    await roundTrip(cookies, padded);
    const verify = vi.spyOn(crypto.subtle, "verify");
    try {
      // Read as hono reads it (blanks trimmed), and checked again each time.
      expect((await roundTrip(cookies, padded)).read).toMatchObject({ id: ID, version: 3 });
      expect(verify).toHaveBeenCalledTimes(2);
    } finally {
      verify.mockRestore();
    }
  });

  it("verifies a cookie of the previous secret and says so", async () => {
    const previous = new SessionCookies(config, new KeyRing(ring.previous[0]!));
    const { set } = await roundTrip(previous, () => "");
    const header = set.map((line) => line.split(";")[0]).join("; ");
    const app = new Hono().get("/", async (c) => c.json(await new SessionCookies(config, ring).read(c)));
    const res = await app.request("/", { headers: { Cookie: header } });
    expect(await res.json()).toEqual({ id: ID, version: 3, tag: "tag_4567", at: 1_700_000_000_000, resign: true });
  });
});
