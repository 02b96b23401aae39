/**
 * `npm run dev:redis`: a private redis-server and the Upstash-protocol REST gateway in front of it, for
 * running the reference worker against Redis on this machine. Stops with Ctrl-C.
 */
import { startGateway } from "./gateway.js";
import { startRedisServer } from "./redis-server.js";

const port = Number(process.env.GATEWAY_PORT ?? 8079);
const token = process.env.GATEWAY_TOKEN ?? "local-dev-token";

const redis = await startRedisServer();
const gateway = await startGateway({ redisPort: redis.port, token, port });
console.log(`redis-server on 127.0.0.1:${redis.port}; Upstash REST gateway on ${gateway.url}`);
console.log("Point the reference worker at it (e.g. in .dev.vars):");
console.log(`  UPSTASH_REDIS_REST_URL=${gateway.url}`);
console.log(`  UPSTASH_REDIS_REST_TOKEN=${token}`);

const shutdown = async () => {
  await gateway.stop();
  await redis.stop();
  process.exit(0);
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
