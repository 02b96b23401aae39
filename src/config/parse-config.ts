import { describeError, SessionConfigError } from "../errors.js";
import type { RedisStoreFactory, UserCustomStore } from "../stores/types.js";
import type { SessionEvent, SessionLogger } from "../types.js";
import {
  checkSecret,
  missingExtSessionMgt,
  nonEmptyString,
  readExtSessionMgt,
  redisCredentials,
  type Bindings,
  type RedisCredentials,
} from "./ext-session-mgt.js";
import type { SessionCookieOptions, SessionOptions, StoreUnavailablePolicy } from "./options.js";
import { Secret } from "./secret.js";

/** Where the sessions go, as the options and the configuration decide. */
export type StoreSource =
  /** A store instance given in code. */
  | { kind: "instance"; store: UserCustomStore }
  /** The custom store module `EXT_SESSION_MGT.externalStoreFilePath` names, bundled at build time. */
  | { kind: "custom"; path: string }
  /** Redis over REST, through the factory given in code, with the credentials found. */
  | { kind: "redis"; factory: RedisStoreFactory; credentials: RedisCredentials };

/** Every setting, checked: what the rest of the package reads (nothing else reads raw bindings). */
export interface SessionConfig {
  instanceName: string;
  storageType: string;
  secret: Secret;
  /** Previous secrets, newest first. */
  previousSecrets: Secret[];
  store: StoreSource;
  /** The idle timeout (every time here is in milliseconds). */
  idleTimeoutMs: number;
  cookieName: string;
  cookie: Required<Omit<SessionCookieOptions, "domain">> & { domain: string | undefined };
  maxSessionBytes: number;
  memoryMaxBytes: number;
  ttlRefreshFraction: number;
  onStoreUnavailable: StoreUnavailablePolicy;
  storeTimeoutMs: number;
  logger: SessionLogger;
  onEvent: (event: SessionEvent) => void;
  absoluteTimeoutMs: number | undefined;
  maxSessionsPerUser: number;
  versionedWrites: boolean;
  maxStalenessMs: number;
  staleReadWaitMs: number;
  onStaleRead: "serve" | "reject";
  awaitWrites: boolean;
  serverTiming: boolean;
}

/**
 * A write is readable from another isolate about 45 ms (p95) after its response with the store 80 ms away
 * (`npm run bench`, stale-read timing); twice that, rounded up, covers a reader nearer the store than the
 * writer, without making a write that never lands cost its reader long.
 */
export const DEFAULT_STALE_READ_WAIT_MS = 100;

const COOKIE_NAME = /^[\w!#$%&'*.^`|~+-]+$/;
/** A host name: labels of 1 to 63 letters, digits and inner hyphens, joined by single dots; a leading dot (ignored by browsers). */
const DOMAIN = /^\.?[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Every option, so a misspelt one is refused by name, as `EXT_SESSION_MGT`'s are (the compiler checks the list). */
const OPTION_KEYS = Object.keys({
  extSessionMgt: 0,
  secret: 0,
  previousSecrets: 0,
  instanceName: 0,
  store: 0,
  redis: 0,
  idleTimeoutMs: 0,
  cookieName: 0,
  cookie: 0,
  maxSessionBytes: 0,
  memoryMaxBytes: 0,
  ttlRefreshFraction: 0,
  onStoreUnavailable: 0,
  storeTimeoutMs: 0,
  logger: 0,
  onEvent: 0,
  serverTiming: 0,
  absoluteTimeoutMs: 0,
  maxSessionsPerUser: 0,
  maxStalenessMs: 0,
  staleReadWaitMs: 0,
  onStaleRead: 0,
  awaitWrites: 0,
  versionedWrites: 0,
} satisfies Record<keyof SessionOptions, 0>);
const COOKIE_KEYS = Object.keys({
  secure: 0,
  sameSite: 0,
  path: 0,
  partitioned: 0,
  domain: 0,
} satisfies Record<keyof SessionCookieOptions, 0>);

/** An object holding only the known properties: a misspelt one would otherwise be ignored without a word. */
function knownProperties(property: string, value: unknown, known: readonly string[]): void {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SessionConfigError(property, "must be an object");
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new SessionConfigError(`${property}.${key}`, `is not a known property (known: ${known.join(", ")})`);
    }
  }
}

/** The longest wait a timer takes: past it, Node's setTimeout and AbortSignal.timeout fire after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/**
 * The longest idle timeout, ten years: the stores must hold a marker twice as long, and a longer one breaks
 * them at request time (the Durable Object store's alarms take no date after 2189; Redis no expiry past 2^63 ms).
 */
const MAX_IDLE_TIMEOUT_MS = 10 * 365 * 24 * 60 * 60_000;

/**
 * Reads and checks every setting once per isolate: the options given in code, over the application
 * router's bindings. Every error names the property (the option, or the binding it came from) and the
 * rule, never a secret.
 */
export function parseConfig(bindings: Bindings, options: SessionOptions = {}): SessionConfig {
  knownProperties("options", options, OPTION_KEYS);
  const ext = readExtSessionMgt(options.extSessionMgt ?? bindings["EXT_SESSION_MGT"]);
  if (ext === undefined && options.secret === undefined) throw missingExtSessionMgt();
  const secret = options.secret !== undefined ? checkSecret("options.secret", options.secret) : ext!.sessionSecret;
  const instanceName =
    options.instanceName !== undefined
      ? nonEmptyString("options.instanceName", options.instanceName, false)
      : (ext?.instanceName ?? "sessions");
  const storageType = ext?.storageType ?? (options.store !== undefined ? "custom" : "redis");
  const logger = sessionLogger(options.logger);
  return {
    instanceName,
    storageType,
    secret: new Secret(secret),
    previousSecrets: previousSecrets(options.previousSecrets, bindings["SESSION_PREVIOUS_SECRETS"], secret),
    store: storeSource(options, ext?.externalStoreFilePath, storageType, instanceName, bindings),
    idleTimeoutMs: idleTimeoutMs(options.idleTimeoutMs, bindings["SESSION_TIMEOUT"]),
    cookieName: cookieName(
      options.cookieName !== undefined ? "options.cookieName" : "SESSION_COOKIE_NAME",
      options.cookieName ?? bindings["SESSION_COOKIE_NAME"] ?? "JSESSIONID",
    ),
    cookie: cookieAttributes(
      options.cookie ?? {},
      options.cookieName !== undefined ? "options.cookieName" : "SESSION_COOKIE_NAME",
      String(options.cookieName ?? bindings["SESSION_COOKIE_NAME"] ?? "JSESSIONID"),
    ),
    maxSessionBytes: positiveNumber("options.maxSessionBytes", options.maxSessionBytes ?? 128 * 1024, "bytes"),
    memoryMaxBytes: positiveNumber("options.memoryMaxBytes", options.memoryMaxBytes ?? 8 * 1024 * 1024, "bytes"),
    ttlRefreshFraction: fraction("options.ttlRefreshFraction", options.ttlRefreshFraction ?? 0.25),
    onStoreUnavailable: oneOf("options.onStoreUnavailable", options.onStoreUnavailable ?? "reject", [
      "reject",
      "new-session",
    ] as const),
    storeTimeoutMs: positiveNumber(
      "options.storeTimeoutMs",
      options.storeTimeoutMs ?? 3000,
      "milliseconds",
      MAX_TIMER_MS,
    ),
    logger,
    onEvent: observer(options.onEvent, logger),
    absoluteTimeoutMs:
      options.absoluteTimeoutMs === undefined
        ? undefined
        : positiveNumber("options.absoluteTimeoutMs", options.absoluteTimeoutMs, "milliseconds"),
    maxSessionsPerUser: positiveInteger("options.maxSessionsPerUser", options.maxSessionsPerUser ?? 100),
    versionedWrites: bool("options.versionedWrites", options.versionedWrites ?? true),
    maxStalenessMs: nonNegativeNumber("options.maxStalenessMs", options.maxStalenessMs ?? 5000, "milliseconds"),
    staleReadWaitMs: nonNegativeNumber(
      "options.staleReadWaitMs",
      options.staleReadWaitMs ?? DEFAULT_STALE_READ_WAIT_MS,
      "milliseconds",
    ),
    onStaleRead: oneOf("options.onStaleRead", options.onStaleRead ?? "serve", ["serve", "reject"] as const),
    awaitWrites: bool("options.awaitWrites", options.awaitWrites ?? false),
    serverTiming: bool("options.serverTiming", options.serverTiming ?? false),
  };
}

/** Previous secrets from the option, or else the binding (a JSON array); each checked like the secret. */
function previousSecrets(inCode: unknown, binding: unknown, current: string): Secret[] {
  let property = "options.previousSecrets";
  let list = inCode;
  if (list === undefined && binding !== undefined && binding !== "") {
    property = "SESSION_PREVIOUS_SECRETS";
    try {
      list = typeof binding === "string" ? JSON.parse(binding) : binding;
    } catch {
      // The parser's message would quote the secrets.
      throw new SessionConfigError(property, "must be a JSON array of strings");
    }
  }
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new SessionConfigError(property, "must be an array of strings");
  return list.map((value, i) => {
    const secret = checkSecret(`${property}[${i}]`, value);
    if (secret === current) throw new SessionConfigError(`${property}[${i}]`, "is the current secret");
    const first = list.indexOf(secret);
    if (first !== i) throw new SessionConfigError(`${property}[${i}]`, `is already listed at [${first}]`);
    return new Secret(secret);
  });
}

/** A store given in code wins; then the custom store the configuration names; then Redis. */
function storeSource(
  options: SessionOptions,
  externalStoreFilePath: string | undefined,
  storageType: string,
  instanceName: string,
  bindings: Bindings,
): StoreSource {
  if (typeof options.store === "function") return { kind: "instance", store: options.store(bindings) };
  if (options.store !== undefined) return { kind: "instance", store: options.store };
  if (externalStoreFilePath !== undefined) return { kind: "custom", path: externalStoreFilePath };
  if (storageType !== "redis") {
    throw new SessionConfigError(
      "EXT_SESSION_MGT.storageType",
      `must be "redis" unless externalStoreFilePath names a custom store (got ${JSON.stringify(storageType)})`,
    );
  }
  if (options.redis === undefined) {
    throw new SessionConfigError(
      "options.redis",
      'is needed when the sessions go to Redis (storageType "redis", no custom store): pass ' +
        'redis: redisStore() from "hono-edge-session/redis" (kept out of the core so that apps on other stores ship no Redis client)',
    );
  }
  const redis = options.redis;
  return {
    kind: "redis",
    // Not the factory itself: its credentials hold the token in the clear, and the configuration holds it in a Secret.
    factory: { create: (context) => redis.create(context) },
    credentials: redisCredentials(instanceName, bindings, redis.credentials),
  };
}

/** The idle timeout: the option in milliseconds, else the application router's `SESSION_TIMEOUT` in minutes. */
function idleTimeoutMs(option: unknown, binding: unknown): number {
  if (option !== undefined) return positiveNumber("options.idleTimeoutMs", option, "milliseconds", MAX_IDLE_TIMEOUT_MS);
  return positiveNumber("SESSION_TIMEOUT", binding ?? 15, "minutes", MAX_IDLE_TIMEOUT_MS / 60_000) * 60_000;
}

function positiveInteger(property: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new SessionConfigError(property, "must be a whole number, 1 or more");
  }
  return value;
}

function positiveNumber(property: string, value: unknown, unit: string, max = Number.MAX_VALUE): number {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number) || number <= 0 || number > max) {
    const most = max === Number.MAX_VALUE ? "" : `, at most ${max}`;
    throw new SessionConfigError(property, `must be a positive number of ${unit}${most}`);
  }
  return number;
}

function nonNegativeNumber(property: string, value: unknown, unit: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new SessionConfigError(property, `must be a number of ${unit}, 0 or more`);
  }
  return value;
}

function sessionLogger(value: unknown): SessionLogger {
  if (value === undefined || value === null) return console;
  const logger = value as Partial<SessionLogger>;
  if (typeof logger !== "object" || typeof logger.warn !== "function" || typeof logger.error !== "function")
    throw new SessionConfigError("options.logger", "must be an object with warn(message) and error(message) methods");
  return logger as SessionLogger;
}

/** A failing metrics hook is logged at most this often (per isolate): it may fail on every request. */
const OBSERVER_LOG_INTERVAL_MS = 60_000;

/**
 * The metrics hook, kept off the session's path: an observer that throws (or returns a promise that
 * rejects) is logged, at most once a minute with the count of failures since, and the request (its session
 * calls, its response, its write) goes on as if it had not been called.
 */
function observer(value: unknown, logger: SessionLogger): (event: SessionEvent) => void {
  if (value === undefined || value === null) return () => {};
  if (typeof value !== "function") throw new SessionConfigError("options.onEvent", "must be a function");
  const onEvent = value as (event: SessionEvent) => unknown;
  let loggedAt = -Infinity;
  let unlogged = 0;
  const failed = (event: SessionEvent, error: unknown) => {
    unlogged++;
    const now = Date.now();
    if (now - loggedAt < OBSERVER_LOG_INTERVAL_MS) return;
    const count = unlogged > 1 ? ` (${unlogged} failures since the last line)` : "";
    loggedAt = now;
    unlogged = 0;
    try {
      logger.error(
        `hono-edge-session: options.onEvent threw on a "${event.type}" event (ignored)${count}: ${describeError(error)}`,
      );
    } catch {
      // A logger that throws too: nothing more to tell, and the request still goes on.
    }
  };
  return (event) => {
    try {
      const answer = onEvent(event);
      if (answer instanceof Promise) answer.catch((error: unknown) => failed(event, error));
    } catch (error) {
      failed(event, error);
    }
  };
}

function bool(property: string, value: unknown): boolean {
  if (typeof value !== "boolean") throw new SessionConfigError(property, "must be true or false");
  return value;
}

function fraction(property: string, value: unknown): number {
  if (typeof value !== "number" || !(value > 0 && value <= 1)) {
    throw new SessionConfigError(property, "must be a number greater than 0 and at most 1");
  }
  return value;
}

function oneOf<T extends string>(property: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new SessionConfigError(property, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}`);
  }
  return value as T;
}

function cookieName(property: string, value: unknown): string {
  if (typeof value !== "string" || !COOKIE_NAME.test(value)) {
    throw new SessionConfigError(property, "must be a valid cookie name (letters, digits and !#$%&'*.^`|~+-_)");
  }
  return value;
}

function cookieAttributes(cookie: SessionCookieOptions, nameProperty: string, name: string): SessionConfig["cookie"] {
  knownProperties("options.cookie", cookie, COOKIE_KEYS);
  const sameSite = oneOf("options.cookie.sameSite", cookie.sameSite ?? "Lax", ["Strict", "Lax", "None"] as const);
  const secure = bool("options.cookie.secure", cookie.secure ?? true);
  const partitioned = bool("options.cookie.partitioned", cookie.partitioned ?? false);
  if (sameSite === "None" && !secure) {
    throw new SessionConfigError(
      "options.cookie.sameSite",
      'can be "None" only with secure: true (browsers drop it otherwise)',
    );
  }
  if (partitioned && !secure) {
    throw new SessionConfigError("options.cookie.partitioned", "needs secure: true (browsers drop it otherwise)");
  }
  const path = cookie.path ?? "/";
  // RFC 6265's path-value: no control characters and no ";" (hono's serialize would throw on every response).
  if (typeof path !== "string" || !/^\/[\x20-\x3a\x3c-\x7e]*$/.test(path))
    throw new SessionConfigError("options.cookie.path", 'must start with "/" and hold only printable ASCII, no ";"');
  const domain = cookie.domain;
  // A domain the browser cannot domain-match (an empty label, a trailing dot) makes it drop the cookie.
  if (domain !== undefined && (typeof domain !== "string" || domain.length > 254 || !DOMAIN.test(domain))) {
    throw new SessionConfigError(
      "options.cookie.domain",
      "must be a host name: labels of letters, digits and inner hyphens, joined by single dots (a leading dot is allowed)",
    );
  }
  // The browser enforces the prefixes' rules by dropping the cookie: say so now, not in production.
  if (/^__Host-/i.test(name) && (!secure || path !== "/" || domain !== undefined)) {
    throw new SessionConfigError(nameProperty, 'starts with "__Host-": it needs secure: true, path "/" and no domain');
  }
  if (/^__Secure-/i.test(name) && !secure) {
    throw new SessionConfigError(nameProperty, 'starts with "__Secure-": it needs secure: true');
  }
  return { secure, sameSite, path, domain, partitioned };
}
