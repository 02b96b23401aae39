import { describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, eventsOf, type Isolate, waitFor } from "../support/node.js";

// Each of these fails on a last-writer-wins session layer: HES_TEST_LWW=1 runs them with compare-and-set
// turned off (versionedWrites: false) to show it.
const lastWriterWins = process.env.HES_TEST_LWW === "1";

const isolates = useIsolates();

/** `count` isolates of one app: separate memory tiers, one store, as Workers runs a user's requests. */
const app = (count: number, options: Record<string, unknown> = {}) =>
  startApp(isolates, count, { ...options, ...(lastWriterWins ? { versionedWrites: false } : {}) });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const slow = (ms: number) => ({ "x-delay-ms": String(ms) });
const writes = async (isolate: Isolate) => (await eventsOf(isolate)).filter((e) => e.type === "write").length;

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
    // Both writes land after the responses: read once they have (a: base and fromA, b: fromB), or the read
    // may find only the first. Last-writer-wins records them too, and fails on the data below.
    await waitFor(async () => (await writes(a!)) >= 2 && (await writes(b!)) >= 1, "both writes to land");
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
    // Its write lands after the response; until then `a` holds it as an unsaved change. Check once it is
    // settled: dropped, or (last-writer-wins) written, which the assertions below catch.
    await waitFor(
      async () =>
        (await eventsOf(a!)).some((e) => e.type === "write-dropped" && e.reason === "destroyed") ||
        (await writes(a!)) >= 2,
      "the slow request's write to be dropped or land",
    );
    const replay = new BrowserJar().with(stolen);
    expect(await c!.json(replay, "/session")).toEqual({});
    expect(await a!.json(new BrowserJar().with(stolen), "/session")).toEqual({});
  });
});

describe("timeouts enforced on the server", () => {
  it("ends a session at its absolute lifetime however active it is, regenerate included", async () => {
    const [a, b] = await app(2, { absoluteTimeoutMs: 1200 }); // 1.2 s
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    // Created before the PUT answered: 1.3 s from here is surely past its 1.2 s, however slow the PUT was.
    const started = Date.now();
    await sleep(400);
    expect(await b!.json(browser, "/session")).toEqual({ user: "ada" });
    await b!.json(browser, "/session/regenerate", { method: "POST" });
    await waitFor(async () => Date.now() - started > 1_300, "the absolute lifetime to pass", 3_000);
    expect(await a!.json(browser, "/session")).toEqual({});
    expect(await b!.json(browser, "/session")).toEqual({});
  });

  it("ends an idle session on every tier", async () => {
    const [a, b] = await app(2, { idleTimeoutMs: 600 }); // 600 ms
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    expect(await b!.json(browser, "/session")).toEqual({ user: "ada" }); // b now holds it in memory too
    await sleep(800);
    expect(await a!.json(browser, "/session")).toEqual({});
    expect(await b!.json(browser, "/session")).toEqual({});
  });
});
