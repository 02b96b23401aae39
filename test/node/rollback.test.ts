import { describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, eventsOf, SECRET, waitFor } from "../support/node.js";
import { StoreReader } from "../support/stored.js";

/*
 * No silent rollback. Someone with write access to the store (but not the secret) can put back an older,
 * authentic value of a session, or rewrite the version stored beside it. Neither is served quietly.
 */
const isolates = useIsolates();

/** The stored value once its version is `version` (writes land after the response). */
async function storedAt(key: string, version: number): Promise<string> {
  let value: string | null = null;
  await waitFor(
    async () => (value = await isolates.stack.client.get(key))?.startsWith(`${version}.`) === true,
    `version ${version} in the store`,
  );
  return value!;
}

async function twoVersions(options: Record<string, unknown>) {
  const app = await startApp(isolates, 2, options);
  const browser = new BrowserJar();
  await app[0]!.json(browser, "/session", { method: "PUT", json: { role: "admin" } });
  const reader = await StoreReader.forSecret(SECRET);
  const key = `${app.instance}:${await reader.storeKey(browser.id!)}`;
  const versionOne = await storedAt(key, 1);
  await app[0]!.json(browser, "/session", { method: "PUT", json: { role: "user" } }); // the role is removed
  await storedAt(key, 2);
  // The store holds version 2 a moment before isolate 0 records it as saved (after the store's reply):
  // wait for that too, or isolate 0 still holds it as an unsaved change and serves it without a read.
  await waitFor(
    async () => (await eventsOf(app[0]!)).filter((e) => e.type === "write").length >= 2,
    "isolate 0 to record its second write",
  );
  return { app, browser, key, versionOne, reader };
}

describe("no silent rollback", () => {
  it("waits for a store behind the cookie, then serves what it has and reports it (onStaleRead: serve)", async () => {
    const { app, browser, key, versionOne } = await twoVersions({ staleReadWaitMs: 150 });
    await isolates.stack.client.set(key, versionOne, "PX", 60_000); // version 1 put back
    expect(await app[1]!.json(browser, "/session")).toEqual({ role: "admin" });
    const events = await eventsOf(app[1]!);
    const stale = events.find((e) => e.type === "stale-read");
    expect(stale).toMatchObject({ storedVersion: 1, cookieVersion: 2, served: true });
    expect((stale as { waitedMs: number }).waitedMs).toBeGreaterThanOrEqual(150);
  });

  it("with onStaleRead: reject, answers 503 once, settling the claim: the cookie then names what the store holds", async () => {
    const { app, browser, key, versionOne } = await twoVersions({ staleReadWaitMs: 100, onStaleRead: "reject" });
    await isolates.stack.client.set(key, versionOne, "PX", 60_000);
    const res = await app[1]!.fetch(browser, "/session");
    expect(res.status).toBe(503);
    // Only the version cookie is set again (the id stays), naming version 1: no request waits for version 2 again.
    expect(res.headers.getSetCookie().map((c) => c.split("=")[0])).toEqual(["JSESSIONID_v"]);
    expect(browser.version).toBe(1);
    const events = await eventsOf(app[1]!);
    expect(events).toContainEqual(
      expect.objectContaining({ type: "stale-read", storedVersion: 1, cookieVersion: 2, served: false }),
    );
    // The next request costs no wait, on any isolate: it is served what the store holds.
    const next = await app[0]!.fetch(browser, "/session");
    expect(next.status).toBe(200);
  });

  it("never rolls back an isolate that has seen the newer version", async () => {
    const { app, browser, key, versionOne } = await twoVersions({ maxStalenessMs: 0 });
    await isolates.stack.client.set(key, versionOne, "PX", 60_000);
    // Isolate 0 wrote version 2; asked again (every request confirms here), it keeps it, and says the store is behind.
    expect(await app[0]!.json(new BrowserJar().with(browser.cookie), "/session")).toEqual({ role: "user" });
    const events = await eventsOf(app[0]!);
    expect(events).toContainEqual(expect.objectContaining({ type: "stale-read", storedVersion: 1, served: false }));
  });

  it("treats a value whose stored version disagrees with the sealed one as tampered, at once, without a write loop", async () => {
    const { app, browser, key } = await twoVersions({});
    const value = (await isolates.stack.client.get(key))!;
    await isolates.stack.client.set(key, `7${value.slice(value.indexOf("."))}`, "PX", 60_000);
    const fresh = await app.spawn();
    const res = await fresh.fetch(browser, "/session", { method: "PUT", json: { more: 1 } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ more: 1 }); // a new session: the altered one is not trusted
    // Both come after the response: the new session's write (waitUntil), the log line (workerd's stdout).
    const events = async () => await eventsOf(fresh);
    await waitFor(async () => (await events()).some((e) => e.type === "write"), "the new session's write");
    expect((await events()).filter((e) => e.type === "write-conflict")).toEqual([]);
    await waitFor(
      async () => /the store's version 7 is not the sealed version 2/.test(fresh.logs.join("\n")),
      "the log line that the store's version 7 is not the sealed version 2",
    );
  });
});
