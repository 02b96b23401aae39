#!/usr/bin/env node
/**
 * `hono-edge-session-redis-rest`, the package's bin (built to dist/tools/redis-rest/cli.js; `npm run
 * dev:redis` runs this source): Upstash's Redis REST API on this machine, over a private redis-server it
 * starts (or one already running), for developing and testing apps that use `@upstash/redis`. Stops cleanly,
 * with its redis-server, on Ctrl-C. Needs Node only: the build (tools/build-gateway.mjs) bundles redis-parser
 * into it, so the apps that install the package never install redis-parser.
 */
import { parseArgs } from "node:util";
import { startGateway, type Gateway } from "./gateway.js";
import { startRedisServer, type RedisServer } from "./redis-server.js";

const NAME = "hono-edge-session-redis-rest";
const HELP = `Usage: ${NAME} [options]

A local stand-in for Upstash's Redis REST API, for the real @upstash/redis client. Starts a private
redis-server (no persistence) on a free port, or uses the one given by --redis-port, and serves the
REST API in front of it.

Options:
  --port <n>              gateway port (default 8079, or $GATEWAY_PORT)
  --host <address>        gateway listen address (default 127.0.0.1)
  --token <token>         the REST token clients must send (default local-dev-token, or $GATEWAY_TOKEN)
  --delay-ms <ms>         simulated distance to the store, per HTTP call (default 0); half is spent
                          before the command reaches Redis, half before the answer leaves. 20-80 ms is
                          a store in another region. Change it at run time with
                          POST /__gateway/delay {"ms": 40}
  --redis-port <n>        use the redis-server already listening on this port; none is started
  --redis-host <host>     its host (default 127.0.0.1)
  --redis-password <pw>   its password, if it requires AUTH
  --redis-server <path>   redis-server binary for the private server (default: redis-server on PATH,
                          or $REDIS_SERVER)
  --record                record the commands run, for GET /__gateway/commands?prefix=
  -h, --help              this text

Run-time controls (authenticated with the token, like every request):
  GET|POST /__gateway/delay          {"ms": 40}
  GET|POST|DELETE /__gateway/faults  {"command": "EVALSHA", "times": 1, "holdMs": 0}: the next request
                                     carrying EVALSHA runs it, then its connection hangs holdMs and is
                                     dropped without an answer
  GET /__gateway/commands?prefix=    the recorded commands (with --record)
`;

function fail(message: string): never {
  console.error(`${NAME}: ${message}\nRun ${NAME} --help for the options.`);
  process.exit(2);
}

function integer(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) fail(`--${name} must be an integer >= ${min}, not "${text}"`);
  return value;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      token: { type: "string" },
      "delay-ms": { type: "string" },
      "redis-port": { type: "string" },
      "redis-host": { type: "string" },
      "redis-password": { type: "string" },
      "redis-server": { type: "string" },
      record: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const port = integer("port", values.port ?? process.env.GATEWAY_PORT, 8079, 0);
const token = values.token ?? process.env.GATEWAY_TOKEN ?? "local-dev-token";
if (token === "") fail("--token must not be empty");
const delayMs = integer("delay-ms", values["delay-ms"], 0, 0);
const existingRedisPort =
  values["redis-port"] === undefined ? undefined : integer("redis-port", values["redis-port"], 0, 1);

let redis: RedisServer | undefined;
let gateway: Gateway | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (stopping) process.exit(code); // a second Ctrl-C does not wait
  stopping = true;
  await gateway?.stop();
  await redis?.stop();
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  if (existingRedisPort === undefined) {
    redis = await startRedisServer(values["redis-server"] === undefined ? {} : { binary: values["redis-server"] });
  }
  const redisPort = existingRedisPort ?? redis!.port;
  gateway = await startGateway({
    redisPort,
    ...(values["redis-host"] !== undefined ? { redisHost: values["redis-host"] } : {}),
    ...(values["redis-password"] !== undefined ? { redisPassword: values["redis-password"] } : {}),
    token,
    port,
    ...(values.host !== undefined ? { host: values.host } : {}),
    recordCommands: values.record ?? false,
    delayMs,
  });
  const redisAt = `${values["redis-host"] ?? "127.0.0.1"}:${redisPort}`;
  console.log(`${redis ? "private redis-server" : "redis-server"} on ${redisAt}; Upstash REST API on ${gateway.url}`);
  console.log(`  URL:   ${gateway.url}`);
  console.log(`  token: ${token}`);
  if (delayMs > 0) console.log(`  simulated distance: ${delayMs} ms per call`);
  console.log("Point your worker at it, e.g. in .dev.vars:");
  console.log(`  UPSTASH_REDIS_REST_URL=${gateway.url}`);
  console.log(`  UPSTASH_REDIS_REST_TOKEN=${token}`);
  console.log("Ctrl-C stops it.");
} catch (error) {
  console.error(`${NAME}: ${error instanceof Error ? error.message : String(error)}`);
  await shutdown(1);
}
