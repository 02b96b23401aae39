import { SessionConfigError } from "../errors.js";
import { Secret } from "./secret.js";

/**
 * The application router's configuration, as bindings: `EXT_SESSION_MGT` (JSON), `SESSION_TIMEOUT`,
 * `SESSION_COOKIE_NAME`, and the Redis credentials named after the instance. This layer only reads and
 * checks them; `parseConfig` lays the options given in code over what it finds.
 */

/** The `EXT_SESSION_MGT` JSON, as the application router defines it. */
export interface ExtSessionMgt {
  /** Name of the store's service instance; namespaces the store keys and names the credential bindings. */
  instanceName: string;
  /** `"redis"`, or any name when `externalStoreFilePath` names a custom store. */
  storageType: string;
  /** Shared secret of at least 64 characters; every key is derived from it. */
  sessionSecret: string;
  /** Path (or package specifier) of a custom store module, bundled at build time. */
  externalStoreFilePath?: string;
}

export type Bindings = Record<string, unknown>;

export const MIN_SECRET_LENGTH = 64;
const NAME = "EXT_SESSION_MGT";
const EXT_KEYS = ["instanceName", "storageType", "sessionSecret", "externalStoreFilePath"] as const;

/** `EXT_SESSION_MGT` from an option (object or JSON) or the binding; `undefined` when neither is set. */
export function readExtSessionMgt(raw: unknown): ExtSessionMgt | undefined {
  if (raw === undefined || raw === null || raw === "") return undefined;
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      // The parser's message quotes the input, which holds the secret: say only what is wrong.
      throw new SessionConfigError(NAME, "must be valid JSON");
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new SessionConfigError(NAME, "must be a JSON object");
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!(EXT_KEYS as readonly string[]).includes(key)) {
      throw new SessionConfigError(`${NAME}.${key}`, `is not a known property (known: ${EXT_KEYS.join(", ")})`);
    }
  }
  const result: ExtSessionMgt = {
    instanceName: nonEmptyString(`${NAME}.instanceName`, object["instanceName"], true),
    storageType: nonEmptyString(`${NAME}.storageType`, object["storageType"], true),
    sessionSecret: checkSecret(`${NAME}.sessionSecret`, object["sessionSecret"]),
  };
  if (object["externalStoreFilePath"] !== undefined) {
    result.externalStoreFilePath = nonEmptyString(
      `${NAME}.externalStoreFilePath`,
      object["externalStoreFilePath"],
      false,
    );
  }
  return result;
}

/** The error when neither code nor bindings give the secret. */
export function missingExtSessionMgt(): SessionConfigError {
  return new SessionConfigError(NAME, "is required: a JSON object with instanceName, storageType and sessionSecret");
}

/** A secret of at least 64 characters; the error says how long it was, never what it was. */
export function checkSecret(property: string, secret: unknown): string {
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    const got =
      typeof secret === "string" ? `${secret.length} characters` : secret === undefined ? "nothing" : typeof secret;
    throw new SessionConfigError(
      property,
      `is mandatory and must be a string of at least ${MIN_SECRET_LENGTH} characters (got ${got})`,
    );
  }
  return secret;
}

/** `approuter-redis` → `APPROUTER_REDIS`: the prefix of the instance's credential bindings. */
export function bindingPrefix(instanceName: string): string {
  return instanceName.toUpperCase().replace(/[^A-Z0-9]+/g, "_");
}

export interface RedisCredentials {
  url: string;
  token: Secret;
  /** Where the token came from (a binding name), for errors that say where to fix it. */
  tokenName: string;
}

/**
 * Redis REST credentials: the ones given in code, else `<INSTANCE>_REST_URL` / `_TOKEN`, else
 * `UPSTASH_REDIS_REST_URL` / `_TOKEN`. The error lists every name it tried.
 */
export function redisCredentials(
  instanceName: string,
  bindings: Bindings,
  inCode: { url: string; token: string } | undefined,
): RedisCredentials {
  const candidates: Array<[string, string, unknown, unknown]> = [];
  if (inCode !== undefined) {
    candidates.push(["redisStore({ url })", "redisStore({ token })", inCode.url, inCode.token]);
  }
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

export function nonEmptyString(property: string, value: unknown, mandatory: boolean): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new SessionConfigError(property, `${mandatory ? "is mandatory and " : ""}must be a non-empty string`);
  }
  return value;
}
