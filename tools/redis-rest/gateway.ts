import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Redis from "ioredis";

/**
 * A local stand-in for Upstash's Redis REST API over a real redis-server, faithful to what the
 * `@upstash/redis` client relies on:
 * - `POST /` (one command as a JSON array), `POST /pipeline` and `POST /multi-exec` (arrays of commands),
 *   and the path form `/<command>/<arg>/…` (a POST body becomes the last argument);
 * - `Authorization: Bearer <token>` (or `?_token=`), else 401 `{"error":"Unauthorized"}`;
 * - replies `{"result":…}` / `{"error":…}`; a failed single command is HTTP 400, a pipeline answers 200 with
 *   one object per command; an aborted transaction is 400;
 * - with `Upstash-Encoding: base64`, every string in a reply is base64 except the status reply `OK`;
 * - a fresh `upstash-sync-token` header on every reply.
 * Redis being down answers 502 with an error body, as a gateway whose backend is gone does.
 *
 * With `recordCommands`, `GET /__gateway/commands` lists the commands run so far (`?prefix=` keeps those with
 * an argument starting with it) so tests can count store calls where they really happen.
 */
export interface Gateway {
  readonly url: string;
  readonly token: string;
  stop(): Promise<void>;
}

export interface GatewayOptions {
  redisPort: number;
  redisHost?: string;
  token: string;
  port?: number;
  host?: string;
  recordCommands?: boolean;
}

export interface RecordedCommand {
  command: string;
  args: string[];
  /** Which HTTP request carried it: commands of one pipeline share it. */
  request: number;
  /** The error Redis answered, if it did (e.g. NOSCRIPT before the client falls back from EVALSHA to EVAL). */
  error?: string;
}

type Reply = string | number | null | Reply[];
type Command = Array<string | number | boolean>;

const MAX_BODY_BYTES = 10 * 1024 * 1024;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const redis = new Redis({
    port: options.redisPort,
    host: options.redisHost ?? "127.0.0.1",
    // Fail fast while redis is down (like a real gateway), and reconnect quickly when it is back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 100,
  });
  redis.on("error", () => {});
  if (redis.status !== "ready") await once(redis, "ready");
  const recorded: RecordedCommand[] = [];
  let requests = 0;
  let syncToken = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { error: `ERR gateway: ${String(error)}` }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gateway");
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice(7) : url.searchParams.get("_token");
    if (token !== options.token) return send(res, 401, { error: "Unauthorized" });
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const body = await readBody(req);
    const requestNumber = ++requests;
    const record = (commands: Command[]): RecordedCommand[] => {
      const entries = commands.map(([name, ...args]) => ({
        command: String(name).toUpperCase(),
        args: args.map(String),
        request: requestNumber,
      }));
      if (options.recordCommands) recorded.push(...entries);
      return entries;
    };

    if (url.pathname === "/__gateway/commands" && options.recordCommands) {
      const prefix = url.searchParams.get("prefix") ?? "";
      return send(res, 200, {
        result: recorded.filter((c) => prefix === "" || c.args.some((a) => a.startsWith(prefix))),
      });
    }

    if (req.method === "POST" && (url.pathname === "/pipeline" || url.pathname === "/multi-exec")) {
      const commands = parseCommands(body, true);
      if (commands === undefined) return send(res, 400, { error: "ERR failed to parse pipeline request" });
      const entries = record(commands);
      if (redis.status !== "ready") return send(res, 502, { error: "ERR redis is unavailable" });
      const batch = url.pathname === "/pipeline" ? redis.pipeline() : redis.multi();
      for (const [name, ...args] of commands) batch.callBuffer(String(name), ...args.map(String));
      let results: Array<[Error | null, unknown]> | null;
      try {
        results = await batch.exec();
      } catch (error) {
        return send(res, 400, { error: errorText(error) });
      }
      if (results === null) return send(res, 400, { error: "ERR transaction aborted" });
      results.forEach(([error], i) => {
        if (error) entries[i]!.error = errorText(error);
      });
      return send(
        res,
        200,
        results.map(([error, value]) => (error ? { error: errorText(error) } : { result: toReply(value, base64) })),
      );
    }

    let command: Command | undefined;
    if (url.pathname === "/") {
      command = req.method === "POST" ? parseCommands(body, false)?.[0] : undefined;
    } else {
      command = url.pathname.split("/").slice(1).map(decodeURIComponent);
      if (req.method === "POST" && body.length > 0) command.push(body.toString("utf8"));
    }
    if (command === undefined || command.length === 0) return send(res, 400, { error: "ERR failed to parse command" });
    const [entry] = record([command]);
    if (redis.status !== "ready") return send(res, 502, { error: "ERR redis is unavailable" });
    try {
      const [name, ...args] = command;
      const value = await redis.callBuffer(String(name), ...args.map(String));
      return send(res, 200, { result: toReply(value, base64) });
    } catch (error) {
      entry!.error = errorText(error);
      return send(res, 400, { error: errorText(error) });
    }
  }

  function send(res: ServerResponse, status: number, payload: unknown): void {
    res.writeHead(status, {
      "Content-Type": "application/json",
      "upstash-sync-token": String(++syncToken),
    });
    res.end(JSON.stringify(payload));
  }

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? "127.0.0.1"}:${port}`,
    token: options.token,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
    },
  };
}

function parseCommands(body: Buffer, many: boolean): Command[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  const isCommand = (value: unknown): value is Command =>
    Array.isArray(value) && value.length > 0 && value.every((a) => ["string", "number", "boolean"].includes(typeof a));
  if (many) return Array.isArray(parsed) && parsed.length > 0 && parsed.every(isCommand) ? parsed : undefined;
  return isCommand(parsed) ? [parsed] : undefined;
}

/**
 * ioredis (callBuffer) gives Buffers for strings, numbers for integers, arrays, and null. With base64 on,
 * every string becomes base64 of its raw bytes, except the status reply `OK`, as the client expects.
 */
function toReply(value: unknown, base64: boolean): Reply {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value;
  if (Array.isArray(value)) return value.map((item) => toReply(item, base64));
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
  if (bytes.length === 2 && bytes.toString() === "OK") return "OK";
  return base64 ? bytes.toString("base64") : bytes.toString("utf8");
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
