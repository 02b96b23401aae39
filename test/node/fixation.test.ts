import { describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, eventsOf, type Isolate, waitFor } from "../support/node.js";

/*
 * Regenerate defends against session fixation: the new id, and anything written after regenerate(), are
 * never disclosed to a request that holds only the old id, at any time, on any isolate.
 */
const isolates = useIsolates();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Seen {
  status: number;
  setCookies: string[];
  body: string;
}

/** Polls GET /session with `cookie` on the isolates in turn, every `everyMs`, until stopped. */
function poll(targets: Isolate[], cookie: string | undefined, everyMs: number) {
  const seen: Seen[] = [];
  let running = true;
  const done = (async () => {
    for (let i = 0; running; i++) {
      const res = await targets[i % targets.length]!.fetch(new BrowserJar().with(cookie), "/session");
      seen.push({ status: res.status, setCookies: res.headers.getSetCookie(), body: await res.text() });
      await sleep(everyMs);
    }
  })();
  return {
    seen,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe("regenerate defends against session fixation", () => {
  it("never gives a client holding only the old id the new id or what was written after, on two isolates", async () => {
    const [a, b, c] = await startApp(isolates, 3, { maxStalenessMs: 300 });
    // The attacker plants a session and keeps its cookie; the victim's browser uses it.
    const victim = new BrowserJar();
    await a!.json(victim, "/session", { method: "PUT", json: { theme: "dark" } });
    const planted = victim.cookie;
    await a!.json(new BrowserJar().with(planted), "/session");
    await b!.json(new BrowserJar().with(planted), "/session"); // both isolates now hold it in memory

    const attacker = poll([a!, b!], planted, 100);
    let newId = "";
    try {
      await sleep(250);
      // The victim logs in: a new id, then the login's data, written through the other isolate.
      await b!.json(victim, "/session/regenerate", { method: "POST" });
      newId = victim.id!;
      await a!.json(victim, "/session", { method: "PUT", json: { user: "victim", token: "s3cret" } });
      // The attacker tries to write into the session with the old id, on both isolates.
      for (const isolate of [a!, b!]) {
        const res = await isolate.fetch(new BrowserJar().with(planted), "/session", {
          method: "PUT",
          json: { evil: 1 },
        });
        expect(res.headers.getSetCookie().join("; ")).not.toContain(newId);
      }
      await sleep(2_000); // well past the staleness bound
    } finally {
      await attacker.stop(); // also when an assertion above fails, before the isolates go
    }

    expect(attacker.seen.length).toBeGreaterThanOrEqual(10); // it did poll, all along
    for (const response of attacker.seen) {
      expect(response.status).toBe(200);
      expect(response.setCookies.join("; ")).not.toContain(newId);
      expect(response.body).not.toContain("s3cret");
      expect(response.body).not.toContain("victim");
    }
    // The victim has the login and never the attacker's write; the old id now opens nothing anywhere.
    expect(await c!.json(victim, "/session")).toEqual({ theme: "dark", user: "victim", token: "s3cret" });
    for (const isolate of [a!, b!, c!])
      expect(await isolate.json(new BrowserJar().with(planted), "/session")).toEqual({});
  });

  it("lets a request in flight with the old id finish read only, without replacing the new cookie", async () => {
    const [a, b] = await startApp(isolates, 2);
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    const tab = new BrowserJar().with(browser.cookie);
    const inFlight = a!.fetch(tab, "/session", {
      method: "PUT",
      json: { cart: ["sku-1"] },
      headers: { "x-delay-ms": "300" },
    });
    await sleep(80);
    await b!.json(browser, "/session/regenerate", { method: "POST" });
    const res = await inFlight;
    expect(res.status).toBe(200);
    // It may carry a version cookie of the old id (a browser keeps its new id cookie, and ignores a
    // version cookie of another id), never an id cookie.
    expect(res.headers.getSetCookie().filter((h) => h.startsWith("JSESSIONID="))).toEqual([]);
    browser.take(res);
    expect(await b!.json(browser, "/session")).toEqual({ user: "ada" });
    // Its write was dropped, and reported: written into the new session, it would be the attacker's way in.
    // The write runs after the response, so the report may come a little later.
    const dropped = async () =>
      (await eventsOf(a!)).some((e) => e.type === "write-dropped" && e.reason === "regenerated");
    await expect(waitFor(dropped, "the in-flight write to be dropped as regenerated")).resolves.toBeUndefined();
  });

  it("never extends the old id's life: a TTL refresh touches only the version it knows, and nothing revives it", async () => {
    // 1.2 s idle timeout: the refresh is due after 120 ms; the retired marker lives two timeouts.
    const app = await startApp(isolates, 2, { idleTimeoutMs: 1200, ttlRefreshFraction: 0.1 });
    const [a, b] = app;
    const browser = new BrowserJar();
    await a!.json(browser, "/session", { method: "PUT", json: { user: "ada" } });
    const old = browser.cookie;
    await b!.json(new BrowserJar().with(old), "/session"); // b holds the old id
    await sleep(150);
    await a!.json(browser, "/session/regenerate", { method: "POST" });
    const [oldKey] = await isolates.stack.client.keys(`${app.instance}:*`).then(async (keys) => {
      const ttls = await Promise.all(keys.map((k) => isolates.stack.client.pttl(k)));
      return keys.filter((_, i) => ttls[i]! > 1_500); // the marker: two timeouts, the session one
    });
    expect(oldKey).toBeDefined();
    const before = await isolates.stack.client.pttl(oldKey!);
    // b's copy is due for a refresh; a request with the old cookie must not extend the marker.
    await b!.fetch(new BrowserJar().with(old), "/session");
    await sleep(50);
    expect(await isolates.stack.client.pttl(oldKey!)).toBeLessThanOrEqual(before);

    // Once the marker itself is gone, a write with the old cookie through b starts a new session.
    await sleep(2_600);
    expect(await isolates.stack.client.exists(oldKey!)).toBe(0);
    const late = new BrowserJar().with(old);
    await b!.json(late, "/session", { method: "PUT", json: { again: true } });
    expect(late.id).not.toBe(new BrowserJar().with(old).id);
    expect(await isolates.stack.client.exists(oldKey!)).toBe(0);
  });
});
