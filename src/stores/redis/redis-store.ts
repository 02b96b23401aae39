import { Redis } from "@upstash/redis/cloudflare";
import { RedisStoreError, StoreMisconfiguredError } from "../../errors.js";
import { changesByUser } from "../changes-by-user.js";
import { minutesToMillis } from "../minutes.js";
import type { IndexChange, IndexedStore, IndexEntry, IndexLimits, StoredVersion, UserIndex } from "../types.js";
import {
  CHANGE_INDEX,
  GET_IF_CHANGED,
  GET_IF_CHANGED_WITH_CUTOFF,
  READ_INDEX,
  REVOKE_BEFORE,
  SET_IF_VERSION,
} from "./scripts.js";

export interface RedisStoreOptions {
  url: string;
  token: string;
  /**
   * Key namespace: every key is `${namespace}:${sessionId}`, and `length`/`clear` touch only these (session
   * ids without ":" or "|", as the layer's are; not those of a namespace that extends this one, `${namespace}:eu`).
   */
  namespace: string;
  /** Longest wait for one REST call, in milliseconds. */
  timeoutMs?: number;
  /** Where the token came from (a binding name), for the error that says a refused token must be fixed there. */
  tokenName?: string;
}

const SCAN_COUNT = 500;
/** What follows `<namespace>:` in a session key of this namespace (the layer's are hashes: never ":" or "|"). */
const OWN_SESSION_KEY = /^[^:|]+$/;
/** What follows `<namespace>|u:` in a key of a user's record: the user key, and a suffix. */
const OWN_RECORD_KEY = /^[^:|]+(?:\|[sec])?$/;

/**
 * Keys of one kind, found by SCAN: the pattern also matches keys of a namespace that extends this one (`app:*`
 * matches `app:eu:…`), so what follows the prefix must have the shape of this namespace's own keys.
 */
interface KeyKind {
  match: string;
  prefix: string;
  own: RegExp;
}

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

type Script = ReturnType<Redis["createScript"]>;

/**
 * Sessions in Redis over Upstash's REST protocol, one string key per session with a PX expiry, and each
 * user's record beside them, changed by Lua scripts (see scripts.ts):
 * - `<namespace>|u:<user key>`: sorted set, handle → expiresAt (ms);
 * - `<namespace>|u:<user key>|s`: sorted set, handle → since (ms);
 * - `<namespace>|u:<user key>|e`: hash, handle → sealed entry;
 * - `<namespace>|u:<user key>|c`: string, the cut-off (ms).
 */
export class RedisStore implements IndexedStore {
  readonly #redis: Redis;
  readonly #scripts: Record<
    "setIfVersion" | "getIfChanged" | "getIfChangedWithCutoff" | "changeIndex" | "readIndex" | "revokeBefore",
    Script
  >;
  readonly #indexPrefix: string;
  readonly #prefix: string;
  /** The keys `length` counts and `clear` removes: sessions, and users' records. */
  readonly #sessionKeys: KeyKind;
  readonly #userRecordKeys: KeyKind;
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
      getIfChanged: this.#redis.createScript(GET_IF_CHANGED),
      getIfChangedWithCutoff: this.#redis.createScript(GET_IF_CHANGED_WITH_CUTOFF),
      changeIndex: this.#redis.createScript(CHANGE_INDEX),
      readIndex: this.#redis.createScript(READ_INDEX),
      revokeBefore: this.#redis.createScript(REVOKE_BEFORE),
    };
    this.#tokenName = options.tokenName ?? "the token option";
    this.#prefix = `${options.namespace}:`;
    this.#indexPrefix = `${options.namespace}|u:`;
    const escaped = options.namespace.replace(/[*?[\]\\]/g, "\\$&");
    this.#sessionKeys = { match: `${escaped}:*`, prefix: this.#prefix, own: OWN_SESSION_KEY };
    this.#userRecordKeys = { match: `${escaped}|u:*`, prefix: this.#indexPrefix, own: OWN_RECORD_KEY };
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
    const args = [String(expectedVersion), String(version), session, String(minutesToMillis(timeout))];
    const current = await this.#run("EVALSHA", () => this.#scripts.setIfVersion.exec([this.#key(sessionId)], args));
    return current === 1 ? null : storedReply(current);
  }

  /** One Lua script: a few bytes when the version is unchanged (and its expiry pushed forward if asked). */
  async getIfChanged(sessionId: string, knownVersion: number, refreshTimeout?: number): Promise<StoredVersion | null> {
    const args = [String(knownVersion), refreshTimeout === undefined ? "" : String(minutesToMillis(refreshTimeout))];
    const current = await this.#run("EVALSHA", () => this.#scripts.getIfChanged.exec([this.#key(sessionId)], args));
    return current === 1 ? null : storedReply(current);
  }

  /** A confirmation and the users' cut-off in one script: one round trip for a session tied to a user. */
  async getIfChangedWithCutoff(
    sessionId: string,
    knownVersion: number,
    refreshTimeout: number | undefined,
    userKeys: string[],
  ): Promise<{ stored: StoredVersion | null; revokedBefore: number }> {
    const args = [String(knownVersion), refreshTimeout === undefined ? "" : String(minutesToMillis(refreshTimeout))];
    const keys = [this.#key(sessionId), ...userKeys.map((userKey) => `${this.#indexPrefix}${userKey}|c`)];
    const reply = (await this.#run("EVALSHA", () =>
      this.#scripts.getIfChangedWithCutoff.exec(keys, args),
    )) as unknown[];
    const revokedBefore = Number(reply[1] ?? 0);
    if (Number(reply[0]) === 1) return { stored: null, revokedBefore };
    if (Number(reply[0]) === 0) return { stored: { version: 0, session: null }, revokedBefore };
    return { stored: storedReply([reply[2], reply[3]]), revokedBefore };
  }

  /** One script for all the users the changes name: atomic for all of them, maxEntries included. */
  async changeIndex(changes: IndexChange[], { maxEntries, keepMinutes, graceMinutes }: IndexLimits): Promise<void> {
    if (changes.length === 0) return;
    const users = [...changesByUser(changes)];
    const keys = users.flatMap(([userKey]) => this.#recordKeys(userKey));
    const args = [
      String(maxEntries),
      String(minutesToMillis(keepMinutes)),
      String(Math.round(minutesToMillis(graceMinutes ?? 0))),
    ];
    for (const [position, [, ofUser]] of users.entries()) {
      for (const { op, handle, entry, expiresAt, since } of ofUser) {
        args.push(
          String(position + 1),
          op,
          handle,
          entry ?? "",
          String(expiresAt ?? 0),
          since === undefined ? "" : String(since),
        );
      }
    }
    await this.#run("EVALSHA", () => this.#scripts.changeIndex.exec(keys, args));
  }

  async readIndex(userKey: string): Promise<UserIndex> {
    const flat = (await this.#run("EVALSHA", () =>
      this.#scripts.readIndex.exec(this.#recordKeys(userKey), []),
    )) as unknown[];
    const entries: IndexEntry[] = [];
    for (let i = 1; i + 3 < flat.length; i += 4) {
      entries.push({
        handle: String(flat[i]),
        expiresAt: Number(flat[i + 1]),
        since: Number(flat[i + 2]),
        entry: String(flat[i + 3]),
      });
    }
    return { entries, revokedBefore: Number(flat[0] ?? 0) };
  }

  async revokeBefore(userKey: string, time: number, keepMinutes: number): Promise<void> {
    const args = [String(Math.floor(time)), String(minutesToMillis(keepMinutes))];
    await this.#run("EVALSHA", () => this.#scripts.revokeBefore.exec(this.#recordKeys(userKey), args));
  }

  /** A plain GET of the cut-off key. */
  async revokedBefore(userKey: string): Promise<number> {
    const cut = await this.#run("GET", () => this.#redis.get<string>(`${this.#indexPrefix}${userKey}|c`));
    return cut === null ? 0 : Number(cut);
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
    await this.#scan(remove, this.#userRecordKeys);
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

  /** SCAN, never KEYS: it does not block Redis; only this namespace's own keys (see `KeyKind`). */
  async #scan(onKeys: (keys: string[]) => Promise<void>, kind: KeyKind = this.#sessionKeys): Promise<void> {
    const { match, prefix, own } = kind;
    let cursor = "0";
    do {
      const [next, keys] = await this.#run("SCAN", () => this.#redis.scan(cursor, { match, count: SCAN_COUNT }));
      await onKeys(keys.filter((key) => key.startsWith(prefix) && own.test(key.slice(prefix.length))));
      cursor = String(next);
    } while (cursor !== "0");
  }

  /** A user's record, in the order the scripts take it: expiry-set, since-set, entries, cut-off. */
  #recordKeys(userKey: string): string[] {
    const base = this.#indexPrefix + userKey;
    return [base, `${base}|s`, `${base}|e`, `${base}|c`];
  }

  #key(sessionId: string): string {
    return this.#prefix + sessionId;
  }
}
