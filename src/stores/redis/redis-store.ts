import { Redis } from "@upstash/redis/cloudflare";
import { StoreMisconfiguredError } from "../../errors.js";
import { minutesToMillis } from "../minutes.js";
import type { IndexChange, IndexedStore, IndexEntry, StoredVersion } from "../types.js";
import {
  GET_IF_CHANGED,
  GET_IF_CHANGED_INDEXED,
  LIST_INDEX,
  SET_IF_VERSION,
  SET_IF_VERSION_INDEXED,
} from "./scripts.js";

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

/** Four script arguments per index change: op, handle, entry, expiry. */
function indexArgs(index: IndexChange[]): string[] {
  return index.flatMap(({ op, handle, entry, expiresAt }) => [op, handle, entry ?? "", String(expiresAt ?? 0)]);
}

/** What Upstash (and the local gateway) answer with HTTP 401 for a wrong or missing token. */
const REFUSED_TOKEN = /^(Unauthorized|WRONGPASS|NOAUTH)\b/i;

/** A failed Redis call, without the command text (the client's message quotes the whole command and its values). */
export class RedisStoreError extends Error {
  override readonly name = "RedisStoreError";
}

type Script = ReturnType<Redis["createScript"]>;

/**
 * Sessions in Redis over Upstash's REST protocol, one string key per session with a PX expiry, and user
 * indexes beside them (`<namespace>|u:<user key>`), all changed by Lua scripts (see scripts.ts).
 */
export class RedisStore implements IndexedStore {
  readonly #redis: Redis;
  readonly #scripts: Record<
    "setIfVersion" | "setIfVersionIndexed" | "getIfChanged" | "getIfChangedIndexed" | "listIndex",
    Script
  >;
  readonly #indexPrefix: string;
  readonly #indexMatch: string;
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
    this.#scripts = {
      setIfVersion: this.#redis.createScript(SET_IF_VERSION),
      setIfVersionIndexed: this.#redis.createScript(SET_IF_VERSION_INDEXED),
      getIfChanged: this.#redis.createScript(GET_IF_CHANGED),
      getIfChangedIndexed: this.#redis.createScript(GET_IF_CHANGED_INDEXED),
      listIndex: this.#redis.createScript(LIST_INDEX),
    };
    this.#tokenName = options.tokenName ?? "the token option";
    this.#prefix = `${options.namespace}:`;
    const escaped = options.namespace.replace(/[*?[\]\\]/g, "\\$&");
    this.#match = `${escaped}:*`;
    this.#indexPrefix = `${options.namespace}|u:`;
    this.#indexMatch = `${escaped}|u:*`;
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

  /**
   * One Lua script (EVALSHA, falling back to EVAL once per connection): no read-then-write race; the index
   * changes, if any, in the same atomic step.
   */
  async setIfVersion(
    sessionId: string,
    expectedVersion: number,
    version: number,
    session: string,
    timeout: number,
    index: IndexChange[] = [],
  ): Promise<StoredVersion | null> {
    const args = [String(expectedVersion), String(version), session, String(minutesToMillis(timeout))];
    const script = index.length === 0 ? this.#scripts.setIfVersion : this.#scripts.setIfVersionIndexed;
    const current = await this.#run("EVALSHA", () =>
      script.exec([this.#key(sessionId), ...this.#indexKeys(index)], [...args, ...indexArgs(index)]),
    );
    return current === 1 ? null : storedReply(current);
  }

  /** One Lua script: a few bytes when the version is unchanged (and its expiry pushed forward if asked). */
  async getIfChanged(
    sessionId: string,
    knownVersion: number,
    refreshTimeout?: number,
    index: IndexChange[] = [],
  ): Promise<StoredVersion | null> {
    const args = [String(knownVersion), refreshTimeout === undefined ? "" : String(minutesToMillis(refreshTimeout))];
    const indexed = refreshTimeout !== undefined && index.length > 0;
    const script = indexed ? this.#scripts.getIfChangedIndexed : this.#scripts.getIfChanged;
    const current = await this.#run("EVALSHA", () =>
      script.exec(
        [this.#key(sessionId), ...(indexed ? this.#indexKeys(index) : [])],
        [...args, ...(indexed ? indexArgs(index) : [])],
      ),
    );
    return current === 1 ? null : storedReply(current);
  }

  async listIndex(userKey: string): Promise<IndexEntry[]> {
    const [z, h] = this.#indexKeys([{ userKey, handle: "", op: "remove" }]);
    const flat = (await this.#run("EVALSHA", () => this.#scripts.listIndex.exec([z!, h!], []))) as unknown[];
    const entries: IndexEntry[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      entries.push({ handle: String(flat[i]), expiresAt: Number(flat[i + 1]), entry: String(flat[i + 2]) });
    }
    return entries.filter((e) => e.entry !== "");
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
    const remove = async (keys: string[]) => {
      if (keys.length > 0) await this.#run("DEL", () => this.#redis.del(...keys));
    };
    await this.#scan(remove);
    await this.#scan(remove, this.#indexMatch);
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
  async #scan(onKeys: (keys: string[]) => Promise<void>, match = this.#match): Promise<void> {
    let cursor = "0";
    do {
      const [next, keys] = await this.#run("SCAN", () => this.#redis.scan(cursor, { match, count: SCAN_COUNT }));
      await onKeys(keys);
      cursor = String(next);
    } while (cursor !== "0");
  }

  /** The sorted set and the hash of each change's user index. */
  #indexKeys(index: IndexChange[]): string[] {
    return index.flatMap(({ userKey }) => [`${this.#indexPrefix}${userKey}`, `${this.#indexPrefix}${userKey}|e`]);
  }

  #key(sessionId: string): string {
    return this.#prefix + sessionId;
  }
}
