import { describe, expect, it } from "vitest";
import { SessionConfigError, type SessionOptions } from "../../src/index.js";
import { bindingPrefix } from "../../src/config/ext-session-mgt.js";
import { parseConfig as parseWith } from "../../src/config/parse-config.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { SECRET } from "../support/workerd.js";

/** As an app on Redis configures it: `session({ redis: redisStore() })`, over the bindings. */
const parseConfig = (bindings: Record<string, unknown>, options: SessionOptions = {}) =>
  parseWith(bindings, { redis: redisStore(), ...options });
/** The Redis credentials the configuration found. */
const redisOf = (config: ReturnType<typeof parseConfig>) =>
  config.store.kind === "redis" ? config.store.credentials : undefined;

const ext = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({ instanceName: "approuter-redis", storageType: "redis", sessionSecret: SECRET, ...overrides });
const creds = { UPSTASH_REDIS_REST_URL: "https://example.upstash.io", UPSTASH_REDIS_REST_TOKEN: "tok" };

/** Parses and returns the error, asserting it is a SessionConfigError that never quotes the secret. */
function configError(bindings: Record<string, unknown>, options: SessionOptions = {}): SessionConfigError {
  try {
    parseConfig(bindings, options);
  } catch (error) {
    expect(error).toBeInstanceOf(SessionConfigError);
    expect((error as Error).message).not.toContain(SECRET.slice(0, 20));
    return error as SessionConfigError;
  }
  throw new Error("expected a configuration error");
}

describe("EXT_SESSION_MGT", () => {
  it("parses the seed's example shape with defaults", () => {
    const config = parseConfig({ EXT_SESSION_MGT: ext(), ...creds });
    expect(config.instanceName).toBe("approuter-redis");
    expect(config.storageType).toBe("redis");
    expect(config.secret.reveal()).toBe(SECRET);
    expect(config.idleTimeoutMs).toBe(15 * 60_000);
    expect(config.cookieName).toBe("JSESSIONID");
    expect(config.cookie).toEqual({ secure: true, sameSite: "Lax", path: "/", domain: undefined, partitioned: false });
    expect(redisOf(config)?.url).toBe("https://example.upstash.io");
    expect(config.store.kind).toBe("redis");
  });

  it("is mandatory", () => {
    expect(configError({ ...creds }).property).toBe("EXT_SESSION_MGT");
  });

  it("must be JSON, and the error does not quote it", () => {
    const error = configError({ EXT_SESSION_MGT: `{"sessionSecret":"${SECRET}"`, ...creds });
    expect(error.message).toBe("EXT_SESSION_MGT: must be valid JSON");
  });

  it("must be an object", () => {
    expect(configError({ EXT_SESSION_MGT: "[1,2]", ...creds }).message).toMatch(/must be a JSON object/);
  });

  it.each(["instanceName", "storageType"])("requires %s as a non-empty string", (key) => {
    expect(configError({ EXT_SESSION_MGT: ext({ [key]: undefined }), ...creds }).property).toBe(
      `EXT_SESSION_MGT.${key}`,
    );
    expect(configError({ EXT_SESSION_MGT: ext({ [key]: " " }), ...creds }).message).toMatch(/non-empty string/);
    expect(configError({ EXT_SESSION_MGT: ext({ [key]: 7 }), ...creds }).message).toMatch(/non-empty string/);
  });

  it("requires a sessionSecret of at least 64 characters and says how long it was, not what it was", () => {
    const short = "s".repeat(63);
    const error = configError({ EXT_SESSION_MGT: ext({ sessionSecret: short }), ...creds });
    expect(error.property).toBe("EXT_SESSION_MGT.sessionSecret");
    expect(error.message).toMatch(/at least 64 characters \(got 63 characters\)/);
    expect(error.message).not.toContain(short);
    expect(configError({ EXT_SESSION_MGT: ext({ sessionSecret: undefined }), ...creds }).message).toMatch(
      /got nothing/,
    );
    expect(
      parseConfig({ EXT_SESSION_MGT: ext({ sessionSecret: "s".repeat(64) }), ...creds }).secret.reveal(),
    ).toHaveLength(64);
  });

  it("rejects unknown properties by name", () => {
    const error = configError({ EXT_SESSION_MGT: ext({ sessionSecrte: "typo" }), ...creds });
    expect(error.property).toBe("EXT_SESSION_MGT.sessionSecrte");
    expect(error.message).toMatch(/not a known property/);
  });

  it("accepts only redis as storageType without a custom store", () => {
    const error = configError({ EXT_SESSION_MGT: ext({ storageType: "memcached" }), ...creds });
    expect(error.property).toBe("EXT_SESSION_MGT.storageType");
    expect(error.message).toMatch(/must be "redis" unless externalStoreFilePath/);
  });

  it("takes externalStoreFilePath as an optional non-empty string", () => {
    const config = parseConfig({
      EXT_SESSION_MGT: ext({ storageType: "custom", externalStoreFilePath: "./store.js" }),
    });
    expect(config.store).toEqual({ kind: "custom", path: "./store.js" });
    expect(configError({ EXT_SESSION_MGT: ext({ externalStoreFilePath: "" }) }).property).toBe(
      "EXT_SESSION_MGT.externalStoreFilePath",
    );
  });

  it("is overridden by options, as an object or as JSON", () => {
    const fromOptions = parseConfig(
      { EXT_SESSION_MGT: "not even json", ...creds },
      { extSessionMgt: { instanceName: "other", storageType: "redis", sessionSecret: SECRET } },
    );
    expect(fromOptions.instanceName).toBe("other");
    expect(parseConfig({ ...creds }, { extSessionMgt: ext({ instanceName: "json" }) }).instanceName).toBe("json");
  });

  it("never shows the secret when the config is logged or serialised", () => {
    const config = parseConfig({ EXT_SESSION_MGT: ext(), ...creds });
    expect(JSON.stringify(config)).not.toContain(SECRET);
    expect(String(config.secret)).toBe("[redacted]");
    expect(JSON.stringify(config)).not.toContain('tok"');
  });
});

describe("options first", () => {
  it("needs no EXT_SESSION_MGT when the secret and the store are given in code", () => {
    const store = { clear: async () => {} } as unknown as NonNullable<SessionOptions["store"]>;
    const config = parseWith({}, { secret: SECRET, store });
    expect(config.secret.reveal()).toBe(SECRET);
    expect(config.instanceName).toBe("sessions");
    expect(config.store).toEqual({ kind: "instance", store });
  });

  it("lets the secret and instanceName in code win over EXT_SESSION_MGT", () => {
    const other = "o".repeat(64);
    const config = parseConfig({ EXT_SESSION_MGT: ext(), ...creds }, { secret: other, instanceName: "mine" });
    expect(config.secret.reveal()).toBe(other);
    expect(config.instanceName).toBe("mine");
  });

  it("checks a secret given in code by the same rule, naming the option", () => {
    const error = configError({ ...creds }, { secret: "short" });
    expect(error.property).toBe("options.secret");
    expect(error.message).toMatch(/at least 64 characters \(got 5 characters\)/);
  });
});

describe("SESSION_TIMEOUT and SESSION_COOKIE_NAME", () => {
  it("reads both from bindings (strings, as vars are)", () => {
    const config = parseConfig({ EXT_SESSION_MGT: ext(), ...creds, SESSION_TIMEOUT: "30", SESSION_COOKIE_NAME: "sid" });
    expect(config.idleTimeoutMs).toBe(30 * 60_000);
    expect(config.cookieName).toBe("sid");
  });

  it("lets options override the bindings", () => {
    const config = parseConfig(
      { EXT_SESSION_MGT: ext(), ...creds, SESSION_TIMEOUT: "30", SESSION_COOKIE_NAME: "sid" },
      { idleTimeoutMs: 5_000, cookieName: "mine" },
    );
    expect(config.idleTimeoutMs).toBe(5_000);
    expect(config.cookieName).toBe("mine");
  });

  it.each(["0", "-3", "abc", ""])("rejects SESSION_TIMEOUT=%j", (value) => {
    const error = configError({ EXT_SESSION_MGT: ext(), ...creds, SESSION_TIMEOUT: value === "" ? " " : value });
    expect(error.property).toBe("SESSION_TIMEOUT");
    expect(error.message).toMatch(/positive number of minutes/);
  });

  it("names the option, not the binding, when the option is wrong", () => {
    expect(configError({ EXT_SESSION_MGT: ext(), ...creds }, { idleTimeoutMs: -1 }).property).toBe(
      "options.idleTimeoutMs",
    );
  });

  it.each(["a b", "a;b", "ä", ""])("rejects the cookie name %j", (name) => {
    expect(
      configError({ EXT_SESSION_MGT: ext(), ...creds, SESSION_COOKIE_NAME: name === "" ? " " : name }).property,
    ).toBe("SESSION_COOKIE_NAME");
  });
});

describe("options", () => {
  const bindings = { EXT_SESSION_MGT: ext(), ...creds };
  it.each([
    [{ memoryMaxBytes: 0 }, "options.memoryMaxBytes"],
    [{ ttlRefreshFraction: 2 }, "options.ttlRefreshFraction"],
    [{ onStoreUnavailable: "ignore" }, "options.onStoreUnavailable"],
    [{ storeTimeoutMs: -5 }, "options.storeTimeoutMs"],
    [{ cookie: { sameSite: "Sometimes" } }, "options.cookie.sameSite"],
    [{ cookie: { sameSite: "None", secure: false } }, "options.cookie.sameSite"],
    [{ cookie: { path: "nope" } }, "options.cookie.path"],
    // hono's serialize throws on these: every response that set a cookie answered 500.
    [{ cookie: { path: "/app;Domain=evil.example" } }, "options.cookie.path"],
    [{ cookie: { path: "/app\r\nX-Injected: 1" } }, "options.cookie.path"],
    [{ cookie: { path: "/日本" } }, "options.cookie.path"],
    [{ cookie: { domain: "a b" } }, "options.cookie.domain"],
  ])("rejects %j naming %s", (options, property) => {
    expect(configError(bindings, options as SessionOptions).property).toBe(property);
  });
});

describe("Redis credentials", () => {
  it("derives the binding names from instanceName", () => {
    expect(bindingPrefix("approuter-redis")).toBe("APPROUTER_REDIS");
    expect(bindingPrefix("my..cache 2")).toBe("MY_CACHE_2");
  });

  it("prefers the instance's bindings over the UPSTASH_ fallback", () => {
    const config = parseConfig({
      EXT_SESSION_MGT: ext(),
      ...creds,
      APPROUTER_REDIS_REST_URL: "https://instance.example/",
      APPROUTER_REDIS_REST_TOKEN: "instance-token",
    });
    expect(redisOf(config)?.url).toBe("https://instance.example");
    expect(redisOf(config)?.token.reveal()).toBe("instance-token");
    expect(redisOf(config)?.tokenName).toBe("APPROUTER_REDIS_REST_TOKEN");
  });

  it("falls back to UPSTASH_REDIS_REST_URL / _TOKEN", () => {
    expect(redisOf(parseConfig({ EXT_SESSION_MGT: ext(), ...creds }))?.token.reveal()).toBe("tok");
  });

  it("lists every binding it tried when none is set", () => {
    const error = configError({ EXT_SESSION_MGT: ext(), APPROUTER_REDIS_REST_URL: "https://only-url.example" });
    for (const name of [
      "APPROUTER_REDIS_REST_URL",
      "APPROUTER_REDIS_REST_TOKEN",
      "UPSTASH_REDIS_REST_URL",
      "UPSTASH_REDIS_REST_TOKEN",
    ]) {
      expect(error.message).toContain(name);
    }
  });

  it("takes credentials given in code first", () => {
    const config = parseConfig(
      { EXT_SESSION_MGT: ext(), ...creds },
      { redis: redisStore({ url: "http://127.0.0.1:1", token: "t" }) },
    );
    expect(redisOf(config)?.url).toBe("http://127.0.0.1:1");
    expect(redisOf(config)?.tokenName).toBe("redisStore({ token })");
  });

  it("asks for the Redis store in code when the configuration names Redis", () => {
    let error: unknown;
    try {
      parseWith({ EXT_SESSION_MGT: ext(), ...creds });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SessionConfigError);
    expect((error as SessionConfigError).property).toBe("options.redis");
    expect((error as Error).message).toContain('redis: redisStore() from "hono-edge-session/redis"');
  });

  it("rejects a URL that is not http(s), naming the binding", () => {
    const error = configError({
      EXT_SESSION_MGT: ext(),
      UPSTASH_REDIS_REST_URL: "redis://x",
      UPSTASH_REDIS_REST_TOKEN: "t",
    });
    expect(error.property).toBe("UPSTASH_REDIS_REST_URL");
  });
});

describe("the logger and the metrics hook", () => {
  it("are checked once, by name: a logger needs warn() and error(), onEvent must be a function", () => {
    const base = { EXT_SESSION_MGT: ext(), ...creds };
    const bad = (options: SessionOptions) => configError(base, options).message;
    expect(bad({ logger: { warn: () => {} } as never })).toMatch(
      /options\.logger.*must be an object with warn\(message\) and error\(message\) methods/,
    );
    expect(bad({ logger: "console" as never })).toMatch(/options\.logger/);
    expect(bad({ onEvent: "metrics" as never })).toMatch(/options\.onEvent.*must be a function/);
    const logger = { warn: () => {}, error: () => {} };
    expect(parseConfig(base, { logger }).logger).toBe(logger);
    // null, as undefined, is none: the console, and no hook.
    expect(parseConfig(base, { logger: null as never, onEvent: null as never }).logger).toBe(console);
  });

  it("keeps a failing onEvent off the request: whatever it throws or rejects with is logged, never thrown", async () => {
    const lines: string[] = [];
    const logger = { warn: () => {}, error: (line: string) => void lines.push(line) };
    const base = { EXT_SESSION_MGT: ext(), ...creds };
    const thrown = [
      Object.create(null),
      {
        toString: () => {
          throw new Error("nested");
        },
      },
      new Error("down"),
    ];
    for (const error of thrown) {
      const { onEvent } = parseConfig(base, {
        logger,
        onEvent: () => {
          throw error;
        },
      });
      expect(() => onEvent({ type: "hit" })).not.toThrow();
    }
    const rejecting = parseConfig(base, {
      logger,
      onEvent: async () => {
        throw new Error("async down");
      },
    });
    rejecting.onEvent({ type: "hit" });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(lines).toEqual([
      'hono-edge-session: options.onEvent threw on a "hit" event (ignored): [object Object]',
      'hono-edge-session: options.onEvent threw on a "hit" event (ignored): [object Object]',
      'hono-edge-session: options.onEvent threw on a "hit" event (ignored): Error: down',
      'hono-edge-session: options.onEvent threw on a "hit" event (ignored): Error: async down',
    ]);
    // A logger that throws as well: still nothing reaches the request.
    const broken = {
      warn: () => {},
      error: () => {
        throw new Error("log sink down");
      },
    };
    const quiet = parseConfig(base, {
      logger: broken,
      onEvent: () => {
        throw new Error("down");
      },
    });
    expect(() => quiet.onEvent({ type: "hit" })).not.toThrow();
  });
});

describe("review: configuration, secrets and rotation", () => {
  const bindings = { EXT_SESSION_MGT: ext(), ...creds };

  it("never shows a Redis token given in code when the configuration or the factory is serialised", () => {
    const token = "code-token-that-must-not-print";
    const factory = redisStore({ url: "https://redis.example", token });
    const config = parseWith(bindings, { redis: factory });
    expect(redisOf(config)?.token.reveal()).toBe(token);
    expect(JSON.stringify(config)).not.toContain(token);
    expect(JSON.stringify(factory)).not.toContain(token);
    expect(JSON.stringify({ ...factory.credentials })).not.toContain(token);
    expect(Object.values(factory.credentials ?? {}).join()).not.toContain(token);
  });

  it.each([
    // Node fires a setTimeout (and AbortSignal.timeout) longer than 2^31 - 1 ms after 1 ms: every store call fails.
    [{ storeTimeoutMs: 2 ** 31 }, "options.storeTimeoutMs", /at most 2147483647/],
    // Markers are kept twice the idle timeout: the Durable Object store's alarms take no date after 2189.
    [{ idleTimeoutMs: 1e14 }, "options.idleTimeoutMs", /at most 315360000000/],
    // Redis refuses an expiry this long ("ERR value is not an integer or out of range") on every write.
    [{ idleTimeoutMs: 1e20 }, "options.idleTimeoutMs", /at most/],
  ])("refuses the out-of-range %j at load, naming %s", (options, property, rule) => {
    const error = configError(bindings, options as SessionOptions);
    expect(error.property).toBe(property);
    expect(error.message).toMatch(rule);
  });

  it("refuses a SESSION_TIMEOUT no store can keep, and keeps long but sane ones", () => {
    const error = configError({ ...bindings, SESSION_TIMEOUT: "99999999" });
    expect(error.property).toBe("SESSION_TIMEOUT");
    expect(error.message).toMatch(/positive number of minutes, at most 5256000/);
    expect(parseConfig({ ...bindings, SESSION_TIMEOUT: String(365 * 24 * 60) }).idleTimeoutMs).toBe(
      365 * 24 * 3_600_000,
    );
    expect(parseConfig(bindings, { storeTimeoutMs: 2 ** 31 - 1 }).storeTimeoutMs).toBe(2 ** 31 - 1);
  });

  // A Domain the request's host cannot domain-match makes the browser drop the cookie: every request a new session.
  it.each(["a..b", "example.com.", "-", ".", "-example.com", "example-.com", `${"a".repeat(64)}.com`])(
    "refuses the cookie domain %j",
    (domain) => {
      expect(configError(bindings, { cookie: { domain } }).property).toBe("options.cookie.domain");
    },
  );

  it.each(["example.com", ".example.com", "app.example.co.uk", "localhost", "127.0.0.1", "xn--bcher-kva.example"])(
    "takes the cookie domain %j",
    (domain) => {
      expect(parseConfig(bindings, { cookie: { domain } }).cookie.domain).toBe(domain);
    },
  );

  it.each([
    // A typo that drops every session of the old secret at the rotation: refused by name, as EXT_SESSION_MGT's are.
    [{ previousSecret: ["p".repeat(64)] }, "options.previousSecret"],
    [{ idleTimeout: 60_000 }, "options.idleTimeout"],
    // A SameSite the app asked for that would silently stay Lax, and a lifetime that is not one.
    [{ cookie: { samesite: "Strict" } }, "options.cookie.samesite"],
    [{ cookie: { maxAge: 3600 } }, "options.cookie.maxAge"],
    [{ cookie: "secure" }, "options.cookie"],
  ])("refuses %j by name", (options, property) => {
    const error = configError(bindings, options as SessionOptions);
    expect(error.property).toBe(property);
    expect(error.message).toMatch(/not a known property|must be an object/);
  });

  it("refuses a previous secret listed twice, naming both places and neither secret", () => {
    const old = "p".repeat(64);
    const error = configError(bindings, { previousSecrets: [old, "q".repeat(64), old] });
    expect(error.property).toBe("options.previousSecrets[2]");
    expect(error.message).toMatch(/already listed at \[0\]/);
    expect(error.message).not.toContain(old);
    const binding = configError({ ...bindings, SESSION_PREVIOUS_SECRETS: JSON.stringify([old, old]) });
    expect(binding.property).toBe("SESSION_PREVIOUS_SECRETS[1]");
  });
});
