import { describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar } from "../support/node.js";
import { StoreReader } from "../support/stored.js";
import { SECRET } from "../support/node.js";

/*
 * Destroy is final everywhere: the tombstone wins over any isolate's memory within the staleness bound, a
 * memory hit never keeps a copy alive past what the store holds, and no write brings the session back.
 */
const isolates = useIsolates();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const BOUND_MS = 500;

describe("revocation on every isolate", () => {
  it("ends a copied cookie on another isolate within the bound, however hard it is polled", async () => {
    const app = await startApp(isolates, 2, { maxStalenessMs: BOUND_MS });
    const [a, b] = app;
    const user = new BrowserJar();
    await a!.json(user, "/session", { method: "PUT", json: { user: "ada" } });
    const copy = user.cookie;
    expect(await b!.json(new BrowserJar().with(copy), "/session")).toEqual({ user: "ada" }); // b holds it

    expect((await a!.fetch(user, "/session", { method: "DELETE" })).status).toBe(204);
    const loggedOut = Date.now();
    // An attacker with the copy keeps polling b; every hit is a chance to keep b's copy alive.
    let deadAfter: number | undefined;
    let aliveSentAt = 0; // when the last poll answered alive was sent (it was served after that)
    while (Date.now() - loggedOut < 3 * BOUND_MS) {
      const sentAt = Date.now() - loggedOut;
      const body = await b!.json(new BrowserJar().with(copy), "/session");
      if (JSON.stringify(body) === "{}") deadAfter ??= sentAt;
      else {
        expect(deadAfter).toBeUndefined(); // once dead, never alive again
        aliveSentAt = sentAt;
      }
      await sleep(25);
    }
    expect(deadAfter).toBeDefined();
    // No poll sent past the bound (plus a margin) was served the session. Timed by when a poll was sent,
    // so a slow answer on a busy machine does not count against the bound; a copy kept alive until the
    // loop ends (3 bounds) still fails.
    expect(aliveSentAt).toBeLessThan(BOUND_MS + 250);
  });

  it("lets no write through any isolate bring a destroyed session back", async () => {
    const app = await startApp(isolates, 2, { maxStalenessMs: BOUND_MS });
    const [a, b] = app;
    const user = new BrowserJar();
    await a!.json(user, "/session", { method: "PUT", json: { user: "ada" } });
    const copy = user.cookie;
    const id = user.id!;
    await b!.json(new BrowserJar().with(copy), "/session");
    await a!.fetch(user, "/session", { method: "DELETE" });
    // Straight away (b still trusts its copy) and after the bound: b is told to write.
    for (const wait of [0, BOUND_MS + 50]) {
      await sleep(wait);
      const attacker = new BrowserJar().with(copy);
      await b!.json(attacker, "/session", { method: "PUT", json: { evil: wait } });
    }
    await sleep(200); // writes after the response
    const reader = await StoreReader.forSecret(SECRET);
    const stored = await isolates.stack.client.get(`${app.instance}:${await reader.storeKey(id)}`);
    expect(await reader.open(id, stored!.slice(stored!.indexOf(".") + 1))).toMatchObject({ kind: "tombstone" });
    expect(await a!.json(new BrowserJar().with(copy), "/session")).toEqual({});
    expect(await b!.json(new BrowserJar().with(copy), "/session")).toEqual({});
  });
});
