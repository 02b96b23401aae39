import { afterEach, describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, eventsOf, SECRET, waitFor } from "../support/node.js";
import { StoreReader } from "../support/stored.js";

/*
 * Store failures, through the gateway to a real redis-server with the real client: the user must keep the
 * data they had.
 */
const isolates = useIsolates();
afterEach(() => {
  isolates.stack.gateway.setDelay(0);
  isolates.stack.gateway.clearFaults();
});

async function stored(instance: string, id: string): Promise<{ version: number; kind: string; data?: unknown }> {
  const reader = await StoreReader.forSecret(SECRET);
  const value = await isolates.stack.client.get(`${instance}:${await reader.storeKey(id)}`);
  if (value === null) return { version: 0, kind: "none" };
  return await reader.open(id, value.slice(value.indexOf(".") + 1));
}

describe("awaitWrites: a write before the response that the store failed", () => {
  it("is tried again after the response, so the user's next request on another isolate has it", async () => {
    const app = await startApp(isolates, 2, { awaitWrites: true, storeTimeoutMs: 300 });
    const [a, b] = app;
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { step: 1 } });
    expect((await stored(app.instance, browser.id!)).version).toBe(1); // awaited: in the store already
    // The store is now slower than the timeout: the write is given up before Redis runs it.
    isolates.stack.gateway.setDelay(2_000);
    const res = await a!.fetch(browser, "/session", { method: "PUT", json: { step: 2 } });
    expect(res.status).toBe(200); // a failed write never fails the response; the cookie names the change
    expect(browser.version).toBe(2);
    isolates.stack.gateway.setDelay(0); // the store is back
    expect((await eventsOf(a!)).filter((e) => e.type === "store-failure")).toHaveLength(1);
    // Written again after the response, as a write after the response is (without waiting for the user to
    // come back to this very isolate) …
    await waitFor(async () => (await stored(app.instance, browser.id!)).version === 2, "the change in the store");
    // … so the user's next request, on the other isolate, reads it.
    expect(await b!.json(browser, "/session")).toEqual({ step: 2 });
  });
});

describe("regenerate() whose retirement landed with its answers lost", () => {
  /** A session written through the first isolate, in the store, and recorded as saved by that isolate. */
  async function signedIn() {
    const app = await startApp(isolates, 2);
    const browser = new BrowserJar();
    await app[0]!.json(browser, "/session", { method: "PUT", json: { cart: ["book"] } });
    await waitFor(async () => (await stored(app.instance, browser.id!)).version === 1, "version 1 in the store");
    // Until the isolate records its write, its end is planned over nothing, misses, and spends the fault there.
    await waitFor(
      async () => (await eventsOf(app[0]!)).some((e) => e.type === "write"),
      "the isolate to record its write",
    );
    return { app, browser, oldId: browser.id! };
  }

  it("carries the session when the client's retry finds the marker its first attempt left", async () => {
    const { app, browser, oldId } = await signedIn();
    const [a, b] = app;
    // The retirement runs in Redis; its answer is lost, and the client's retry finds it in place.
    isolates.stack.gateway.injectFault({ command: ["EVALSHA", "EVAL"], times: 1 });
    expect(await a!.json(browser, "/session/regenerate", { method: "POST" })).toEqual({ cart: ["book"] });
    const log = await (
      await fetch(`${isolates.stack.gateway.url}/__gateway/commands`, {
        headers: { authorization: `Bearer ${isolates.stack.gateway.token}` },
      })
    ).json();
    console.log(
      "CMDS",
      JSON.stringify((log as any).result ?? log, (k, v) =>
        typeof v === "string" && v.length > 40 ? v.slice(0, 40) : v,
      ),
    );
    expect(isolates.stack.gateway.pendingFaults()).toEqual([]); // the fault did strike
    expect(browser.id).not.toBe(oldId);
    expect((await stored(app.instance, oldId)).kind).toBe("retired");
    expect(await b!.json(browser, "/session")).toEqual({ cart: ["book"] });
  });

  it("carries the session when the attempt and the client's retry both lost their answers", async () => {
    const { app, browser, oldId } = await signedIn();
    const [a, b] = app;
    // Both the call and the client's one retry run in Redis and lose their answers: the client gives up. The
    // end is tried once more, finds a marker sealed by another call, and knows it for its own by its tag.
    isolates.stack.gateway.injectFault({ command: ["EVALSHA", "EVAL"], times: 2 });
    const res = await a!.fetch(browser, "/session/regenerate", { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ cart: ["book"] });
    expect(isolates.stack.gateway.pendingFaults()).toEqual([]);
    expect(browser.id).not.toBe(oldId);
    expect((await stored(app.instance, oldId)).kind).toBe("retired");
    expect(await b!.json(browser, "/session")).toEqual({ cart: ["book"] });
    // The lost answers are reported, not hidden.
    expect((await eventsOf(a!)).filter((e) => e.type === "store-failure").length).toBeGreaterThan(0);
  });
});
