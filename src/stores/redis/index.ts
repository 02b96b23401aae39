/**
 * Redis over Upstash's REST protocol: `hono-edge-session/redis`. Its own entry point, so that only apps
 * whose sessions go to Redis ship the Redis client.
 *
 * @example
 * ```ts
 * import { session } from "hono-edge-session";
 * import { redisStore } from "hono-edge-session/redis";
 * // EXT_SESSION_MGT {"instanceName":"approuter-redis","storageType":"redis",...} and the
 * // APPROUTER_REDIS_REST_URL / _TOKEN (or UPSTASH_REDIS_REST_URL / _TOKEN) bindings
 * app.use(session({ redis: redisStore() }));
 * ```
 *
 * @module
 */
import { Secret } from "../../config/secret.js";
import type { RedisStoreFactory } from "../types.js";
import { RedisStore } from "./redis-store.js";

export { RedisStore, type RedisStoreOptions } from "./redis-store.js";
export { RedisStoreError } from "../../errors.js";

/**
 * The Redis store for `session({ redis })`. Without arguments it finds its REST URL and token in the
 * bindings named after `instanceName` (`APPROUTER_REDIS_REST_URL` / `_TOKEN` for `approuter-redis`),
 * else in `UPSTASH_REDIS_REST_URL` / `_TOKEN`.
 */
export function redisStore(credentials?: { url: string; token: string }): RedisStoreFactory {
  return {
    ...(credentials !== undefined ? { credentials: held(credentials) } : {}),
    create: ({ namespace, url, token, tokenName, timeoutMs }) =>
      new RedisStore({ url, token, tokenName, namespace, timeoutMs }),
  };
}

/**
 * The credentials with the token out of sight: a getter that is not enumerable, so logging, JSON-encoding
 * or spreading the factory (or the options that hold it) never shows the token.
 */
function held({ url, token }: { url: string; token: string }): { url: string; token: string } {
  const secret = new Secret(token);
  return Object.defineProperty({ url } as { url: string; token: string }, "token", {
    get: () => secret.reveal(),
    enumerable: false,
  });
}
