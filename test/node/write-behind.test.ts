import { afterEach, describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, eventsOf, SECRET, waitFor } from "../support/node.js";
import { StoreReader } from "../support/stored.js";

/*
 * Writes after the response: with the store 40 ms away, a changed session answers before its write reaches
 * the store, the write still lands, and a user's next request on another isolate waits for it.
 */
const isolates = useIsolates();
afterEach(() => {
  isolates.stack.gateway.setDelay(0);
  isolates.stack.gateway.clearFaults();
});

async function storedVersion(instance: string, id: string): Promise<number> {
  const reader = await StoreReader.forSecret(SECRET);
  const value = await isolates.stack.client.get(`${instance}:${await reader.storeKey(id)}`);
  return value === null ? 0 : Number(value.slice(0, value.indexOf(".")));
}

describe("writes after the response", () => {
  it("answers before the store holds the change, lands it, and the next request on another isolate reads it", async () => {
    const app = await startApp(isolates, 2);
    const [a, b] = app;
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { step: 1 } });
    await waitFor(async () => (await storedVersion(app.instance, browser.id!)) === 1, "version 1 in the store");

    isolates.stack.gateway.setDelay(40); // the store is now 40 ms away: 20 ms each way
    for (let step = 2; step <= 4; step++) {
      const isolate = step % 2 === 0 ? a! : b!;
      expect(await isolate.json(browser, "/session", { method: "PUT", json: { step } })).toMatchObject({ step });
      // The user's very next request, on the other isolate, reads its own write (waiting for it if need be).
      const other = step % 2 === 0 ? b! : a!;
      expect(await other.json(browser, "/session")).toMatchObject({ step });
    }
    // Every write landed.
    await waitFor(async () => (await storedVersion(app.instance, browser.id!)) === 4, "version 4 in the store");

    // The answer does not wait for the store: with the store 1 s away (500 ms before Redis applies a
    // write), the response is back, and the store still holds the version before. The key is derived
    // beforehand, so only one direct Redis GET runs in that window, with time to spare on a busy machine.
    const key = `${app.instance}:${await (await StoreReader.forSecret(SECRET)).storeKey(browser.id!)}`;
    const versionAt = async () => Number((await isolates.stack.client.get(key))?.split(".", 1)[0] ?? 0);
    isolates.stack.gateway.setDelay(1_000);
    expect(await a!.json(browser, "/session", { method: "PUT", json: { step: 5 } })).toMatchObject({ step: 5 });
    expect(await versionAt()).toBe(4);
    await waitFor(async () => (await versionAt()) === 5, "version 5 in the store", 10_000);
    const events = await eventsOf(a!);
    expect(events.filter((e) => e.type === "write" && e.deferred).length).toBeGreaterThanOrEqual(2);
  });
});

describe("idempotent compare-and-set", () => {
  /** `{ n: 0 }` written through the first isolate: in the store, and recorded as saved by that isolate. */
  async function counterSession(isolateCount: number) {
    const app = await startApp(isolates, isolateCount);
    const browser = new BrowserJar();
    await app[0]!.json(browser, "/session", { method: "PUT", json: { n: 0 } });
    await waitFor(async () => (await storedVersion(app.instance, browser.id!)) === 1, "version 1 in the store");
    // Redis holds it a moment before the isolate records it as saved: until then /counter would run on the
    // unsaved entry, conflict, and spend the fault on the wrong attempt.
    await waitFor(
      async () => (await eventsOf(app[0]!)).some((e) => e.type === "write"),
      "the isolate to record its write",
    );
    return { app, browser };
  }

  it("counts exactly when the store applied a write and its answer was lost (the client retries)", async () => {
    const { app, browser } = await counterSession(1);
    const [a] = app;
    // The next compare-and-set runs in Redis, then the gateway drops the connection before answering.
    isolates.stack.gateway.injectFault({ command: ["EVALSHA", "EVAL"], times: 1 });
    expect(await a!.json(browser, "/counter", { method: "POST" })).toEqual({ n: 1 });
    expect(isolates.stack.gateway.pendingFaults()).toEqual([]); // the fault did strike
    const fresh = await app.spawn();
    expect(await fresh.json(browser, "/session")).toEqual({ n: 1 });
    const events = await eventsOf(a!);
    expect(events.filter((e) => e.type === "write-conflict")).toEqual([]); // found its own write, no merge
  });

  it("counts exactly when another isolate counted on top of that write before the client's retry", async () => {
    const { app, browser } = await counterSession(2);
    const [a, b] = app;
    const before = browser.cookie;
    // a's compare-and-set runs in Redis; its connection then hangs and breaks, and the client retries.
    isolates.stack.gateway.injectFault({ command: ["EVALSHA", "EVAL"], times: 1, holdMs: 2_000 });
    const viaA = a!.json(new BrowserJar().with(before), "/counter", { method: "POST" });
    await waitFor(async () => (await storedVersion(app.instance, browser.id!)) === 2, "a's count in the store");
    // Meanwhile the user's other tab counts on b, on top of a's write.
    expect(await b!.json(new BrowserJar().with(before), "/counter", { method: "POST" })).toEqual({ n: 2 });
    // a's retry finds its own write under b's: counted once, not merged and counted again.
    expect(await viaA).toEqual({ n: 2 });
    expect(isolates.stack.gateway.pendingFaults()).toEqual([]);
    expect(await (await app.spawn()).json(new BrowserJar().with(before), "/session")).toEqual({ n: 2 });
    const events = await eventsOf(a!);
    expect(events.filter((e) => e.type === "write-conflict")).toEqual([]);
  });
});
