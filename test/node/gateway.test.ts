import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRedisStack, type RedisStack } from "../support/node.js";

let stack: RedisStack;
let redis: Redis;

beforeAll(async () => {
  stack = await startRedisStack();
  redis = new Redis({ url: stack.gateway.url, token: stack.gateway.token, enableTelemetry: false });
});
afterAll(async () => {
  await stack.stop();
});

describe("Upstash REST gateway, driven by the real @upstash/redis client", () => {
  it("round-trips strings, including unicode and JSON, through base64 replies", async () => {
    expect(await redis.set("g:s", "héllo ✓ 𝄞")).toBe("OK");
    expect(await redis.get("g:s")).toBe("héllo ✓ 𝄞");
    await redis.set("g:j", { a: [1, 2] });
    expect(await redis.get("g:j")).toEqual({ a: [1, 2] });
    expect(await redis.get("g:missing")).toBeNull();
    expect(await stack.client.get("g:s")).toBe("héllo ✓ 𝄞");
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

  it("runs explicit pipelines and transactions, with per-command errors", async () => {
    const results = await redis.pipeline().set("g:p", "1").incr("g:p").get("g:p").exec();
    expect(results).toEqual(["OK", 2, 2]);
    const kept = await redis.pipeline().set("g:p2", "x").incr("g:p2").exec({ keepErrors: true });
    expect(kept[0]).toEqual({ error: undefined, result: "OK" });
    expect(kept[1]!.error).toMatch(/not an integer/);
    expect(await redis.multi().set("g:m", "a").append("g:m", "b").get("g:m").exec()).toEqual(["OK", 2, "ab"]);
  });

  it("runs Lua scripts", async () => {
    expect(await redis.eval("return redis.call('SET', KEYS[1], ARGV[1])", ["g:lua"], ["v"])).toBe("OK");
    expect(await redis.eval("return redis.call('GET', KEYS[1])", ["g:lua"], [])).toBe("v");
  });

  it("turns command errors into UpstashError (HTTP 400)", async () => {
    await redis.set("g:str", "x");
    await expect(redis.lpush("g:str", "y")).rejects.toThrow(/WRONGTYPE/);
    const res = await fetch(stack.gateway.url, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.gateway.token}` },
      body: JSON.stringify(["LPUSH", "g:str", "y"]),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/WRONGTYPE/);
  });

  it("refuses a bad token with 401", async () => {
    const wrong = new Redis({ url: stack.gateway.url, token: "wrong", enableTelemetry: false });
    await expect(wrong.get("g:s")).rejects.toThrow(/Unauthorized/);
    const res = await fetch(stack.gateway.url, { method: "POST", body: JSON.stringify(["PING"]) });
    expect(res.status).toBe(401);
  });

  it("sends a fresh upstash-sync-token and plain strings without base64", async () => {
    const call = () =>
      fetch(`${stack.gateway.url}/get/g:s`, { headers: { Authorization: `Bearer ${stack.gateway.token}` } });
    const [r1, r2] = [await call(), await call()];
    expect(r1.headers.get("upstash-sync-token")).toBeTruthy();
    expect(r1.headers.get("upstash-sync-token")).not.toBe(r2.headers.get("upstash-sync-token"));
    expect(await r1.json()).toEqual({ result: "héllo ✓ 𝄞" });
  });

  it("keeps binary-unsafe bytes intact in base64 replies", async () => {
    await stack.client.set("g:bin", Buffer.from([0xff, 0x00, 0x80]));
    const res = await fetch(stack.gateway.url, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.gateway.token}`, "Upstash-Encoding": "base64" },
      body: JSON.stringify(["GET", "g:bin"]),
    });
    expect(await res.json()).toEqual({ result: Buffer.from([0xff, 0x00, 0x80]).toString("base64") });
  });
});
