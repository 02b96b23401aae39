import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { session } from "../../src/index.js";
import { DurableObjectStore, type SessionStoreObject } from "../../src/stores/durable-object/index.js";
import { describeStoreConformance } from "../../src/testing/store-conformance.js";
import { Browser, MemoryLogger, SECRET, uniqueInstance } from "../support/workerd.js";

const binding = (env as unknown as { SESSION_STORE: DurableObjectNamespace<SessionStoreObject> }).SESSION_STORE;

describeStoreConformance("DurableObjectStore", {
  makeStore: (namespace) => new DurableObjectStore(binding, { namespace }),
  versioned: true,
  revalidating: true,
  indexed: true,
  namespaces: true,
});

/** The object of that name, with a stub for this test. */
const object = (name: string) => binding.get(binding.idFromName(name));

/** What an object holds: its tables with their row counts, and its alarm (nothing at all once it emptied itself). */
function holdings(name: string) {
  return runInDurableObject(object(name), async (_: SessionStoreObject, state: DurableObjectState) => {
    const tables = state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'",
      )
      .toArray()
      .map(({ name }) => name);
    const rows = Object.fromEntries(
      tables.map((table) => [
        table,
        state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n,
      ]),
    );
    return { rows, alarm: await state.storage.getAlarm() };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the object's alarm if it is still due: workerd runs a due alarm by itself, maybe before the test asks. */
async function alarmRan(name: string): Promise<void> {
  await runDurableObjectAlarm(object(name));
}

describe("DurableObjectStore", () => {
  it("keeps each session in an object of its own, and each user's record in the user's object", async () => {
    const namespace = uniqueInstance("layout");
    const store = new DurableObjectStore(binding, { namespace });
    await store.set("a", "v", 1);
    await store.setIfVersion("b", 0, 1, "w", 1);
    const expiresAt = Date.now() + 60_000;
    await store.changeIndex(
      [
        { userKey: "ada", handle: "ha", op: "put", entry: "e", expiresAt, since: 1 },
        { userKey: "bob", handle: "hb", op: "put", entry: "e", expiresAt, since: 1 },
      ],
      { maxEntries: 10, keepMinutes: 1 },
    );
    expect((await holdings(`${namespace}/s/a`)).rows).toMatchObject({ sessions: 1, user_entries: 0 });
    expect((await holdings(`${namespace}/s/b`)).rows).toMatchObject({ sessions: 1, user_entries: 0 });
    expect((await holdings(`${namespace}/u/ada`)).rows).toMatchObject({ sessions: 0, user_entries: 1, user_record: 1 });
    expect((await holdings(`${namespace}/u/bob`)).rows).toMatchObject({ sessions: 0, user_entries: 1 });
    expect(await runInDurableObject(object(`${namespace}/s/a`), (o: SessionStoreObject) => o.get("a"))).toBe("v");
  });

  it("leaves nothing behind in an object it only read", async () => {
    const namespace = uniqueInstance("read-only");
    const store = new DurableObjectStore(binding, { namespace });
    expect(await store.get("never-set")).toBeNull();
    expect(await store.getIfChanged("never-set", 1, 1)).toEqual({ version: 0, session: null });
    await store.resetTimer("never-set", 1);
    await store.destroy("never-set");
    expect(await store.revokedBefore("nobody")).toBe(0);
    await store.changeIndex([{ userKey: "nobody", handle: "h", op: "remove" }], { maxEntries: 10, keepMinutes: 1 });
    expect(await store.readIndex("nobody")).toEqual({ entries: [], revokedBefore: 0 });
    expect(await holdings(`${namespace}/s/never-set`)).toEqual({ rows: {}, alarm: null });
    expect(await holdings(`${namespace}/u/nobody`)).toEqual({ rows: {}, alarm: null });
  });

  it("deletes a session's storage when it is destroyed, and when it expires (by the alarm)", async () => {
    const namespace = uniqueInstance("empty");
    const store = new DurableObjectStore(binding, { namespace });
    await store.set("a", "v", 10);
    await store.set("b", "w", 0.005);
    expect((await holdings(`${namespace}/s/b`)).alarm).not.toBeNull();
    expect((await holdings(`${namespace}/s/a`)).alarm).not.toBeNull();
    await store.destroy("a");
    expect(await holdings(`${namespace}/s/a`)).toEqual({ rows: {}, alarm: null });
    await sleep(400);
    await alarmRan(`${namespace}/s/b`);
    expect(await holdings(`${namespace}/s/b`)).toEqual({ rows: {}, alarm: null });
    // And the object serves the session again afterwards.
    await store.set("a", "again", 1);
    expect(await store.get("a")).toBe("again");
  });

  it("keeps a user's record while it has live entries or keep time, then deletes it (by the alarm)", async () => {
    const namespace = uniqueInstance("user-alarm");
    const store = new DurableObjectStore(binding, { namespace });
    const keep = { maxEntries: 10, keepMinutes: 0.01 }; // 600 ms
    await store.changeIndex(
      [{ userKey: "u", handle: "h", op: "put", entry: "e", expiresAt: Date.now() + 300, since: 5 }],
      keep,
    );
    await store.revokeBefore("u", 1, 0.01);
    const user = `${namespace}/u/u`;
    expect((await holdings(user)).alarm).not.toBeNull();
    await sleep(400); // the entry has expired; the record is kept
    await alarmRan(user);
    expect((await holdings(user)).rows).toMatchObject({ user_entries: 0, user_record: 1 });
    expect(await store.revokedBefore("u")).toBe(1);
    await sleep(400); // the keep time is over
    await alarmRan(user);
    expect(await holdings(user)).toEqual({ rows: {}, alarm: null });
    expect(await store.revokedBefore("u")).toBe(0);
  });

  it("empties an object of the earlier layout (a fixed set of shards) once its sessions expire", async () => {
    const name = `${uniqueInstance("old-shard")}/0`;
    const shard = object(name);
    await runInDurableObject(shard, async (_: SessionStoreObject, state: DurableObjectState) => {
      state.storage.sql.exec(
        "CREATE TABLE sessions (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
      );
      state.storage.sql.exec(
        "CREATE TABLE user_index (user_key TEXT NOT NULL, handle TEXT NOT NULL, entry TEXT NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (user_key, handle))",
      );
      state.storage.sql.exec("INSERT INTO sessions VALUES ('k', 'v', 1, ?)", Date.now() - 1);
      state.storage.sql.exec("INSERT INTO user_index VALUES ('u', 'h', 'e', ?)", Date.now() - 1);
      await state.storage.setAlarm(Date.now());
    });
    await alarmRan(name);
    expect(
      await runInDurableObject(shard, async (_: SessionStoreObject, state: DurableObjectState) => {
        return state.storage.sql
          .exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('sessions', 'user_index')")
          .toArray().length;
      }),
    ).toBe(0);
  });
});

describe("the Durable Object store as the bundled custom store", () => {
  const ext = (path: string) => ({
    instanceName: "do",
    storageType: "durable-object",
    sessionSecret: SECRET,
    externalStoreFilePath: path,
  });

  function app(path: string, logger = new MemoryLogger()) {
    return new Hono()
      .use(session<{ n?: number }>({ extSessionMgt: ext(path), logger }))
      .post("/inc", async (c) => {
        await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
        return c.json(await c.var.session.get());
      })
      .get("/read", async (c) => c.json(await c.var.session.get()));
  }

  it("backs sessions up to it and recovers them in a fresh isolate", async () => {
    const browser = new Browser(app("./src/stores/durable-object/index.ts"));
    await browser.fetch("/inc", { method: "POST" });
    await browser.fetch("/inc", { method: "POST" });
    const other = new Browser(app("src/stores/durable-object/index"));
    other.cookie = browser.cookie;
    expect(await other.json("/read")).toEqual({ n: 2 });
  });

  it("reports a configuration naming another module than the bundled one, naming both", async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (message: string) => errors.push(message);
    try {
      const res = await app("./src/storage/my-special-storage").fetch(new Request("https://app.test/read"), {});
      expect(res.status).toBe(500);
      expect(errors.join("\n")).toContain('"./src/storage/my-special-storage"');
      expect(errors.join("\n")).toContain('"./src/stores/durable-object/index.ts"');
    } finally {
      console.error = original;
    }
  });
});

describe("an idle timeout the Durable Object store cannot keep", () => {
  it("is refused on the first request, naming the option, instead of every write failing behind a 200", async () => {
    const logger = new MemoryLogger();
    const store = new DurableObjectStore(binding, { namespace: uniqueInstance("idle-range") });
    // 1e14 ms is some 3,000 years: markers expire at twice that, past the alarms' last date (2189).
    const app = new Hono()
      .use(session<{ n?: number }>({ secret: SECRET, store, logger, idleTimeoutMs: 1e14, awaitWrites: true }))
      .post("/inc", async (c) => {
        await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
        return c.json(await c.var.session.get());
      });
    const res = await new Browser(app).fetch("/inc", { method: "POST" });
    expect(logger.lines.join("\n")).not.toMatch(/store write failed/);
    expect(res.status).toBe(500);
    expect(logger.lines.join("\n")).toMatch(
      /options\.idleTimeoutMs: must be a positive number of milliseconds, at most/,
    );
  });
});
