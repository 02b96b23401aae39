import type { IncomingMessage } from "node:http";
import type { CommandArg } from "./resp.js";

/** A Redis command as it arrived: its name first. */
export type Command = CommandArg[];

/** What an HTTP request asks for, in the forms Upstash's REST API accepts. */
export type ParsedRequest =
  | { kind: "single" | "pipeline" | "transaction"; commands: Command[] }
  | { kind: "stream"; stream: StreamKind; names: string[] }
  | { kind: "invalid"; error: string };

export type StreamKind = "subscribe" | "psubscribe" | "monitor";

const STREAMS: ReadonlySet<string> = new Set<StreamKind>(["subscribe", "psubscribe", "monitor"]);

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) throw new BodyTooLargeError(`request body larger than ${maxBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * - `POST /` with `["SET","k","v"]`; `POST /pipeline` and `POST /multi-exec` with an array of those;
 * - `/subscribe/<channel>…`, `/psubscribe/<pattern>…`, `/monitor`: event streams (any body, such as the
 *   client's `[]`, is ignored);
 * - otherwise the path form `/<command>/<arg>/…`, where a non-empty body becomes the next argument, byte for
 *   byte (how binary values are sent), and query parameters other than `_token` follow it as name and value
 *   (`POST /set/k?EX=100` with a body is `SET k <body> EX 100`, as Upstash documents).
 */
export function parseRequest(url: URL, body: Buffer): ParsedRequest {
  if (url.pathname === "/") {
    const command = parseJson(body, isCommand);
    return command === undefined ? invalid("ERR failed to parse command") : { kind: "single", commands: [command] };
  }
  if (url.pathname === "/pipeline" || url.pathname === "/multi-exec") {
    const commands = parseJson(body, (v): v is Command[] => Array.isArray(v) && v.length > 0 && v.every(isCommand));
    if (commands === undefined) return invalid(`ERR failed to parse ${url.pathname.slice(1)} request`);
    return { kind: url.pathname === "/pipeline" ? "pipeline" : "transaction", commands };
  }
  let segments: string[];
  try {
    segments = url.pathname.slice(1).split("/").map(decodeURIComponent);
  } catch {
    return invalid("ERR failed to parse command path");
  }
  const name = segments[0]!.toLowerCase();
  if (STREAMS.has(name)) return { kind: "stream", stream: name as StreamKind, names: segments.slice(1) };
  const command: Command = segments;
  if (body.length > 0) command.push(body);
  for (const [key, value] of url.searchParams) {
    if (key === "_token") continue;
    command.push(key);
    if (value !== "") command.push(value);
  }
  return { kind: "single", commands: [command] };
}

export function commandName(command: Command): string {
  return String(command[0]).toUpperCase();
}

function invalid(error: string): ParsedRequest {
  return { kind: "invalid", error };
}

/** JSON arguments may be strings, numbers or booleans (the client sends numbers as numbers); Redis gets text. */
function isCommand(value: unknown): value is Command {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((arg) => typeof arg === "string" || typeof arg === "number" || typeof arg === "boolean")
  );
}

function parseJson<T>(body: Buffer, check: (value: unknown) => value is T): T | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
  if (!check(parsed)) return undefined;
  return stringifyArgs(parsed);
}

function stringifyArgs<T>(value: T): T {
  if (!Array.isArray(value)) return value;
  return value.map((item: unknown) =>
    Array.isArray(item) ? stringifyArgs(item) : typeof item === "string" ? item : String(item),
  ) as T;
}
