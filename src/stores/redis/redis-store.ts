import { Redis } from "@upstash/redis/cloudflare";
import { StoreMisconfiguredError } from "../../errors.js";
import { minutesToMillis } from "../minutes.js";
import type { RevalidatingStore, StoredVersion } from "../types.js";

export interface RedisStoreOptions {
  url: string;
  token: string;
  /** Key namespace: every key is `${namespace}:${sessionId}`, and `length`/`clear` touch only these. */
  namespace: string;
  /** Longest wait for one REST call, in milliseconds. */
  timeoutMs?: number;
  /** Where the token came from (a binding name), for the error that says a refused token must be fixed there. */
  tokenName?: string;
}

const SCAN_COUNT = 500;

/*
 * A session is one string key: "<version>.<sealed session>". The version is what compare-and-set compares;
 * `get` hands back only the sealed part, exactly as `set` received it.
 */
const SET_IF_VERSION = `
local current = redis.call("GET", KEYS[1])
local version = 0
if current then version = tonumber(string.match(current, "^(%d+)%.")) or 0 end
if version == tonumber(ARGV[1]) then
  redis.call("SET", KEYS[1], ARGV[2] .. "." .. ARGV[3], "PX", ARGV[4])
  return 1
end
if not current then return "0." end
return {current, redis.call("PTTL", KEYS[1])}
`;

/*
 * Answers 1 (a few bytes) while the stored version is the one the caller knows, pushing its expiry forward
 * when asked; only the version prefix is read inside Redis until the value has to be sent.
 */
const GET_IF_CHANGED = `
local head = redis.call("GETRANGE", KEYS[1], 0, 11)
if head == "" then return "0." end
local version = tonumber(string.match(head, "^(%d+)%.")) or 0
local known = tonumber(ARGV[1])
if known > 0 and version == known then
  if ARGV[2] ~= "" then redis.call("PEXPIRE", KEYS[1], ARGV[2]) end
  return 1
end
return {redis.call("GET", KEYS[1]), redis.call("PTTL", KEYS[1])}
`;

/** A script's answer when it did not write or found a change: "0." for nothing, else [value, PTTL]. */
function storedReply(reply: unknown): StoredVersion {
  if (!Array.isArray(reply)) return { version: 0, session: null };
  const stored = parse(String(reply[0]));
  const ttlMs = Number(reply[1]);
  return ttlMs > 0 ? { ...stored, ttlMs } : stored;
}

function parse(stored: string): StoredVersion {
  const dot = stored.indexOf(".");
  const version = dot > 0 ? Number(stored.slice(0, dot)) : NaN;
  return Number.isInteger(version) ? { version, session: stored.slice(dot + 1) } : { version: 0, session: stored };
}

/** What Upstash (and the local gateway) answer with HTTP 401 for a wrong or missing token. */
const REFUSED_TOKEN = /^(Unauthorized|WRONGPASS|NOAUTH)\b/i;

/** A failed Redis call, without the command text (the client's message quotes the whole command and its values). */
export class RedisStoreError extends Error {
  override readonly name = "RedisStoreError";
}

/** Sessions in Redis over Upstash's REST protocol, one string key per session with a PX expiry. */
export class RedisStore implements RevalidatingStore {
  readonly #redis: Redis;
  readonly #setIfVersion: ReturnType<Redis["createScript"]>;
  readonly #getIfChanged: ReturnType<Redis["createScript"]>;
  readonly #prefix: string;
  readonly #match: string;
  readonly #tokenName: string;

  constructor(options: RedisStoreOptions) {
    const timeoutMs = options.timeoutMs ?? 3000;
    this.#redis = new Redis({
      url: options.url,
      token: options.token,
      // Sealed sessions are opaque strings: the client must hand them back untouched.
      automaticDeserialization: false,
      enableTelemetry: false,
      // The client lives as long as the isolate and serves its concurrent requests. Auto-pipelining would batch
      // one request's command into another request's fetch, whose I/O belongs to that other request (and can
      // end with it): every call makes its own fetch instead.
      enableAutoPipelining: false,
      // One quick retry covers a dropped connection; a longer wait is the caller's store-failure path.
      retry: { retries: 1, backoff: () => 50 },
      signal: () => AbortSignal.timeout(timeoutMs),
    });
    this.#setIfVersion = this.#redis.createScript(SET_IF_VERSION);
    this.#getIfChanged = this.#redis.createScript(GET_IF_CHANGED);
    this.#tokenName = options.tokenName ?? "the token option";
    this.#prefix = `${options.namespace}:`;
    this.#match = `${options.namespace.replace(/[*?[\]\\]/g, "\\$&")}:*`;
  }

  async get(sessionId: string): Promise<string | null> {
    const stored = await this.#run("GET", () => this.#redis.get<string>(this.#key(sessionId)));
    return stored === null ? null : parse(stored).session;
  }

  async set(sessionId: string, session: string, timeout: number): Promise<void> {
    await this.#run("SET", () =>
      this.#redis.set(this.#key(sessionId), `0.${session}`, { px: minutesToMillis(timeout) }),
    );
  }

  /** One Lua script (EVALSHA, falling back to EVAL once per connection): no read-then-write race. */
  async setIfVersion(
    sessionId: string,
    expectedVersion: number,
    version: number,
    session: string,
    timeout: number,
  ): Promise<StoredVersion | null> {
    const current = await this.#run("EVALSHA", () =>
      this.#setIfVersion.exec(
        [this.#key(sessionId)],
        [String(expectedVersion), String(version), session, String(minutesToMillis(timeout))],
      ),
    );
    return current === 1 ? null : storedReply(current);
  }

  /** One Lua script: a few bytes when the version is unchanged (and its expiry pushed forward if asked). */
  async getIfChanged(sessionId: string, knownVersion: number, refreshTimeout?: number): Promise<StoredVersion | null> {
    const current = await this.#run("EVALSHA", () =>
      this.#getIfChanged.exec(
        [this.#key(sessionId)],
        [String(knownVersion), refreshTimeout === undefined ? "" : String(minutesToMillis(refreshTimeout))],
      ),
    );
    return current === 1 ? null : storedReply(current);
  }

  async destroy(sessionId: string): Promise<void> {
    await this.#run("DEL", () => this.#redis.del(this.#key(sessionId)));
  }

  async exists(sessionId: string): Promise<boolean> {
    return (await this.#run("EXISTS", () => this.#redis.exists(this.#key(sessionId)))) > 0;
  }

  async resetTimer(sessionId: string, timeout: number): Promise<void> {
    await this.#run("PEXPIRE", () => this.#redis.pexpire(this.#key(sessionId), minutesToMillis(timeout)));
  }

  ttl(sessionId: string): Promise<number> {
    return this.#run("TTL", () => this.#redis.ttl(this.#key(sessionId)));
  }

  async length(): Promise<number> {
    let count = 0;
    await this.#scan(async (keys) => {
      count += keys.length;
    });
    return count;
  }

  async clear(): Promise<void> {
    await this.#scan(async (keys) => {
      if (keys.length > 0) await this.#run("DEL", () => this.#redis.del(...keys));
    });
  }

  async #run<T>(command: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const message = error instanceof Error ? error.message.split(", command was:")[0]! : String(error);
      if (REFUSED_TOKEN.test(message)) {
        throw new StoreMisconfiguredError(
          `the Redis REST service refused the token (${message}): set the database's REST token in ${this.#tokenName}`,
        );
      }
      throw new RedisStoreError(`Redis ${command} failed: ${message}`);
    }
  }

  /** SCAN, never KEYS: it does not block Redis and stays inside this namespace. */
  async #scan(onKeys: (keys: string[]) => Promise<void>): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.#run("SCAN", () =>
        this.#redis.scan(cursor, { match: this.#match, count: SCAN_COUNT }),
      );
      await onKeys(keys);
      cursor = String(next);
    } while (cursor !== "0");
  }

  #key(sessionId: string): string {
    return this.#prefix + sessionId;
  }
}
