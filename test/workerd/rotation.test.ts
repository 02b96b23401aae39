import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { MemoryStore, session, type SessionOptions } from "../../src/index.js";
import { Secret } from "../../src/config/secret.js";
import { openEnvelope } from "../../src/sealing/envelope.js";
import { deriveKeys, KeyRing, storeKeyOf } from "../../src/sealing/keys.js";
import { setCookies } from "../support/cookie-jar.js";
import { Browser } from "../support/workerd.js";

/*
 * Secret rotation: a new secret seals and signs everything new; the previous ones still open, verify and
 * find what they made; a session moves to the new secret's store key on its next write; removing a secret
 * ends exactly the sessions only it could open.
 */
const OLD = "old-secret-".padEnd(70, "o");
const NEW = "new-secret-".padEnd(70, "n");

/** An isolate of the app with these secrets, on the shared store. */
function isolate(store: MemoryStore, secret: string, previousSecrets: string[] = [], extra: SessionOptions = {}) {
  return new Hono()
    .use(session({ secret, previousSecrets, store, ...extra }))
    .get("/read", async (c) => c.json(await c.var.session.get()))
    .post("/set", async (c) => {
      const body = await c.req.json<Record<string, unknown>>();
      for (const [key, value] of Object.entries(body)) await c.var.session.set(key, value);
      return c.json(await c.var.session.get());
    });
}

/** What the store holds under each secret's key for a session, opened with every secret. */
async function where(store: MemoryStore, id: string) {
  const old = await deriveKeys(new Secret(OLD));
  const current = await deriveKeys(new Secret(NEW));
  const ring = new KeyRing(current, [old]);
  const open = async (key: string) => {
    const sealed = await store.get(key);
    if (sealed === null) return null;
    const envelope = await openEnvelope(ring, id, sealed);
    return {
      kind: envelope.kind,
      sealedWithNew: envelope.kind !== undefined && (await sealedWith(sealed, current.keyId)),
    };
  };
  return { old: await open(await storeKeyOf(old, id)), new: await open(await storeKeyOf(current, id)) };
}

async function sealedWith(sealed: string, keyId: Uint8Array): Promise<boolean> {
  const { decodeBase64Url } = await import("../../src/sealing/base64url.js");
  const header = decodeBase64Url(sealed).subarray(2, 6);
  return header.every((byte, i) => byte === keyId[i]);
}

describe("secret rotation", () => {
  it("keeps a live session across a rotation, signs its cookies again, and moves it on its next write", async () => {
    const store = new MemoryStore();
    const browser = new Browser(isolate(store, OLD));
    await browser.fetch("/set", { method: "POST", json: { user: "ada" } });
    const oldCookie = browser.cookie;

    // The new configuration on another isolate: the session reads, and the cookies come back re-signed.
    const rotated = isolate(store, NEW, [OLD]);
    const tab = new Browser(rotated).with(oldCookie);
    const read = await tab.fetch("/read");
    expect(await read.json()).toEqual({ user: "ada" });
    expect(setCookies(read)).toHaveLength(2);
    expect(tab.cookie).not.toBe(oldCookie);
    // A read moves nothing: the session stays under the old secret's key, sealed with it.
    expect(await where(store, browser.id!)).toEqual({ old: { kind: "data", sealedWithNew: false }, new: null });

    // Its next write moves it: sealed with the new secret under the new key, the old key marked moved.
    await tab.fetch("/set", { method: "POST", json: { step: 2 } });
    expect(await where(store, browser.id!)).toEqual({
      old: { kind: "moved", sealedWithNew: true },
      new: { kind: "data", sealedWithNew: true },
    });
    // Every isolate still finds it: one on the new configuration, and a fresh one.
    expect(await new Browser(isolate(store, NEW, [OLD])).with(tab.cookie).json("/read")).toEqual({
      user: "ada",
      step: 2,
    });
    expect(await new Browser(isolate(store, NEW, [OLD])).with(oldCookie).json("/read")).toEqual({
      user: "ada",
      step: 2,
    });
  });

  it("finds a session an isolate still on the old configuration moved back, in a two-step rollout", async () => {
    const store = new MemoryStore();
    // Step one: every isolate learns the new secret, as a previous one.
    const browser = new Browser(isolate(store, OLD, [NEW]));
    await browser.fetch("/set", { method: "POST", json: { n: 1 } });
    // Step two rolls out: the new secret is current on some isolates only.
    const moved = new Browser(isolate(store, NEW, [OLD])).with(browser.cookie);
    await moved.fetch("/set", { method: "POST", json: { n: 2 } }); // moved to the new key
    const stillOld = new Browser(isolate(store, OLD, [NEW])).with(moved.cookie);
    expect(await stillOld.json("/read")).toEqual({ n: 2 });
    await stillOld.fetch("/set", { method: "POST", json: { n: 3 } }); // written where it is
    expect(await new Browser(isolate(store, NEW, [OLD])).with(stillOld.cookie).json("/read")).toEqual({ n: 3 });
  });

  it("ends exactly the sessions only a removed secret can open, with a fresh session and never a 5xx", async () => {
    const store = new MemoryStore();
    const untouched = new Browser(isolate(store, OLD));
    await untouched.fetch("/set", { method: "POST", json: { who: "never came back" } });
    const active = new Browser(isolate(store, OLD));
    await active.fetch("/set", { method: "POST", json: { who: "active" } });
    // During the rotation the active one is written once (moved, and its cookies signed again).
    const rotated = new Browser(isolate(store, NEW, [OLD])).with(active.cookie);
    await rotated.fetch("/set", { method: "POST", json: { seen: true } });
    const activeCookie = rotated.cookie;

    // The old secret goes.
    const withoutOld = isolate(store, NEW);
    const gone = await new Browser(withoutOld).with(untouched.cookie).fetch("/read");
    expect(gone.status).toBe(200);
    expect(await gone.json()).toEqual({});
    expect(await new Browser(withoutOld).with(activeCookie).json("/read")).toEqual({ who: "active", seen: true });
  });
});
