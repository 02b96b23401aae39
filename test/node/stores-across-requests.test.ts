import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useIsolates } from "../support/isolates.js";
import { BrowserJar, SECRET, waitFor, type Isolate, type IsolateOptions } from "../support/node.js";
import { StoreReader } from "../support/stored.js";

/*
 * Every store the package ships, driven the way Workers drives it: each request a separate dispatchFetch
 * into one long-lived isolate, so anything the layer keeps per isolate (a store, a client, a Durable Object
 * stub, a pending promise) is used again by later requests. Each write is read back from the store itself,
 * and any line the worker logs fails the test.
 */
const isolates = useIsolates();
let reader: StoreReader;
let seedProject: string;
let n = 0;

beforeAll(async () => {
  reader = await StoreReader.forSecret(SECRET);
  // A user's project with the application router's sample store (CommonJS, on @upstash/redis), bundled
  // behind "hono-edge-session/custom-store" as `hono-edge-session-store` + wrangler's [alias] do.
  seedProject = resolve(`test/.tmp/across-requests-${process.pid}`);
  await mkdir(join(seedProject, "storage"), { recursive: true });
  // A CommonJS project, as the application router's users have.
  await writeFile(join(seedProject, "package.json"), JSON.stringify({ private: true, type: "commonjs" }));
  await copyFile("test/fixtures/seed-store/my-special-storage.js", join(seedProject, "storage/my-special-storage.js"));
  await writeFile(
    join(seedProject, "storage/store-config.json"),
    JSON.stringify({ url: isolates.stack.gateway.url, token: isolates.stack.gateway.token, namespace: "across" }),
  );
  await writeFile(
    join(seedProject, "custom-store.mjs"),
    'import * as module from "./storage/my-special-storage.js";\n' +
      'export const bundledStore = { path: "./storage/my-special-storage", module };\n',
  );
});
afterAll(async () => {
  await rm(seedProject, { recursive: true, force: true });
});

interface StoreUnderTest {
  name: string;
  start(persistTo?: string): Promise<Isolate>;
  /** The sealed session as the store holds it, read from the store, or null. */
  stored(isolate: Isolate, sessionId: string): Promise<string | null>;
  persistent?: boolean;
}

const ext = (instanceName: string, storageType: string, externalStoreFilePath?: string) =>
  JSON.stringify({ instanceName, storageType, sessionSecret: SECRET, externalStoreFilePath });

const stores: StoreUnderTest[] = [
  {
    name: "Redis over REST",
    async start() {
      const instance = `across-redis-${++n}`;
      const isolate = await isolates.start({
        EXT_SESSION_MGT: ext(instance, "redis"),
        UPSTASH_REDIS_REST_URL: isolates.stack.gateway.url,
        UPSTASH_REDIS_REST_TOKEN: isolates.stack.gateway.token,
      });
      return Object.assign(isolate, { instance });
    },
    async stored(isolate, sessionId) {
      const { instance } = isolate as Isolate & { instance: string };
      const value = await isolates.stack.client.get(`${instance}:${await reader.storeKey(sessionId)}`);
      return value === null ? null : value.slice(value.indexOf(".") + 1);
    },
  },
  {
    name: "Durable Object (the embedded default)",
    persistent: true,
    start(persistTo) {
      const options: IsolateOptions = {
        customStore: "./test/support/bundled-store.ts",
        durableObjectStore: true,
        ...(persistTo !== undefined ? { persistTo } : {}),
      };
      return isolates.start(
        { EXT_SESSION_MGT: ext("local-sessions", "durable-object", "./src/stores/durable-object/index.ts") },
        options,
      );
    },
    async stored(isolate, sessionId) {
      // The store module's default namespace "sessions"; the session's own object, and its get() over RPC.
      const key = await reader.storeKey(sessionId);
      const namespace = await isolate.mf.getDurableObjectNamespace("SESSION_STORE");
      const object = namespace.get(namespace.idFromName(`sessions/s/${key}`));
      return await (object as unknown as { get(key: string): Promise<string | null> }).get(key);
    },
  },
  {
    name: "bundled custom store (the application router's sample)",
    start() {
      return isolates.start(
        { EXT_SESSION_MGT: ext("seed", "custom", "./storage/my-special-storage") },
        { customStore: join(seedProject, "custom-store.mjs") },
      );
    },
    async stored(_isolate, sessionId) {
      return await isolates.stack.client.get(`seed-sample-custom-store:across:${await reader.storeKey(sessionId)}`);
    },
  },
];

/** Waits until the store holds `expected` for the session the browser's cookie names (writes may land after the response). */
async function expectStored(store: StoreUnderTest, isolate: Isolate, browser: BrowserJar, expected: unknown) {
  const id = browser.id!;
  let seen: unknown;
  await waitFor(
    async () => {
      const sealed = await store.stored(isolate, id);
      seen = sealed === null ? null : await reader.open(id, sealed);
      return JSON.stringify(seen) === JSON.stringify({ version: browser.version, kind: "data", data: expected });
    },
    "the write to land in the store",
    3_000,
  ).catch(() => {
    throw new Error(
      `the store holds ${JSON.stringify(seen)}, not version ${browser.version} of ${JSON.stringify(expected)}`,
    );
  });
}

/** Five writes, each followed by a read, each a separate request. */
async function fiveWritesAndReads(store: StoreUnderTest, isolate: Isolate, browser: BrowserJar) {
  const expected: Record<string, number> = {};
  for (let i = 1; i <= 5; i++) {
    expected[`k${i}`] = i;
    const put = await isolate.fetch(browser, "/session", { method: "PUT", json: { [`k${i}`]: i } });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual(expected);
    const get = await isolate.fetch(browser, "/session");
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual(expected);
    await expectStored(store, isolate, browser, expected);
  }
  return expected;
}

describe.each(stores)("$name, across separate requests to one isolate", (store) => {
  it("stores five writes in a row, each read back from the store, with nothing in the log", async () => {
    const isolate = await store.start();
    const browser = new BrowserJar();
    await fiveWritesAndReads(store, isolate, browser);
    expect(browser.version).toBe(5);
    expect(isolate.logs).toEqual([]);
  });
});

describe("the Durable Object store keeps sessions across a restart", () => {
  it("gives back a session written before the isolate was disposed, from a new one on the same storage", async () => {
    const store = stores.find((s) => s.persistent)!;
    const dir = await mkdtemp(join(tmpdir(), "hes-persist-"));
    try {
      const browser = new BrowserJar();
      const first = await store.start(dir);
      const expected = await fiveWritesAndReads(store, first, browser);
      expect(first.logs).toEqual([]);
      await isolates.dispose(first);

      const second = await store.start(dir);
      expect(await second.json(browser, "/session")).toEqual(expected);
      await expectStored(store, second, browser, expected);
      expect(second.logs).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
