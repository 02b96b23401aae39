import { afterAll, beforeAll, expect, it } from "vitest";
import {
  bindingsFor,
  BrowserJar,
  Isolate,
  startRedisStack,
  waitFor,
  waitForStoredChange,
  type RedisStack,
} from "../support/node.js";

let stack: RedisStack;
let a: Isolate;
let b: Isolate;
const instance = "outage";

beforeAll(async () => {
  stack = await startRedisStack();
  a = await Isolate.start(bindingsFor(instance, stack.gateway));
  b = await Isolate.start(bindingsFor(instance, stack.gateway));
});
afterAll(async () => {
  await Promise.all([a?.dispose(), b?.dispose()]);
  await stack?.stop();
});

it("keeps every session through redis-server going down and coming back", async () => {
  const browser = new BrowserJar();
  await a.json(browser, "/session", { method: "PUT", json: { step: 1 } });
  await waitForStoredChange(stack.client, instance, null);

  await stack.redis.stop();

  // The isolate that has the session keeps serving and accepting writes; the failed backup is only logged.
  expect(await a.json(browser, "/session", { method: "PUT", json: { step: 2 } })).toEqual({ step: 2 });
  expect(await a.json(browser, "/session")).toEqual({ step: 2 });
  expect(browser.version).toBe(2);

  // Another isolate cannot know the session: it answers 503 and leaves the cookie alone.
  const res = await b.fetch(browser, "/session");
  expect(res.status).toBe(503);
  expect(res.headers.get("Set-Cookie")).toBeNull();
  expect(browser.version).toBe(2);

  // Redis comes back empty (no persistence): the next request on the isolate that holds the session backs it up again.
  await stack.redis.start();
  await waitFor(async () => (await stack.client.ping().catch(() => "")) === "PONG", "redis to accept connections");
  await waitFor(async () => {
    expect(await a.json(browser, "/session")).toEqual({ step: 2 });
    return (await stack.client.keys(`${instance}:*`)).length === 1;
  }, "the retried backup");

  expect(await b.json(browser, "/session")).toEqual({ step: 2 });
  expect(await b.json(browser, "/session", { method: "PUT", json: { step: 3 } })).toEqual({ step: 3 });
});

it("gives a store that lost its data (a restarted Redis) the session back from the isolate that holds it", async () => {
  const bindings = bindingsFor("outage-lost", stack.gateway, {
    SESSION_TEST_OPTIONS: JSON.stringify({ maxStalenessMs: 200 }),
  });
  const [c, d] = await Promise.all([0, 1].map(() => Isolate.start(bindings, "test/fixtures/concurrency-worker.ts")));
  try {
    const browser = new BrowserJar();
    await c!.json(browser, "/session", { method: "PUT", json: { kept: true } });
    await waitFor(async () => (await stack.client.keys("outage-lost:*")).length === 1, "the write");
    await stack.redis.stop();
    await stack.redis.start(); // empty: no persistence
    await waitFor(async () => (await stack.client.ping().catch(() => "")) === "PONG", "redis to accept connections");
    expect(await stack.client.keys("outage-lost:*")).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 250)); // past the staleness bound: c asks the store
    expect(await c!.json(browser, "/session")).toEqual({ kept: true });
    // Written back, after the response.
    await waitFor(async () => (await stack.client.keys("outage-lost:*")).length === 1, "the write-back");
    expect(await d!.json(browser, "/session")).toEqual({ kept: true });
  } finally {
    await Promise.all([c!.dispose(), d!.dispose()]);
  }
});
