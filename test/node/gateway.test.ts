import { randomBytes } from "node:crypto";
import { Redis, type RedisConfigNodejs } from "@upstash/redis";
import IORedis from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RecordedCommand } from "../../tools/redis-rest/gateway.js";
import { startRedisStack, waitFor, type RedisStack } from "../support/node.js";

let stack: RedisStack;
let redis: Redis;

beforeAll(async () => {
  stack = await startRedisStack();
  redis = client();
});
afterAll(async () => {
  await stack.stop();
});

/** The real client, as apps use it (auto-pipelining on unless asked otherwise). */
function client(options: Partial<RedisConfigNodejs> = {}): Redis {
  return new Redis({ url: stack.gateway.url, token: stack.gateway.token, enableTelemetry: false, ...options });
}

/** A client for raw commands (`exec([...])`), which auto-pipelining does not route. */
function plainClient(): Redis {
  return client({ enableAutoPipelining: false });
}

function call(path: string, body?: unknown, headers: Record<string, string> = {}, method = "POST"): Promise<Response> {
  return fetch(`${stack.gateway.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${stack.gateway.token}`, ...headers },
    ...(body === undefined
      ? {}
      : { body: Buffer.isBuffer(body) ? (body as unknown as BodyInit) : JSON.stringify(body) }),
  });
}

async function recorded(prefix: string): Promise<RecordedCommand[]> {
  const res = await call(`/__gateway/commands?prefix=${encodeURIComponent(prefix)}`, undefined, {}, "GET");
  return ((await res.json()) as { result: RecordedCommand[] }).result;
}

/** Fails with a message instead of hanging until the test times out. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)),
  ]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("Upstash REST gateway, driven by the real @upstash/redis client", () => {
  it("round-trips strings, including unicode and JSON, through base64 replies", async () => {
    expect(await redis.set("g:s", "héllo ✓ 𝄞")).toBe("OK");
    expect(await redis.get("g:s")).toBe("héllo ✓ 𝄞");
    await redis.set("g:j", { a: [1, 2] });
    expect(await redis.get("g:j")).toEqual({ a: [1, 2] });
    expect(await redis.get("g:missing")).toBeNull();
    expect(await stack.client.get("g:s")).toBe("héllo ✓ 𝄞");
  });

  it("keeps binary-unsafe bytes intact in base64 replies", async () => {
    await stack.client.set("g:bin", Buffer.from([0xff, 0x00, 0x80]));
    const res = await call("/", ["GET", "g:bin"], { "Upstash-Encoding": "base64" });
    expect(await res.json()).toEqual({ result: Buffer.from([0xff, 0x00, 0x80]).toString("base64") });
  });

  it("stores a binary POST body of the path form byte for byte, with query parameters as further arguments", async () => {
    const bytes = Buffer.from([0x00, 0xfe, 0x0a, 0xc3, 0x28]);
    const res = await call("/set/g:bin-body?PX=60000", bytes);
    expect(await res.json()).toEqual({ result: "OK" });
    expect(await stack.client.getBuffer("g:bin-body")).toEqual(bytes);
    expect(await stack.client.pttl("g:bin-body")).toBeGreaterThan(50_000);
  });

  it("answers integers, expiry commands and SCAN as the client expects", async () => {
    await redis.set("g:ttl", "v", { px: 60_000 });
    expect(await redis.ttl("g:ttl")).toBeGreaterThan(58);
    expect(await redis.pexpire("g:ttl", 120_000)).toBe(1);
    expect(await redis.exists("g:ttl", "g:nope")).toBe(1);
    expect(await redis.del("g:ttl")).toBe(1);
    for (let i = 0; i < 30; i++) await redis.set(`g:scan:${i}`, i);
    const found: string[] = [];
    let cursor: string | number = "0";
    do {
      const [next, keys]: [string | number, string[]] = await redis.scan(cursor, { match: "g:scan:*", count: 7 });
      found.push(...keys);
      cursor = next;
    } while (String(cursor) !== "0");
    expect(new Set(found).size).toBe(30);
  });

  it("writes integers beyond 2^53 with all their digits", async () => {
    const res = await call("/", ["INCRBY", "g:big", "9007199254740993"]);
    expect(await res.text()).toBe('{"result":9007199254740993}');
    expect(await redis.incr("g:counter")).toBe(1);
    expect(await redis.incrby("g:counter", 41)).toBe(42);
  });

  it("answers HGETALL as an object, alone and in a pipeline", async () => {
    await redis.hset("g:h", { name: "ada", n: 7, tags: ["x"] });
    expect(await redis.hgetall("g:h")).toEqual({ name: "ada", n: 7, tags: ["x"] });
    expect(await redis.pipeline().hgetall("g:h").hget("g:h", "name").exec()).toEqual([
      { name: "ada", n: 7, tags: ["x"] },
      "ada",
    ]);
    // On the wire: the flat array Redis sent, base64 strings.
    const res = await call("/", ["HGETALL", "g:h"], { "Upstash-Encoding": "base64" });
    const { result } = (await res.json()) as { result: string[] };
    expect(result.map((s) => Buffer.from(s, "base64").toString())).toContain("ada");
  });

  it("keeps a command's own OK plain but base64-encodes an OK inside an array, so the client reads OK, not 8", async () => {
    expect(await redis.multi().set("g:ok", "v").get("g:ok").exec()).toEqual(["OK", "v"]);
    expect(await redis.pipeline().set("g:ok", "w").get("g:ok").exec()).toEqual(["OK", "w"]);
    expect(await redis.eval("return {redis.call('SET', KEYS[1], 'x'), 'y'}", ["g:ok"], [])).toEqual(["OK", "y"]);
    const res = await call("/", ["EVAL", "return {redis.call('SET', KEYS[1], 'x'), 'y'}", "1", "g:ok"], {
      "Upstash-Encoding": "base64",
    });
    expect(await res.json()).toEqual({ result: ["T0s=", "eQ=="] });
    const top = await call("/", ["SET", "g:ok", "z"], { "Upstash-Encoding": "base64" });
    expect(await top.json()).toEqual({ result: "OK" });
  });

  it("reads a stored value OK back as OK, alone and inside an array (where it is base64-encoded)", async () => {
    expect(await redis.set("g:ok-value", "OK")).toBe("OK");
    expect(await redis.get("g:ok-value")).toBe("OK");
    expect(await redis.mget("g:ok-value", "g:missing")).toEqual(["OK", null]);
    const res = await call("/", ["MGET", "g:ok-value"], { "Upstash-Encoding": "base64" });
    expect(await res.json()).toEqual({ result: ["T0s="] });
  });

  it("returns values spanning many socket reads byte for byte, several in one reply", async () => {
    const values = [randomBytes(3 * 1024 * 1024 + 7), randomBytes(512 * 1024), randomBytes(2 * 1024 * 1024)];
    await stack.client.mset("g:big:0", values[0]!, "g:big:1", values[1]!, "g:big:2", values[2]!);
    const res = await call(
      "/pipeline",
      [
        ["GET", "g:big:0"],
        ["MGET", "g:big:1", "g:big:2"],
      ],
      { "Upstash-Encoding": "base64" },
    );
    const [single, multi] = (await res.json()) as [{ result: string }, { result: string[] }];
    expect(Buffer.from(single.result, "base64").equals(values[0]!)).toBe(true);
    // Compared as booleans: a deep equality of megabytes, byte by byte, would take seconds.
    expect(multi.result.map((v, i) => Buffer.from(v, "base64").equals(values[i + 1]!))).toEqual([true, true]);
  });

  it("refuses HELLO 3 with 400 (Upstash's REST API speaks RESP2), alone, in a pipeline and in a transaction", async () => {
    const single = await call("/", ["HELLO", "3"]);
    expect(single.status).toBe(400);
    expect(((await single.json()) as { error: string }).error).toMatch(/RESP3 is not supported.*speaks RESP2/);
    await expect(plainClient().exec(["HELLO", "3"])).rejects.toThrow(/RESP2/);
    const pipeline = await call("/pipeline", [["HELLO", "3"], ["PING"]]);
    expect(await pipeline.json()).toEqual([{ error: expect.stringMatching(/RESP2/) }, { result: "PONG" }]);
    const tx = await call("/multi-exec", [
      ["SET", "g:resp3", "x"],
      ["HELLO", "3"],
    ]);
    expect(tx.status).toBe(400);
    expect(((await tx.json()) as { error: string }).error).toMatch(/RESP2/);
    expect(await stack.client.exists("g:resp3")).toBe(0);
    // RESP2 is still there to be asked for.
    const hello = (await plainClient().exec(["HELLO", "2"])) as unknown[];
    expect(hello[hello.indexOf("proto") + 1]).toBe(2);
  });

  it("runs explicit pipelines and transactions, with per-command errors", async () => {
    const results = await redis.pipeline().set("g:p", "1").incr("g:p").get("g:p").exec();
    expect(results).toEqual(["OK", 2, 2]);
    const kept = await redis.pipeline().set("g:p2", "x").incr("g:p2").exec({ keepErrors: true });
    expect(kept[0]).toEqual({ error: undefined, result: "OK" });
    expect(kept[1]!.error).toMatch(/not an integer/);
    expect(await redis.multi().set("g:m", "a").append("g:m", "b").get("g:m").exec()).toEqual(["OK", 2, "ab"]);
    const tx = await redis.multi().set("g:m2", "a").incr("g:m2").get("g:m2").exec({ keepErrors: true });
    expect(tx.map((r) => r.error)).toEqual([undefined, expect.stringMatching(/not an integer/), undefined]);
    expect(tx[2]!.result).toBe("a");
  });

  it("discards a whole transaction when Redis refuses a command while queueing it (one 400 error)", async () => {
    const res = await call("/multi-exec", [
      ["SET", "g:discarded", "1"],
      ["NOSUCHCOMMAND", "x"],
    ]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/unknown command/i);
    expect(await stack.client.exists("g:discarded")).toBe(0);
  });

  it("keeps errors inside array replies as {error} objects (Lua tables, EXEC within a pipeline)", async () => {
    await redis.set("g:str", "x");
    const reply = await redis.eval("return {1, redis.pcall('INCR', KEYS[1]), 'after'}", ["g:str"], []);
    expect(reply).toEqual([1, { error: expect.stringMatching(/not an integer/) }, "after"]);
    const res = await call("/pipeline", [["MULTI"], ["SET", "g:exec", "v"], ["INCR", "g:str"], ["EXEC"]], {
      "Upstash-Encoding": "base64",
    });
    const entries = (await res.json()) as Array<{ result?: unknown; error?: string }>;
    expect(entries[3]).toEqual({ result: ["T0s=", { error: expect.stringMatching(/not an integer/) }] });
  });

  it("runs Lua scripts: EVAL, SCRIPT LOAD and EVALSHA, and a script's fallback from NOSCRIPT to EVAL", async () => {
    expect(await redis.eval("return redis.call('SET', KEYS[1], ARGV[1])", ["g:lua"], ["v"])).toBe("OK");
    expect(await redis.eval("return redis.call('GET', KEYS[1])", ["g:lua"], [])).toBe("v");
    const sha = await redis.scriptLoad("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    expect(await redis.scriptExists(sha)).toEqual([1]);
    expect(await redis.evalsha(sha, ["g:lua:n"], [5])).toBe(5);
    const script = redis.createScript<string>("return ARGV[1] .. KEYS[1]");
    expect(await script.exec(["g:script:k"], ["got "])).toBe("got g:script:k");
    const calls = await recorded("g:script:");
    expect(calls.map((c) => [c.command, c.error?.split(" ")[0]])).toEqual([
      ["EVALSHA", "NOSCRIPT"],
      ["EVAL", undefined],
    ]);
  });

  it("turns command errors into UpstashError (HTTP 400)", async () => {
    await redis.set("g:str", "x");
    await expect(redis.lpush("g:str", "y")).rejects.toThrow(/WRONGTYPE/);
    const res = await call("/", ["LPUSH", "g:str", "y"]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/WRONGTYPE/);
  });

  it("refuses a bad token with 401, on commands, streams and controls, and accepts ?_token=", async () => {
    const wrong = new Redis({ url: stack.gateway.url, token: "wrong", enableTelemetry: false });
    await expect(wrong.get("g:s")).rejects.toThrow(/Unauthorized/);
    for (const path of ["/", "/subscribe/g:chan", "/__gateway/delay"]) {
      const res = await fetch(`${stack.gateway.url}${path}`, { method: "POST", body: JSON.stringify(["PING"]) });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "Unauthorized" });
    }
    const res = await fetch(`${stack.gateway.url}/get/g:s?_token=${stack.gateway.token}`);
    expect(await res.json()).toEqual({ result: "héllo ✓ 𝄞" });
  });

  it("sends a fresh upstash-sync-token and plain strings without base64", async () => {
    const get = () => call("/get/g:s", undefined, {}, "GET");
    const [r1, r2] = [await get(), await get()];
    expect(r1.headers.get("upstash-sync-token")).toBeTruthy();
    expect(r1.headers.get("upstash-sync-token")).not.toBe(r2.headers.get("upstash-sync-token"));
    expect(await r1.json()).toEqual({ result: "héllo ✓ 𝄞" });
  });
});

describe("a Redis connection per request", () => {
  it("does not let SELECT reach another request, though it holds within its own", async () => {
    const a = plainClient();
    const b = plainClient();
    expect(await a.exec(["SELECT", "1"])).toBe("OK");
    await sleep(50); // the connection is reset and back in the pool: the next request gets it
    expect(await b.set("g:db", "zero")).toBe("OK");
    expect(await a.set("g:db-a", "zero too")).toBe("OK");
    expect(await stack.client.mget("g:db", "g:db-a")).toEqual(["zero", "zero too"]);

    const db1 = new IORedis({ port: stack.redis.port, host: "127.0.0.1", db: 1, maxRetriesPerRequest: 1 });
    try {
      const res = await call("/pipeline", [
        ["SELECT", "1"],
        ["SET", "g:db", "one"],
      ]);
      expect(await res.json()).toEqual([{ result: "OK" }, { result: "OK" }]);
      expect(await db1.get("g:db")).toBe("one");
      expect(await stack.client.get("g:db")).toBe("zero");
    } finally {
      db1.disconnect();
    }
  });

  it("does not let WATCH or CLIENT SETNAME reach another client's requests", async () => {
    const a = plainClient();
    const b = plainClient();
    expect(await a.exec(["WATCH", "g:w"])).toBe("OK");
    await stack.client.set("g:w", "changed behind the watcher");
    await sleep(50);
    // Had the WATCH stayed on a shared connection, this EXEC would abort.
    expect(await b.multi().set("g:w2", "x").get("g:w2").exec()).toEqual(["OK", "x"]);
    expect(await a.multi().set("g:w3", "y").exec()).toEqual(["OK"]);

    expect(await a.exec(["CLIENT", "SETNAME", "leaky"])).toBe("OK");
    await sleep(50);
    expect(await b.exec(["CLIENT", "GETNAME"])).toBeNull();
  });

  it("lets a BLPOP block only its own request, and frees it when its client gives up", async () => {
    const a = plainClient();
    const b = plainClient();
    let popped: unknown = "pending";
    const blpop = a.exec(["BLPOP", "g:queue", "10"]).then((r) => (popped = r));
    await sleep(100);
    const started = Date.now();
    expect(await b.get("g:s")).toBe("héllo ✓ 𝄞");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(popped).toBe("pending");
    expect(await b.lpush("g:queue", "job")).toBe(1);
    expect(await within(5_000, "BLPOP to return", blpop)).toEqual(["g:queue", "job"]);

    const giveUp = new AbortController();
    const abandoned = call("/", ["BLPOP", "g:never", "0"], {}, "POST");
    void abandoned.catch(() => {});
    const aborted = fetch(`${stack.gateway.url}/`, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.gateway.token}` },
      body: JSON.stringify(["BLPOP", "g:never2", "0"]),
      signal: giveUp.signal,
    }).catch(() => "aborted");
    await waitFor(async () => /blocked_clients:2/.test(await stack.client.info("clients")), "two blocked clients");
    giveUp.abort();
    expect(await aborted).toBe("aborted");
    await waitFor(async () => /blocked_clients:1/.test(await stack.client.info("clients")), "one blocked client");
    await stack.client.lpush("g:never", "unblock");
    expect(await (await abandoned).json()).toEqual({ result: ["g:never", "unblock"] });
  });
});

describe("event streams", () => {
  it("delivers a published message to redis.subscribe() and closes its connection on unsubscribe", async () => {
    const subscriber = redis.subscribe<{ hello: string }>("g:chan");
    const subscribed = new Promise((resolve) => subscriber.on("subscribe", resolve));
    const received = new Promise((resolve) => subscriber.on("message", resolve));
    expect(await within(5_000, "the subscribe confirmation", subscribed)).toBe(1);
    expect(await redis.publish("g:chan", { hello: "world" })).toBe(1);
    expect(await within(5_000, "the message", received)).toEqual({ channel: "g:chan", message: { hello: "world" } });
    // Other requests go on while the stream is open.
    expect(await redis.get("g:s")).toBe("héllo ✓ 𝄞");
    await subscriber.unsubscribe();
    await waitFor(async () => (await stack.client.pubsub("NUMSUB", "g:chan"))[1] === 0, "the subscription to end");
  });

  it("delivers pattern messages to redis.psubscribe()", async () => {
    const subscriber = redis.psubscribe<{ n: number }>("g:pat:*");
    const subscribed = new Promise((resolve) => subscriber.on("psubscribe", resolve));
    const received = new Promise((resolve) => subscriber.on("pmessage", resolve));
    expect(await within(5_000, "the psubscribe confirmation", subscribed)).toBe(1);
    expect(await redis.publish("g:pat:one", { n: 1 })).toBe(1);
    expect(await within(5_000, "the message", received)).toEqual({
      pattern: "g:pat:*",
      channel: "g:pat:one",
      message: { n: 1 },
    });
    await subscriber.unsubscribe();
    await waitFor(async () => Number(await stack.client.pubsub("NUMPAT")) === 0, "the pattern subscription to end");
  });

  it("streams Server-Sent Events in Upstash's format: data: <type>,<channel>,<message>", async () => {
    const stop = new AbortController();
    const res = await within(
      5_000,
      "the stream to open",
      fetch(`${stack.gateway.url}/subscribe/g:raw`, {
        method: "POST",
        headers: { Authorization: `Bearer ${stack.gateway.token}`, Accept: "text/event-stream" },
        body: "[]",
        signal: stop.signal,
      }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const reader = res.body!.getReader();
    let text = "";
    const readUntil = async (needle: string) => {
      while (!text.includes(needle)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await within(5_000, "the subscribe event", readUntil("\n\n"));
    await stack.client.publish("g:raw", "plain, with commas");
    await within(5_000, "the message event", readUntil("commas"));
    expect(text).toBe("data: subscribe,g:raw,1\n\ndata: message,g:raw,plain, with commas\n\n");
    stop.abort();
  });

  it("streams MONITOR on /monitor", async () => {
    const stop = new AbortController();
    const res = await within(
      5_000,
      "the stream to open",
      fetch(`${stack.gateway.url}/monitor`, {
        method: "POST",
        headers: { Authorization: `Bearer ${stack.gateway.token}`, Accept: "text/event-stream" },
        signal: stop.signal,
      }),
    );
    const reader = res.body!.getReader();
    let text = "";
    const readUntil = async (pattern: RegExp) => {
      while (!pattern.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    };
    await within(5_000, "MONITOR to start", readUntil(/^data: "OK"\n\n/));
    await redis.set("g:monitored", "seen");
    await within(
      5_000,
      "the monitored command",
      readUntil(/\ndata: \d+\.\d+ \[0 [^\]]+\] "set" "g:monitored" "seen"/i),
    );
    stop.abort();
  });

  it("refuses SUBSCRIBE as a plain command (it would never answer) and names the stream to use", async () => {
    const res = await call("/", ["SUBSCRIBE", "g:chan"]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/\/subscribe\//);
    expect(await redis.get("g:s")).toBe("héllo ✓ 𝄞");
  });
});

describe("distance and faults", () => {
  it("delays each call by the distance set at run time: half before Redis runs it, half before the answer", async () => {
    const set = await call("/__gateway/delay", { ms: 600 });
    expect(await set.json()).toEqual({ result: { ms: 600 } });
    try {
      let answered = false;
      const started = performance.now();
      const write = redis.set("g:far", "v").then(() => (answered = true));
      await sleep(100);
      expect(await stack.client.exists("g:far")).toBe(0); // still on its way to Redis
      await sleep(350);
      expect(await stack.client.get("g:far")).toBe("v"); // applied, the answer on its way back
      expect(answered).toBe(false);
      await write;
      expect(performance.now() - started).toBeGreaterThanOrEqual(590);
    } finally {
      await call("/__gateway/delay", { ms: 0 });
    }
    expect(
      ((await (await call("/__gateway/delay", undefined, {}, "GET")).json()) as { result: { ms: number } }).result,
    ).toEqual({ ms: 0 });
  });

  it("counts the HTTP requests and commands it ran, by command, until the counts are reset", async () => {
    await call("/__gateway/counts", undefined, {}, "DELETE");
    await plainClient().set("g:counted", "1");
    await call("/pipeline", [
      ["GET", "g:counted"],
      ["GET", "g:counted"],
      ["INCR", "g:counter"],
    ]);
    const counts = async () =>
      ((await (await call("/__gateway/counts", undefined, {}, "GET")).json()) as { result: unknown }).result;
    expect(await counts()).toEqual({ requests: 2, commands: 4, byCommand: { SET: 1, GET: 2, INCR: 1 } });
    await call("/__gateway/counts", undefined, {}, "DELETE");
    expect(await counts()).toEqual({ requests: 0, commands: 0, byCommand: {} });
  });

  it("starts with the delayMs option, and setDelay() changes it", async () => {
    const far = await startGateway({ redisPort: stack.redis.port, token: "far-token", delayMs: 250 });
    try {
      const farClient = new Redis({ url: far.url, token: far.token, enableTelemetry: false });
      let started = performance.now();
      expect(await farClient.get("g:s")).toBe("héllo ✓ 𝄞");
      expect(performance.now() - started).toBeGreaterThanOrEqual(245);
      far.setDelay(0);
      expect(far.delayMs).toBe(0);
      started = performance.now();
      expect(await farClient.get("g:s")).toBe("héllo ✓ 𝄞");
      expect(performance.now() - started).toBeLessThan(245);
    } finally {
      await far.stop();
    }
  });

  it("drops the response after running the command: the client retries, so the command ran twice", async () => {
    const injected = await call("/__gateway/faults", { command: "INCR", times: 1 });
    expect(await injected.json()).toEqual({ result: [{ commands: ["INCR"], remaining: 1, holdMs: 0 }] });
    expect(await redis.get("g:s")).toBe("héllo ✓ 𝄞"); // not a matching command: untouched
    expect(await redis.incr("g:fault")).toBe(2);
    expect(await stack.client.get("g:fault")).toBe("2");
    const incrs = (await recorded("g:fault")).filter((c) => c.command === "INCR");
    expect(incrs).toHaveLength(2);
    expect(incrs[0]!.request).not.toBe(incrs[1]!.request);
    expect(await (await call("/__gateway/faults", undefined, {}, "GET")).json()).toEqual({ result: [] });
  });

  it("drops a script's response after it ran: the retry answers, and the side effect happened twice", async () => {
    const sha = await redis.scriptLoad("return redis.call('INCR', KEYS[1])");
    stack.gateway.injectFault({ command: ["EVALSHA", "EVAL"], times: 1 });
    expect(await redis.evalsha(sha, ["g:fault:script"], [])).toBe(2);
    expect(await stack.client.get("g:fault:script")).toBe("2");
    expect((await recorded("g:fault:script")).map((c) => c.command)).toEqual(["EVALSHA", "EVALSHA"]);
  });

  it("holds a faulty connection for holdMs before it breaks: the retry comes that much later", async () => {
    stack.gateway.injectFault({ command: "INCR", holdMs: 300 });
    const started = performance.now();
    expect(await redis.incr("g:fault:held")).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    const incrs = (await recorded("g:fault:held")).filter((c) => c.command === "INCR");
    expect(incrs).toHaveLength(2);
    await expect(call("/__gateway/faults", { command: "INCR", holdMs: -1 })).resolves.toMatchObject({ status: 400 });
  });

  it("drops a script's response after it ran: without retries the client gets an error, yet the script applied", async () => {
    // `retry: false` still makes two attempts in @upstash/redis 1.39 (attempts: 1 counts retries): zero retries.
    const once = client({ retry: { retries: 0, backoff: () => 0 } });
    stack.gateway.injectFault({ command: "EVAL" });
    await expect(once.eval("return redis.call('INCR', KEYS[1])", ["g:fault:once"], [])).rejects.toThrow(/fetch failed/);
    expect(await stack.client.get("g:fault:once")).toBe("1");
    expect(stack.gateway.pendingFaults()).toEqual([]);
  });
});

describe("Redis down", () => {
  it("answers 502 with an error body while redis-server is down, and recovers when it is back", async () => {
    await stack.redis.stop();
    try {
      await expect(redis.get("g:s")).rejects.toThrow(/cannot reach redis-server/);
      const res = await call("/", ["GET", "g:s"]);
      expect(res.status).toBe(502);
      expect(((await res.json()) as { error: string }).error).toMatch(/redis-server/);
    } finally {
      await stack.redis.start();
    }
    expect(await redis.set("g:back", "again")).toBe("OK");
    expect(await redis.get("g:back")).toBe("again");
  });
});
