import { SessionConfigError } from "./errors.js";
import { Secret } from "./secret.js";
import type { UserCustomStore } from "./stores/types.js";

/** The `EXT_SESSION_MGT` JSON, as the application router defines it. */
export interface ExtSessionMgt {
  /** Name of the store's service instance; namespaces the store keys and names the credential bindings. */
  instanceName: string;
  /** `"redis"`, or any name when `externalStoreFilePath` names a custom store. */
  storageType: string;
  /** Shared secret of at least 64 characters; every key is derived from it. */
  sessionSecret: string;
  /** Path of a custom store module, bundled at build time. */
  externalStoreFilePath?: string;
}

export type SameSite = "Strict" | "Lax" | "None";

export interface SessionCookieOptions {
  /** Default `true`. Only turn off for plain-HTTP local development. */
  secure?: boolean;
  /** Default `"Lax"`. */
  sameSite?: SameSite;
  /** Default `"/"`. */
  path?: string;
  /** Default: none (host-only cookie). */
  domain?: string;
}

export interface SessionLogger {
  warn(message: string): void;
  error(message: string): void;
}

/** What a session does when a valid cookie arrives but the store cannot be read. */
export type StoreUnavailablePolicy =
  /** Answer 503 and keep the user's cookie, so their stored session is neither lost nor overwritten. */
  | "reject"
  /** Carry on with a new, empty session under a new id; the stored one stays untouched in the store. */
  | "new-session";

/** What the layer reports through `onEvent`, for metrics and alerts. Never carries ids or data. */
export type SessionEvent =
  /** The store held an older version than the cookie names (a lagging replica, or a lost backup). */
  | { type: "stale-read"; storedVersion: number; cookieVersion: number }
  /** A compare-and-set write found a newer version and merged onto it. */
  | { type: "write-conflict"; attempt: number }
  /** A write was given up: the session was destroyed meanwhile, or conflicts did not stop. */
  | { type: "write-dropped"; reason: "destroyed" | "conflicts" }
  /** A store write failed; the session stays in memory and is retried. */
  | { type: "backup-failed" };

/** Options of `session()`. Each one overrides the binding of the same meaning. */
export interface SessionOptions {
  /** Overrides the `EXT_SESSION_MGT` binding (an object or its JSON). */
  extSessionMgt?: ExtSessionMgt | string;
  /** Idle timeout in minutes. Overrides `SESSION_TIMEOUT`; default 15. */
  timeout?: number;
  /** Overrides `SESSION_COOKIE_NAME`; default `JSESSIONID`, as in the application router. */
  cookieName?: string;
  cookie?: SessionCookieOptions;
  /** Upper bound of the per-isolate memory tier, in bytes; default 8 MiB. */
  memoryMaxBytes?: number;
  /** An unchanged session's store TTL is refreshed at most once per this fraction of the timeout; default 0.25. */
  ttlRefreshFraction?: number;
  /** Default `"reject"`. */
  onStoreUnavailable?: StoreUnavailablePolicy;
  /** Longest wait for one store call, in milliseconds; default 3000. */
  storeTimeoutMs?: number;
  /** Redis REST credentials; override the `<INSTANCE>_REST_URL` / `UPSTASH_REDIS_REST_URL` bindings. */
  redis?: { url: string; token: string };
  /** A store instance to use instead of the one `storageType` names. */
  store?: UserCustomStore;
  /** Where warnings and errors go; default `console`. */
  logger?: SessionLogger;
  /** Metrics hook: called for stale reads, write conflicts, dropped writes and failed backups. */
  onEvent?: (event: SessionEvent) => void;
  /** Absolute session lifetime in minutes, however active the session is; default none. */
  absoluteTimeout?: number;
  /** How long a regenerated session's old id still resolves to the new one, in seconds; default 10. */
  regenerateGraceSeconds?: number;
  /**
   * Use the store's compare-and-set when it has one (default `true`): changed sessions are then written
   * before the response, so concurrent writers merge instead of overwriting each other.
   */
  versionedWrites?: boolean;
}

export interface SessionConfig {
  instanceName: string;
  storageType: string;
  secret: Secret;
  externalStoreFilePath: string | undefined;
  timeoutMinutes: number;
  cookieName: string;
  cookie: Required<Omit<SessionCookieOptions, "domain">> & { domain: string | undefined };
  memoryMaxBytes: number;
  ttlRefreshFraction: number;
  onStoreUnavailable: StoreUnavailablePolicy;
  storeTimeoutMs: number;
  /** Set when the sessions go to Redis over REST (no custom store); `tokenName` is where the token came from. */
  redis: { url: string; token: Secret; tokenName: string } | undefined;
  store: UserCustomStore | undefined;
  logger: SessionLogger;
  onEvent: (event: SessionEvent) => void;
  absoluteTimeoutMinutes: number | undefined;
  regenerateGraceSeconds: number;
  versionedWrites: boolean;
}

export const MIN_SECRET_LENGTH = 64;
const EXT_KEYS = ["instanceName", "storageType", "sessionSecret", "externalStoreFilePath"] as const;
const COOKIE_NAME = /^[\w!#$%&'*.^`|~+-]+$/;

type Bindings = Record<string, unknown>;

/** Reads and checks every setting once; nothing else in the package reads raw bindings. */
export function parseConfig(bindings: Bindings, options: SessionOptions = {}): SessionConfig {
  const ext = parseExtSessionMgt(options.extSessionMgt ?? bindings.EXT_SESSION_MGT);
  const store = options.store;
  if (ext.storageType !== "redis" && ext.externalStoreFilePath === undefined && store === undefined) {
    throw new SessionConfigError(
      "EXT_SESSION_MGT.storageType",
      `must be "redis" unless externalStoreFilePath names a custom store (got ${JSON.stringify(ext.storageType)})`,
    );
  }
  const usesRedis = store === undefined && ext.externalStoreFilePath === undefined;
  return {
    instanceName: ext.instanceName,
    storageType: ext.storageType,
    secret: new Secret(ext.sessionSecret),
    externalStoreFilePath: ext.externalStoreFilePath,
    timeoutMinutes: positiveNumber(
      options.timeout !== undefined ? "options.timeout" : "SESSION_TIMEOUT",
      options.timeout ?? bindings.SESSION_TIMEOUT ?? 15,
      "minutes",
    ),
    cookieName: cookieName(
      options.cookieName !== undefined ? "options.cookieName" : "SESSION_COOKIE_NAME",
      options.cookieName ?? bindings.SESSION_COOKIE_NAME ?? "JSESSIONID",
    ),
    cookie: cookieAttributes(options.cookie ?? {}),
    memoryMaxBytes: positiveNumber("options.memoryMaxBytes", options.memoryMaxBytes ?? 8 * 1024 * 1024, "bytes"),
    ttlRefreshFraction: fraction("options.ttlRefreshFraction", options.ttlRefreshFraction ?? 0.25),
    onStoreUnavailable: oneOf("options.onStoreUnavailable", options.onStoreUnavailable ?? "reject", [
      "reject",
      "new-session",
    ] as const),
    storeTimeoutMs: positiveNumber("options.storeTimeoutMs", options.storeTimeoutMs ?? 3000, "milliseconds"),
    redis: usesRedis ? redisCredentials(ext.instanceName, bindings, options.redis) : undefined,
    store,
    logger: options.logger ?? console,
    onEvent: options.onEvent ?? (() => {}),
    absoluteTimeoutMinutes:
      options.absoluteTimeout === undefined
        ? undefined
        : positiveNumber("options.absoluteTimeout", options.absoluteTimeout, "minutes"),
    regenerateGraceSeconds: positiveNumber(
      "options.regenerateGraceSeconds",
      options.regenerateGraceSeconds ?? 10,
      "seconds",
    ),
    versionedWrites: options.versionedWrites ?? true,
  };
}

function parseExtSessionMgt(raw: unknown): ExtSessionMgt {
  const name = "EXT_SESSION_MGT";
  if (raw === undefined || raw === null || raw === "") {
    throw new SessionConfigError(name, "is required: a JSON object with instanceName, storageType and sessionSecret");
  }
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      // The parser's message quotes the input, which holds the secret: say only what is wrong.
      throw new SessionConfigError(name, "must be valid JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SessionConfigError(name, "must be a JSON object");
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!(EXT_KEYS as readonly string[]).includes(key)) {
      throw new SessionConfigError(`${name}.${key}`, `is not a known property (known: ${EXT_KEYS.join(", ")})`);
    }
  }
  const secret = object.sessionSecret;
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    const got =
      typeof secret === "string" ? `${secret.length} characters` : secret === undefined ? "nothing" : typeof secret;
    throw new SessionConfigError(
      `${name}.sessionSecret`,
      `is mandatory and must be a string of at least ${MIN_SECRET_LENGTH} characters (got ${got})`,
    );
  }
  const result: ExtSessionMgt = {
    instanceName: nonEmptyString(`${name}.instanceName`, object.instanceName, true),
    storageType: nonEmptyString(`${name}.storageType`, object.storageType, true),
    sessionSecret: secret,
  };
  if (object.externalStoreFilePath !== undefined) {
    result.externalStoreFilePath = nonEmptyString(`${name}.externalStoreFilePath`, object.externalStoreFilePath, false);
  }
  return result;
}

/** `approuter-redis` → `APPROUTER_REDIS`: the prefix of the instance's credential bindings. */
export function bindingPrefix(instanceName: string): string {
  return instanceName.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}

function redisCredentials(
  instanceName: string,
  bindings: Bindings,
  fromOptions: SessionOptions["redis"],
): { url: string; token: Secret; tokenName: string } {
  const candidates: Array<[string, string, unknown, unknown]> = [];
  if (fromOptions !== undefined)
    candidates.push(["options.redis.url", "options.redis.token", fromOptions.url, fromOptions.token]);
  const prefix = bindingPrefix(instanceName);
  for (const p of [prefix, "UPSTASH_REDIS"]) {
    candidates.push([`${p}_REST_URL`, `${p}_REST_TOKEN`, bindings[`${p}_REST_URL`], bindings[`${p}_REST_TOKEN`]]);
  }
  const found = candidates.find(([, , url, token]) => isFilled(url) && isFilled(token));
  if (found === undefined) {
    const tried = candidates.map(([u, t]) => `${u} + ${t}`).join(", then ");
    throw new SessionConfigError(
      "Redis credentials",
      `no REST URL and token found for instance ${JSON.stringify(instanceName)}; tried ${tried}`,
    );
  }
  const [urlName, tokenName, url, token] = found;
  if (!/^https?:\/\/[^\s/?#]+/.test(String(url))) {
    throw new SessionConfigError(urlName, "must be an http(s) URL");
  }
  return { url: String(url).replace(/\/+$/, ""), token: new Secret(String(token)), tokenName };
}

function isFilled(value: unknown): boolean {
  return typeof value === "string" && value.trim() !== "";
}

function nonEmptyString(property: string, value: unknown, mandatory: boolean): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new SessionConfigError(property, `${mandatory ? "is mandatory and " : ""}must be a non-empty string`);
  }
  return value;
}

function positiveNumber(property: string, value: unknown, unit: string): number {
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number) || number <= 0) {
    throw new SessionConfigError(property, `must be a positive number of ${unit}`);
  }
  return number;
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

function cookieAttributes(cookie: SessionCookieOptions): SessionConfig["cookie"] {
  const sameSite = oneOf("options.cookie.sameSite", cookie.sameSite ?? "Lax", ["Strict", "Lax", "None"] as const);
  const secure = cookie.secure ?? true;
  if (typeof secure !== "boolean") throw new SessionConfigError("options.cookie.secure", "must be a boolean");
  if (sameSite === "None" && !secure) {
    throw new SessionConfigError(
      "options.cookie.sameSite",
      'can be "None" only with secure: true (browsers drop it otherwise)',
    );
  }
  const path = cookie.path ?? "/";
  if (typeof path !== "string" || !path.startsWith("/"))
    throw new SessionConfigError("options.cookie.path", 'must start with "/"');
  const domain = cookie.domain;
  if (domain !== undefined && (typeof domain !== "string" || !/^[A-Za-z0-9.-]+$/.test(domain))) {
    throw new SessionConfigError("options.cookie.domain", "must be a host name");
  }
  return { secure, sameSite, path, domain };
}
