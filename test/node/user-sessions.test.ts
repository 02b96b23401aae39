import { describe, expect, it } from "vitest";
import type { SessionInfo } from "../../src/index.js";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, eventsOf, type Isolate, waitFor } from "../support/node.js";

/*
 * "Your sessions" and "log out everywhere", on real isolates and Redis: a user's sessions are listed (by
 * opaque handle), revoked one by one or all at once from any request, stop on every isolate within the
 * staleness bound, and the index in the store follows the sessions exactly.
 */
const isolates = useIsolates();
const BOUND_MS = 400;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function login(isolate: Isolate, user: string): Promise<BrowserJar> {
  const browser = new BrowserJar();
  await isolate.json(browser, "/session", { method: "PUT", json: { cart: [] } }); // an anonymous session first
  await isolate.json(browser, "/login", { method: "POST", json: { user } });
  return browser;
}

/** The handles in the user's index in Redis (the sorted set by expiry), read from the store itself. */
async function indexed(instance: string): Promise<string[]> {
  const [key] = await isolates.stack.client
    .keys(`${instance}|u:*`)
    .then((keys) => keys.filter((k) => !/\|[sec]$/.test(k))); // not the since-set, entries or cut-off
  return key === undefined ? [] : (await isolates.stack.client.zrange(key, 0, -1)).sort();
}

describe("a user's sessions", () => {
  it("lists them by handle, marks the current one, and ends all three on two isolates from a fourth request", async () => {
    const app = await startApp(isolates, 2, { maxStalenessMs: BOUND_MS });
    const [a, b] = app;
    const devices = [await login(a!, "ada"), await login(b!, "ada"), await login(a!, "ada")];
    for (const [i, device] of devices.entries())
      expect(await app[i % 2]!.json(device, "/session")).toEqual({ cart: [] });
    // Every isolate has them in memory now.
    for (const device of devices)
      for (const isolate of app) await isolate.json(new BrowserJar().with(device.cookie), "/session");

    const listed = (await b!.json(devices[1]!, "/sessions")) as SessionInfo[];
    expect(listed).toHaveLength(3);
    expect(listed.filter((s) => s.current)).toHaveLength(1);
    for (const info of listed) {
      expect(info.handle).toMatch(/^[A-Za-z0-9_-]{22}$/);
      for (const device of devices) expect(device.cookie).not.toContain(info.handle); // not an id
      expect(info.lastSeenAt).toBeLessThanOrEqual(Date.now() + 1000);
    }
    expect(await indexed(app.instance)).toEqual(listed.map((s) => s.handle).sort());

    // A fourth request (a new login of the same user, on another isolate) logs out everywhere else.
    const fourth = await login(await app.spawn(), "ada");
    const fourthIsolate = app.at(-1)!;
    expect(
      await fourthIsolate.json(fourth, "/sessions/revoke-all", { method: "POST", json: { keepCurrent: true } }),
    ).toEqual({
      revoked: 3,
    });
    await sleep(BOUND_MS + 50);
    for (const device of devices) {
      for (const isolate of app)
        expect(await isolate.json(new BrowserJar().with(device.cookie), "/session")).toEqual({});
    }
    expect(await fourthIsolate.json(fourth, "/session")).toEqual({ cart: [] });
    expect((await fourthIsolate.json(fourth, "/sessions")) as SessionInfo[]).toHaveLength(1);
    expect(await indexed(app.instance)).toHaveLength(1);
  });

  it("revokes one session by its handle, and a revoked session cannot be written back", async () => {
    const app = await startApp(isolates, 2);
    const [a, b] = app;
    const phone = await login(a!, "bob");
    const laptop = await login(b!, "bob");
    // setUser() after regenerate is written after the response: wait for both logins in the index.
    await waitFor(async () => (await indexed(app.instance)).length === 2, "both logins in the index");
    const listed = (await a!.json(phone, "/sessions")) as SessionInfo[];
    const other = listed.find((s) => !s.current)!;
    expect(await a!.json(phone, "/sessions/revoke", { method: "POST", json: { handle: other.handle } })).toEqual({
      revoked: true,
    });
    // The laptop's isolate still holds it in memory, within the bound: a write through it must not revive it.
    await b!.fetch(new BrowserJar().with(laptop.cookie), "/session", { method: "PUT", json: { evil: 1 } });
    await waitFor(
      async () => (await eventsOf(b!)).some((e) => e.type === "write-dropped"),
      "b to drop the write of the revoked session",
    );
    const fresh = await app.spawn();
    expect(await fresh.json(new BrowserJar().with(laptop.cookie), "/session")).toEqual({});
    expect(((await a!.json(phone, "/sessions")) as SessionInfo[]).map((s) => s.current)).toEqual([true]);
  });

  it("keeps the index exactly in step with concurrent logins and logouts, and lets entries go with their sessions", async () => {
    const app = await startApp(isolates, 2, { idleTimeoutMs: 1200 }); // 1.2 s idle timeout
    const browsers = await Promise.all(Array.from({ length: 8 }, (_, i) => login(app[i % 2]!, "cy")));
    // Half log out while the other half log in again (regenerate), all at once, over both isolates.
    await Promise.all(
      browsers.map((browser, i) =>
        i % 2 === 0
          ? app[(i + 1) % 2]!.fetch(browser, "/session", { method: "DELETE" })
          : app[(i + 1) % 2]!.json(browser, "/login", { method: "POST", json: { user: "cy" } }),
      ),
    );
    // The logins' setUser() writes land after the responses: wait for the index to settle (at 4, if no orphan).
    await waitFor(async () => (await indexed(app.instance)).length === 4, "the index to hold the 4 live sessions");
    const live = browsers.filter((_, i) => i % 2 === 1);
    const listed = (await app[0]!.json(live[0]!, "/sessions")) as SessionInfo[];
    expect(listed).toHaveLength(4); // no orphan: neither the logged-out nor the regenerated-away ids
    expect(await indexed(app.instance)).toEqual(listed.map((s) => s.handle).sort());
    // Expiry prunes them, and the index itself goes with its last entry.
    await waitFor(
      async () => (await indexed(app.instance)).length === 0,
      "the index to empty as the sessions expire",
      5_000,
    );
    expect(await isolates.stack.client.keys(`${app.instance}|u:*`)).toEqual([]);
  });
});
