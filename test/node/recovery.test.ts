import { describe, expect, it } from "vitest";
import { useIsolates } from "../support/isolates.js";
import { bindingsFor, BrowserJar, waitForStoredChange } from "../support/node.js";

const isolates = useIsolates();
let n = 0;

const isolate = (instance: string) => isolates.start(bindingsFor(instance, isolates.stack.gateway));

describe("recovery across isolates", () => {
  it("continues a session, intact, in a second isolate after the first is disposed", async () => {
    const instance = `recovery-${++n}`;
    const browser = new BrowserJar();
    const first = await isolate(instance);
    const profile = {
      user: { id: "u-1", name: "Ada", roles: ["admin", "dev"] },
      cart: [{ sku: "A-1", qty: 2 }],
      note: "ünïcödé ✓",
    };
    expect(await first.json(browser, "/session", { method: "PUT", json: profile })).toEqual(profile);
    await waitForStoredChange(isolates.stack.client, instance, null);
    await isolates.dispose(first);

    const second = await isolate(instance);
    expect(await second.json(browser, "/session")).toEqual(profile);
    expect(await second.json(browser, "/session", { method: "PUT", json: { step: 2 } })).toEqual({
      ...profile,
      step: 2,
    });
    expect(browser.version).toBe(2);
  });

  it("does not serve a stale memory entry after the user wrote through another isolate", async () => {
    const instance = `stale-${++n}`;
    const browser = new BrowserJar();
    const a = await isolate(instance);
    const b = await isolate(instance);
    await a.json(browser, "/session", { method: "PUT", json: { plan: "free" } });
    const v1 = await waitForStoredChange(isolates.stack.client, instance, null);
    expect(await b.json(browser, "/session")).toEqual({ plan: "free" }); // b now caches version 1
    expect(await a.json(browser, "/session", { method: "PUT", json: { plan: "pro" } })).toEqual({ plan: "pro" });
    await waitForStoredChange(isolates.stack.client, instance, v1);
    // b holds version 1 in memory, but the cookie names version 2: b must read the store.
    expect(await b.json(browser, "/session")).toEqual({ plan: "pro" });
    // The store holds only sealed data.
    const keys = await isolates.stack.client.keys(`${instance}:*`);
    const stored = await isolates.stack.client.get(keys[0]!);
    expect(stored).not.toContain("pro");
    expect(keys[0]).not.toContain(/JSESSIONID=([^.]+)/.exec(browser.cookie!)![1]!);
  });

  it("regenerate and destroy hold across isolates", async () => {
    const instance = `lifecycle-${++n}`;
    const browser = new BrowserJar();
    const a = await isolate(instance);
    const b = await isolate(instance);
    await a.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    const oldCookie = browser.cookie;
    expect(await a.json(browser, "/session/regenerate", { method: "POST" })).toEqual({ user: "ada" });
    expect(browser.cookie).not.toBe(oldCookie);
    expect(await b.json(browser, "/session")).toEqual({ user: "ada" });
    // The old id never leads to the new session: within the grace window it is read only, and its answer
    // carries no cookie.
    const late = new BrowserJar().with(oldCookie);
    const res = await b.fetch(late, "/session");
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(late.cookie).toBe(oldCookie);

    expect((await b.fetch(browser, "/session", { method: "DELETE" })).status).toBe(204);
    expect(browser.cookie).toBeUndefined();
    // An isolate that never held the old id has nothing of it to show, even within the grace window.
    const c = await isolate(instance);
    expect(await c.json(new BrowserJar().with(oldCookie), "/session")).toEqual({});
    // What stays in the store are sealed markers (a retired id and a tombstone), no session data.
    for (const key of await isolates.stack.client.keys(`${instance}:*`))
      expect(await isolates.stack.client.get(key)).not.toContain("ada");
  });
});

describe("reference worker", () => {
  it("serves the JSON session API", async () => {
    const browser = new BrowserJar();
    const w = await isolate(`api-${++n}`);
    expect(await w.json(browser, "/session")).toEqual({});
    expect(browser.cookie).toBeUndefined();
    expect(await w.json(browser, "/session", { method: "PUT", json: { a: 1 } })).toEqual({ a: 1 });
    expect(await w.json(browser, "/session", { method: "PUT", json: { b: 2 } })).toEqual({ a: 1, b: 2 });
    for (const bad of [[1, 2], "text", null, 5]) {
      expect((await w.fetch(browser, "/session", { method: "PUT", json: bad })).status).toBe(400);
    }
    expect(await w.json(browser, "/session")).toEqual({ a: 1, b: 2 });
    // A body past the limit (64 KiB) is refused. Just past it: the worker answers before reading a body, so a
    // much larger one could still be on its way when the connection closes (a reset, not an answer).
    const huge = await w.fetch(browser, "/session", { method: "PUT", json: { pad: "x".repeat(70_000) } });
    expect(huge.status).toBe(413);
    expect(await w.json(browser, "/session")).toEqual({ a: 1, b: 2 });
    expect((await w.fetch(browser, "/session", { method: "DELETE" })).status).toBe(204);
    expect(await w.json(browser, "/session")).toEqual({});
  });

  it("answers 500 with a generic body on a bad configuration", async () => {
    const broken = await isolates.start({
      EXT_SESSION_MGT: JSON.stringify({ instanceName: "x", storageType: "redis", sessionSecret: "too-short" }),
    });
    const res = await broken.fetch(new BrowserJar(), "/session");
    expect(res.status).toBe(500);
    expect(await res.text()).toBe("Internal Server Error");
  });
});
