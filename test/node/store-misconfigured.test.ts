import { describe, expect, it } from "vitest";
import { useIsolates } from "../support/isolates.js";
import { BrowserJar, SECRET, waitFor } from "../support/node.js";

/*
 * A store failure that waiting will not cure is logged as what it is, naming what to fix, instead of as an
 * outage the layer will ride out.
 */
const isolates = useIsolates();

const ext = (instanceName: string, extra: Record<string, string> = {}) =>
  JSON.stringify({ instanceName, storageType: "redis", sessionSecret: SECRET, ...extra });

describe("a store that waiting will not fix", () => {
  it("says a refused Redis token must be fixed in the binding it came from, without printing it", async () => {
    const token = "wrong-token-that-must-not-be-logged";
    const isolate = await isolates.start({
      EXT_SESSION_MGT: ext("approuter-redis"),
      APPROUTER_REDIS_REST_URL: isolates.stack.gateway.url,
      APPROUTER_REDIS_REST_TOKEN: token,
    });
    const res = await isolate.fetch(new BrowserJar(), "/session", { method: "PUT", json: { a: 1 } });
    expect(res.status).toBe(200); // the change is kept in this isolate's memory
    await waitFor(async () => isolate.logs.some((line) => line.includes("misconfigured")), "the log line");
    const line = isolate.logs.find((l) => l.includes("misconfigured"))!;
    expect(line).toContain("refused the token");
    expect(line).toContain("APPROUTER_REDIS_REST_TOKEN");
    expect(isolate.logs.join("\n")).not.toContain(token);
    expect(isolate.logs.join("\n")).not.toContain("retried on its next request");
  });

  it("says a store that keeps a Durable Object stub across requests must get it per call", async () => {
    const isolate = await isolates.start(
      {
        EXT_SESSION_MGT: JSON.stringify({
          instanceName: "kept",
          storageType: "durable-object",
          sessionSecret: SECRET,
          externalStoreFilePath: "./test/fixtures/stub-keeping-store.ts",
        }),
      },
      { customStore: "./test/fixtures/stub-keeping-store.ts", durableObjectStore: true },
    );
    const browser = new BrowserJar();
    // The first request creates the stub and uses it; the second uses it again.
    expect((await isolate.fetch(browser, "/session", { method: "PUT", json: { a: 1 } })).status).toBe(200);
    await isolate.fetch(browser, "/session", { method: "PUT", json: { b: 2 } });
    await waitFor(async () => isolate.logs.some((line) => line.includes("misconfigured")), "the log line");
    const line = isolate.logs.find((l) => l.includes("misconfigured"))!;
    expect(line).toContain("created by an earlier request");
    expect(line).toContain("namespace.get(id) per call");
  });
});
