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
