import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../src/index.js";
import { useIsolates } from "../support/isolates.js";
import { bindingsFor, BrowserJar, waitFor, type Isolate } from "../support/node.js";

// Each of these fails on a last-writer-wins session layer: HES_TEST_LWW=1 runs them with compare-and-set
// turned off (versionedWrites: false) to show it.
const WORKER = "test/fixtures/concurrency-worker.ts";
const lastWriterWins = process.env.HES_TEST_LWW === "1";

const isolates = useIsolates();
let n = 0;

/**
 * `count` isolates of one app: separate memory tiers, one store, as Workers runs a user's requests. The
 * array's `spawn()` starts one more isolate of the same app later (a fresh memory tier).
 */
async function app(
  count: number,
  options: Record<string, unknown> = {},
): Promise<Isolate[] & { spawn(): Promise<Isolate> }> {
  const instance = `concurrency-${++n}`;
  const bindings = bindingsFor(instance, isolates.stack.gateway, {
    SESSION_TEST_OPTIONS: JSON.stringify({ ...options, ...(lastWriterWins ? { versionedWrites: false } : {}) }),
  });
  const spawn = () => isolates.start(bindings, WORKER);
  const started = await Promise.all(Array.from({ length: count }, spawn));
  return Object.assign(started, { spawn });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const slow = (ms: number) => ({ "x-delay-ms": String(ms) });

describe("no lost updates", () => {
  it("keeps both changes of parallel writers to different keys in two isolates", async () => {
    const [a, b, reader] = await app(3);
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { base: 1 } });
    // Both load version 1, then both write: one of them meets the other's version and merges onto it.
    await Promise.all([
      a!.json(browser, "/session", { method: "PUT", json: { fromA: true }, headers: slow(150) }),
      b!.json(browser, "/session", { method: "PUT", json: { fromB: true }, headers: slow(150) }),
    ]);
    expect(await reader!.json(browser, "/session")).toEqual({ base: 1, fromA: true, fromB: true });
  });

  it("counts K parallel atomic increments over three isolates to exactly K", async () => {
    const isolatesOfApp = await app(3);
    const browser = new BrowserJar();
    await isolatesOfApp[0]!.json(browser, "/session", { method: "PUT", json: { n: 0 } });
    const K = 24;
    await Promise.all(
      Array.from({ length: K }, (_, i) =>
        isolatesOfApp[i % 3]!.json(browser, "/counter", { method: "POST", headers: slow((i * 7) % 30) }),
      ),
    );
    const fresh = await isolatesOfApp.spawn();
    expect(await fresh.json(browser, "/session")).toEqual({ n: K });
  });
});

describe("destroy is final", () => {
  it("keeps a session destroyed when a slow request that loaded it finishes afterwards", async () => {
    const [a, b, c] = await app(3);
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    const stolen = browser.cookie;
    const slowWrite = a!.fetch(new BrowserJar().with(stolen), "/session", {
      method: "PUT",
      json: { late: true },
      headers: slow(400),
    });
    await sleep(100);
    expect((await b!.fetch(browser, "/session", { method: "DELETE" })).status).toBe(204);
    await slowWrite;
    const replay = new BrowserJar().with(stolen);
    expect(await c!.json(replay, "/session")).toEqual({});
    expect(await a!.json(new BrowserJar().with(stolen), "/session")).toEqual({});
  });
});

describe("regenerate that defends against fixation", () => {
  it("lets a request in flight with the old cookie finish read only, drops its write, and never hands it the new id", async () => {
    const isolatesOfApp = await app(3, { regenerateGraceSeconds: 1 });
    const [a, b, c] = isolatesOfApp;
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    const oldCookie = browser.cookie;
    const tab = new BrowserJar().with(oldCookie);
    const inFlight = a!.fetch(tab, "/session", { method: "PUT", json: { cart: ["sku-1"] }, headers: slow(300) });
    await sleep(80);
    expect(await b!.json(browser, "/session/regenerate", { method: "POST" })).toEqual({ user: "ada" });
    const newId = browser.id!;
    const res = await inFlight;
    expect(res.status).toBe(200);
    // Its write was dropped (not written into the new session), and it never replaced the new id cookie.
    expect(res.headers.getSetCookie().some((header) => header.startsWith("JSESSIONID="))).toBe(false);
    expect(tab.id).not.toBe(newId);
    expect(await c!.json(browser, "/session")).toEqual({ user: "ada" });
    expect(await a!.json(new BrowserJar(), "/events")).toContainEqual({ type: "write-dropped", reason: "regenerated" });

    await sleep(1_100);
    const late = new BrowserJar().with(oldCookie);
    const d = await isolatesOfApp.spawn();
    expect(await d.json(late, "/session")).toEqual({});
    expect(late.id).not.toBe(newId);
    // The new cookie still works.
    expect(await d.json(browser, "/session")).toEqual({ user: "ada" });
  });
});

describe("timeouts enforced on the server", () => {
  it("ends a session at its absolute lifetime however active it is, regenerate included", async () => {
    const [a, b] = await app(2, { absoluteTimeout: 0.02 }); // 1.2 s
    const browser = new BrowserJar();
    const started = Date.now();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    await sleep(400);
    expect(await b!.json(browser, "/session")).toEqual({ user: "ada" });
    await b!.json(browser, "/session/regenerate", { method: "POST" });
    await waitFor(async () => Date.now() - started > 1_300, "the absolute lifetime to pass", 3_000);
    expect(await a!.json(browser, "/session")).toEqual({});
    expect(await b!.json(browser, "/session")).toEqual({});
  });

  it("ends an idle session on every tier", async () => {
    const [a, b] = await app(2, { timeout: 0.01 }); // 600 ms
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    expect(await b!.json(browser, "/session")).toEqual({ user: "ada" }); // b now holds it in memory too
    await sleep(800);
    expect(await a!.json(browser, "/session")).toEqual({});
    expect(await b!.json(browser, "/session")).toEqual({});
  });
});

describe("stale reads", () => {
  it("notices a store older than the cookie, serves the newest it has, and reports it", async () => {
    const [a, b] = await app(2);
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { step: 1 } });
    const [key] = await isolates.stack.client.keys(`concurrency-${n}:*`);
    const versionOne = (await isolates.stack.client.get(key!))!;
    await a!.json(browser, "/session", { method: "PUT", json: { step: 2 } });
    // A replica behind its primary: the store answers with version 1 while the cookie names version 2.
    await isolates.stack.client.set(key!, versionOne, "PX", 60_000);
    expect(await b!.json(browser, "/session")).toEqual({ step: 1 });
    const events = (await b!.json(new BrowserJar(), "/events")) as SessionEvent[];
    expect(events).toContainEqual(
      expect.objectContaining({ type: "stale-read", storedVersion: 1, cookieVersion: 2, served: true }),
    );
  });
});
