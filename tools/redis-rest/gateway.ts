import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { leavesConnectionDirty, runPipeline, runSingle, runTransaction, type RunResult } from "./command-runner.js";
import { ConnectionPool } from "./connection-pool.js";
import { GatewayControls, type FaultSpec, type PendingFault } from "./controls.js";
import { streamEvents } from "./event-stream.js";
import { RedisUnavailableError, type RedisTarget } from "./redis-connection.js";
import { toJson } from "./reply-encoding.js";
import { BodyTooLargeError, parseRequest, readBody, type Command, type ParsedRequest } from "./request-parsing.js";

export type { CommandCounts, FaultSpec, PendingFault, RecordedCommand } from "./controls.js";

/**
 * A local stand-in for Upstash's Redis REST API over a real redis-server, for tests and for developing apps
 * with the real `@upstash/redis` client. Faithful to https://upstash.com/docs/redis/features/restapi and to
 * what the client (1.39) reads:
 * - `POST /` (one command as a JSON array), `POST /pipeline` and `POST /multi-exec` (arrays of commands),
 *   the path form `/<command>/<arg>/…` (a body becomes the next argument, query parameters follow);
 * - `Authorization: Bearer <token>` or `?_token=`, else 401 `{"error":"Unauthorized"}`;
 * - `{"result":…}` / `{"error":…}`; a failed single command is HTTP 400; a pipeline or transaction answers
 *   200 with one such object per command, and 400 with a single error when a transaction is discarded;
 * - raw replies, encoded as Upstash does (`reply-encoding.ts`): base64 strings with `Upstash-Encoding:
 *   base64` except a command's own `OK`, HGETALL as the flat array Redis sent, errors inside arrays kept as
 *   `{"error"}` objects, integers exact;
 * - `/subscribe/<channel>`, `/psubscribe/<pattern>` and `/monitor` as Server-Sent Events (`event-stream.ts`);
 *   as plain commands, SUBSCRIBE, MONITOR and the like (which answer more or less than once) are refused;
 * - RESP2 only, as Upstash: `HELLO 3` is refused with 400 (`command-runner.ts`);
 * - a fresh `upstash-sync-token` header on every reply; 405 for methods other than GET, HEAD, POST, PUT.
 * Each HTTP request runs on a Redis connection of its own (`connection-pool.ts`): SELECT, WATCH, MULTI or
 * CLIENT SETNAME never reach another request, a blocking command blocks only its own request, and a
 * `/multi-exec` is one MULTI/EXEC on one connection. Redis being down answers 502 with an error body, as a
 * gateway whose backend is gone does, and the next request after it is back succeeds.
 *
 * Not faithful, or not known to be: Upstash's REST API refuses commands this gateway runs because
 * redis-server runs them (blocking commands, WATCH/UNWATCH/DISCARD, SELECT, the CONNECTION group but PING
 * and ECHO, per its compatibility table). What Upstash sends for an error nested in an array, and whether
 * its events end with a blank line, is not documented: the choices here (`{"error"}` objects, standard
 * Server-Sent Events) are ones the client reads correctly. In base64 mode a top-level bulk string "OK" (GET
 * of a value "OK") is sent as "OK", like a status OK, not as "T0s=": redis-parser does not tell the two
 * apart, and the client reads "OK" either way. Error texts for what the gateway rejects itself
 * (a malformed body, a refused command, a discarded transaction's cause) are its own. It has no read-only
 * or ACL tokens, `Upstash-Response-Format: resp2`, request-size or rate limits, CORS headers, and no
 * Upstash-only commands beyond what the redis-server in use supports.
 *
 * For tests and local development it adds, under `/__gateway/` (`controls.ts`): a simulated distance to the
 * store (`delayMs`: half of it before the command reaches Redis, half before the answer leaves, as a real
 * round trip), drop-after-apply faults, and, with `recordCommands`, the log of commands run so far.
 */
export interface Gateway {
  readonly url: string;
  readonly token: string;
  /** The simulated distance to the store, per HTTP call (ms). */
  readonly delayMs: number;
  setDelay(ms: number): void;
  /** Makes the next `times` requests carrying one of these commands run them and then lose their response. */
  injectFault(fault: FaultSpec): void;
  clearFaults(): void;
  pendingFaults(): PendingFault[];
  stop(): Promise<void>;
}

export interface GatewayOptions {
  redisPort: number;
  redisHost?: string;
  /** For a redis-server that requires AUTH. */
  redisPassword?: string;
  redisUsername?: string;
  token: string;
  port?: number;
  host?: string;
  recordCommands?: boolean;
  /** Simulated distance to the store per HTTP call, e.g. 20–80 ms for a store in another region. */
  delayMs?: number;
}

const MAX_BODY_BYTES = 10 * 1024 * 1024;
const METHODS = new Set(["GET", "HEAD", "POST", "PUT"]);

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const target: RedisTarget = {
    host: options.redisHost ?? "127.0.0.1",
    port: options.redisPort,
    ...(options.redisPassword !== undefined ? { password: options.redisPassword } : {}),
    ...(options.redisUsername !== undefined ? { username: options.redisUsername } : {}),
  };
  const pool = new ConnectionPool(target);
  const controls = new GatewayControls(options.delayMs ?? 0, options.recordCommands ?? false);
  let requests = 0;
  let syncToken = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, { error: `ERR gateway: ${String(error)}` });
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gateway");
    const method = (req.method ?? "GET").toUpperCase();
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (error) {
      if (error instanceof BodyTooLargeError) return send(res, 413, { error: `ERR ${error.message}` });
      throw error;
    }
    const authorized = bearerToken(req, url) === options.token;

    if (url.pathname.startsWith("/__gateway/")) {
      if (!authorized) return send(res, 401, { error: "Unauthorized" });
      return send(res, ...controls.handle(method, url.pathname.slice("/__gateway/".length), url.searchParams, body));
    }

    // The simulated distance: the request reaches Redis after half of it, the answer the client after the rest.
    const outbound = Math.floor(controls.delayMs / 2);
    const inbound = controls.delayMs - outbound;
    await sleep(outbound);
    const answer = async (status: number, payload: unknown) => {
      await sleep(inbound);
      send(res, status, payload);
    };

    if (!authorized) return answer(401, { error: "Unauthorized" });
    if (!METHODS.has(method)) return answer(405, { error: "Method Not Allowed" });
    const request = parseRequest(url, body);
    if (request.kind === "invalid") return answer(400, { error: request.error });
    const requestNumber = ++requests;

    if (request.kind === "stream") {
      controls.record(requestNumber, [[request.stream.toUpperCase(), ...request.names]]);
      if (request.stream !== "monitor" && request.names.length === 0) {
        return answer(400, { error: `ERR wrong number of arguments for '${request.stream}' command` });
      }
      try {
        await streamEvents({
          kind: request.stream,
          names: request.names,
          target,
          res,
          headers: { "upstash-sync-token": String(++syncToken) },
          returnDelayMs: inbound,
        });
      } catch (error) {
        if (error instanceof RedisUnavailableError) return answer(502, { error: `ERR ${error.message}` });
        throw error;
      }
      return;
    }

    const entries = controls.record(requestNumber, request.commands);
    const holdMs = controls.claimFault(request.commands);
    const result = await run(request, res, base64Requested(req));
    result.errors.forEach((error, i) => {
      if (error !== undefined) entries[i]!.error = error;
    });
    if (holdMs === undefined) return answer(result.status, result.body);
    // Drop-after-apply: the commands ran; the response is lost on its way back.
    await sleep(inbound + holdMs);
    res.socket?.destroy();
  }

  /** Runs the request's commands on a connection of its own; 502 when Redis cannot be reached or drops it. */
  async function run(
    request: Extract<ParsedRequest, { commands: Command[] }>,
    res: ServerResponse,
    base64: boolean,
  ): Promise<RunResult> {
    const unavailable = (error: RedisUnavailableError): RunResult => ({
      status: 502,
      body: { error: `ERR ${error.message}` },
      errors: [],
    });
    let connection;
    try {
      connection = await pool.acquire();
    } catch (error) {
      if (error instanceof RedisUnavailableError) return unavailable(error);
      throw error;
    }
    // A client that gives up (or times out) mid-command frees its connection: a blocked BLPOP ends with it.
    const abandon = () => {
      if (!res.writableFinished) connection.destroy();
    };
    if (clientGone(res)) abandon();
    res.once("close", abandon);
    let reusable = false;
    try {
      const { commands } = request;
      const result =
        request.kind === "pipeline"
          ? await runPipeline(connection, commands, base64)
          : request.kind === "transaction"
            ? await runTransaction(connection, commands, base64)
            : await runSingle(connection, commands[0]!, base64);
      reusable = !leavesConnectionDirty(commands);
      return result;
    } catch (error) {
      if (error instanceof RedisUnavailableError) return unavailable(error);
      throw error;
    } finally {
      res.off("close", abandon);
      pool.release(connection, reusable);
    }
  }

  function send(res: ServerResponse, status: number, payload: unknown): void {
    if (res.destroyed || res.headersSent) return;
    res.writeHead(status, {
      "Content-Type": "application/json",
      "upstash-sync-token": String(++syncToken),
    });
    res.end(toJson(payload));
  }

  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    token: options.token,
    get delayMs() {
      return controls.delayMs;
    },
    setDelay: (ms) => controls.setDelay(ms),
    injectFault: (fault) => controls.injectFault(fault),
    clearFaults: () => controls.clearFaults(),
    pendingFaults: () => controls.pendingFaults(),
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      pool.close();
    },
  };
}

/** The HTTP client closed its connection (possibly before a listener for "close" was in place). */
function clientGone(res: ServerResponse): boolean {
  return res.destroyed || res.socket === null || res.socket.destroyed;
}

function bearerToken(req: IncomingMessage, url: URL): string | null {
  const auth = req.headers.authorization;
  return auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : url.searchParams.get("_token");
}

function base64Requested(req: IncomingMessage): boolean {
  return String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
