import type { TestProject } from "vitest/node";
import { startGateway } from "../../tools/redis-rest/gateway.js";
import { startRedisServer } from "../../tools/redis-rest/redis-server.js";

/** One redis-server and gateway for the workerd tests; each test isolates itself with its own instanceName. */
export default async function setup(project: TestProject) {
  const redis = await startRedisServer();
  const gateway = await startGateway({ redisPort: redis.port, token: "test-token", recordCommands: true });
  project.provide("redisRest", { url: gateway.url, token: gateway.token });
  return async () => {
    await gateway.stop();
    await redis.stop();
  };
}
