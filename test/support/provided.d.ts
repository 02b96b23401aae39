import "vitest";

declare module "vitest" {
  export interface ProvidedContext {
    /** The Upstash-protocol gateway in front of the test redis-server (see global-redis.ts). */
    redisRest: { url: string; token: string };
  }
}
