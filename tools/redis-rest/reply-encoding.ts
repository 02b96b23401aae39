import { integerValue, isReplyText, type RespReply } from "./resp.js";

/**
 * How Upstash writes a Redis reply as JSON (https://upstash.com/docs/redis/features/restapi, "Response" and
 * "Base64 Encoded Responses"), and what `@upstash/redis` (1.39, `decode()` in its http module) reads back:
 *
 * - a command's reply is `{"result": …}`, or `{"error": "<message>"}` when Redis answered an error;
 * - integers are JSON numbers, nil is `null`, arrays are arrays;
 * - with `Upstash-Encoding: base64` every string is base64 of its raw bytes, except the status reply `OK`
 *   of the command itself. The client mirrors this exactly: it keeps a top-level "OK" as it is but
 *   base64-decodes every string inside an array, so an `OK` inside an array (EXEC, EVAL, a Lua table) must be
 *   encoded ("T0s="); sent as "OK" it would decode as base64 to "8". redis-parser gives status replies and
 *   bulk strings alike as bytes, so a top-level bulk string "OK" (GET of a value "OK") is left plain too:
 *   the client reads "OK" either way, since it never base64-decodes a top-level "OK";
 * - without the header, strings are UTF-8 text (invalid bytes become U+FFFD, as Upstash documents).
 *
 * An error inside an array (an EXEC or EVAL reply that holds one) becomes `{"error": "<message>"}` in place,
 * the shape Upstash gives every error; a bare string would be indistinguishable from data. Upstash does not
 * document this case; the client passes such an object through untouched at the first level of an array.
 */
export type JsonReply = string | number | bigint | null | JsonReply[] | { error: string };
export type CommandOutcome = { result: JsonReply } | { error: string };

export function commandOutcome(reply: RespReply, base64: boolean): CommandOutcome {
  if (reply instanceof Error) return { error: reply.message };
  if (isReplyText(reply, "OK")) return { result: "OK" };
  return { result: nested(reply, base64) };
}

function nested(reply: RespReply, base64: boolean): JsonReply {
  if (reply === null) return null;
  if (typeof reply === "string") return integerValue(reply);
  if (Array.isArray(reply)) return reply.map((item) => nested(item, base64));
  if (reply instanceof Error) return { error: reply.message };
  return base64 ? reply.toString("base64") : reply.toString("utf8");
}

/** JSON.stringify, except that integers beyond 2^53 are written with all their digits, as Redis sent them. */
export function toJson(value: unknown): string {
  if (typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const fields = Object.entries(value).filter(([, v]) => v !== undefined);
    return `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${toJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
