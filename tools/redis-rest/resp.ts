/**
 * The Redis wire protocol as the gateway uses it: commands go out as RESP arrays of bulk strings (encoded
 * here: it is a few lines); replies come back through `redis-parser`, raw, with no client library in
 * between. The REST API must answer with the reply Redis sent: a client's reply transformers (HGETALL into
 * an object) or its raising of errors nested in arrays would change what Upstash sends.
 *
 * Only RESP2 is spoken (redis-parser knows no RESP3 types, and Upstash's REST API offers none): the command
 * that would switch a connection to RESP3, `HELLO 3`, is refused before it reaches Redis (`command-runner.ts`).
 */
import RedisParser from "redis-parser";

/**
 * A reply as `replyParser()` gives it:
 * - bulk strings and status replies ("simple strings" such as `+OK`): a Buffer of their bytes, since values
 *   may be binary. redis-parser's `returnBuffers` makes both Buffers, so the two cannot be told apart;
 * - integers: their decimal digits as a string (`stringNumbers`), exact beyond 2^53;
 * - error replies: an `Error` (redis-parser's `ReplyError`), at the top or inside an array, where it is a
 *   value like any other (EXEC, EVAL), not a failure of the command;
 * - nil: null; arrays: arrays of replies.
 */
export type RespReply = Buffer | RespInteger | Error | null | RespReply[];

/** An integer reply, as the digits Redis sent. */
export type RespInteger = string;

export type CommandArg = string | Buffer;

const CRLF = Buffer.from("\r\n");

/** One command as a RESP array of bulk strings: binary-safe, whatever the arguments hold. */
export function encodeCommand(args: readonly CommandArg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg, "utf8") : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, CRLF);
  }
  return Buffer.concat(parts);
}

/**
 * A parser for one connection: feed it socket chunks (`execute`), it calls `onReply` once per complete
 * top-level reply, error replies included (they answer their command like any reply). `onFatal` gets what
 * is not RESP2, after which the connection cannot be trusted.
 */
export function replyParser(onReply: (reply: RespReply) => void, onFatal: (error: Error) => void): RedisParser {
  return new RedisParser({
    returnBuffers: true,
    stringNumbers: true,
    returnReply: (reply: RespReply) => onReply(reply),
    returnError: (error) => onReply(error),
    returnFatalError: onFatal,
  });
}

/** Whether a reply is the string `text` (a status reply such as PONG or RESET, or a bulk string alike). */
export function isReplyText(reply: RespReply, text: string): boolean {
  return Buffer.isBuffer(reply) && reply.equals(Buffer.from(text, "utf8"));
}

/** An integer reply as a JSON-ready number: a bigint when a number would lose digits. */
export function integerValue(reply: RespInteger): number | bigint {
  const value = Number(reply);
  return Number.isSafeInteger(value) ? value : BigInt(reply);
}
