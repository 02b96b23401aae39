import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, eventsOf, SECRET, waitFor } from "../support/node.js";
import { StoreReader } from "../support/stored.js";

/*
 * Parallel writes over several isolates all land (they merge per top-level key), and every isolate shows
 * the result within the staleness bound, whichever cookie of the burst the browser kept.
 */
const isolates = useIsolates();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const BOUND_MS = 300;

describe("parallel writes over isolates", () => {
  it("lands 20 parallel writes, and after the bound every cookie of the burst reads all of them on every isolate", async () => {
    const app = await startApp(isolates, 2, { maxStalenessMs: BOUND_MS });
    const browser = new BrowserJar();
    await app[0]!.json(browser, "/session", { method: "PUT", json: { base: 0 } });
    const id = browser.id!;
    const tabs = Array.from({ length: 20 }, () => new BrowserJar().with(browser.cookie));
    await Promise.all(
      tabs.map((tab, i) => app[i % 2]!.json(tab, "/session", { method: "PUT", json: { [`k${i}`]: i } })),
    );
    const expected: Record<string, number> = { base: 0 };
    for (let i = 0; i < 20; i++) expected[`k${i}`] = i;

    // Every change landed: read back from the store itself.
    const reader = await StoreReader.forSecret(SECRET);
    const key = `${app.instance}:${await reader.storeKey(id)}`;
    await waitFor(async () => {
      const stored = await isolates.stack.client.get(key);
      const opened = await reader.open(id, stored!.slice(stored!.indexOf(".") + 1));
      return isDeepStrictEqual(opened.data, expected);
    }, "all 20 writes in the store");

    await sleep(BOUND_MS + 50);
    const cookies = new Set(tabs.map((tab) => tab.cookie));
    for (const cookie of cookies) {
      for (const isolate of app)
        expect(await isolate.json(new BrowserJar().with(cookie), "/session")).toEqual(expected);
    }
  });

  it("reports, as write-overwrite, parallel read-modify-writes of one key made without update()", async () => {
    const app = await startApp(isolates, 2);
    const browser = new BrowserJar();
    await app[0]!.json(browser, "/session", { method: "PUT", json: { cart: [] } });
    // Each request reads the cart and writes it whole: merging per top-level key keeps one of them.
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        app[i % 2]!.json(new BrowserJar().with(browser.cookie), "/session", {
          method: "PUT",
          json: { cart: [`sku-${i}`] },
          headers: { "x-delay-ms": "50" },
        }),
      ),
    );
    // The writes land after the responses: wait for the report rather than a fixed time.
    const reported = async () =>
      [...(await eventsOf(app[0]!)), ...(await eventsOf(app[1]!))].some((e) => e.type === "write-overwrite");
    await expect(waitFor(reported, "a write-overwrite report")).resolves.toBeUndefined();
  });

  it("keeps all ten items of ten parallel cart adds made with update()", async () => {
    const app = await startApp(isolates, 2);
    const browser = new BrowserJar();
    await app[0]!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        app[i % 2]!.json(new BrowserJar().with(browser.cookie), "/cart", {
          method: "POST",
          json: { item: `sku-${i}` },
        }),
      ),
    );
    const fresh = await app.spawn();
    const { cart } = (await fresh.json(browser, "/session")) as { cart: string[] };
    expect([...cart].sort()).toEqual(Array.from({ length: 10 }, (_, i) => `sku-${i}`).sort());
  });
});
