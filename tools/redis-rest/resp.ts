/**
 * The Redis wire protocol (RESP2, and RESP3 for a connection a user switched with `HELLO 3`): commands out,
 * replies in, exactly as the server sent them. No client library sits in between, because the REST API must
 * answer with the raw reply: a client's reply transformers (HGETALL into an object), its folding of status
 * and bulk strings into one type, or its raising of errors nested in arrays would all change what Upstash
 * sends.
 */

/** A status ("simple string") reply such as `+OK`: Upstash leaves a top-level `OK` unencoded in base64 mode. */
export class RespStatus {
  constructor(readonly text: string) {}
}

/** An error reply; inside an array it is a value like any other (EXEC, EVAL), not a failure of the command. */
export class RespError {
  constructor(readonly message: string) {}
}

/** Bulk strings stay bytes (values may be binary); integers beyond 2^53 stay exact as bigint. */
export type RespReply = RespStatus | RespError | Buffer | number | bigint | null | RespReply[];

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

export class RespProtocolError extends Error {}

interface Aggregate {
  remaining: number;
  items: RespReply[];
  /** RESP3 attributes are metadata about the next reply: parsed, then dropped. */
  kind: "array" | "push" | "attribute";
}

/**
 * An incremental parser: feed it socket chunks, it calls `onReply` once per complete top-level reply, with
 * `push` true for RESP3 out-of-band pushes (they never answer a command). Aggregates are built on a stack, so
 * a large reply arriving in many chunks is parsed once, and a large bulk string is copied once.
 */
export class RespParser {
  private buffer = Buffer.alloc(0);
  private offset = 0;
  /** Chunks held back while a bulk string's bytes are still arriving. */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  private bulk: { length: number; type: number } | undefined;
  private readonly stack: Aggregate[] = [];

  constructor(private readonly onReply: (reply: RespReply, push: boolean) => void) {}

  feed(chunk: Buffer): void {
    const unread = this.buffer.length - this.offset;
    if (this.bulk !== undefined && unread + this.waitingBytes + chunk.length < this.bulk.length + 2) {
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      return;
    }
    this.buffer = Buffer.concat([this.buffer.subarray(this.offset), ...this.waiting, chunk]);
    this.offset = 0;
    this.waiting = [];
    this.waitingBytes = 0;
    while (this.step());
  }

  /** Parses one element; false when more bytes are needed. */
  private step(): boolean {
    if (this.bulk !== undefined) {
      const { length, type } = this.bulk;
      if (this.buffer.length - this.offset < length + 2) return false;
      const bytes = Buffer.from(this.buffer.subarray(this.offset, this.offset + length));
      this.offset += length + 2;
      this.bulk = undefined;
      if (type === 0x21 /* ! blob error */) this.complete(new RespError(bytes.toString("utf8")));
      // RESP3 verbatim strings start with a three-letter format and a colon ("txt:"): RESP2 has only the text.
      else if (type === 0x3d /* = verbatim */) this.complete(bytes.subarray(4));
      else this.complete(bytes);
      return true;
    }
    const end = this.buffer.indexOf(CRLF, this.offset);
    if (end === -1) return false;
    const type = this.buffer[this.offset]!;
    const line = this.buffer.toString("utf8", this.offset + 1, end);
    this.offset = end + 2;
    switch (type) {
      case 0x2b /* + */:
        this.complete(new RespStatus(line));
        break;
      case 0x2d /* - */:
        this.complete(new RespError(line));
        break;
      case 0x3a /* : */:
      case 0x28 /* ( big number */:
        this.complete(integer(line));
        break;
      case 0x2c /* , double: RESP2 sends doubles as bulk strings */:
        this.complete(Buffer.from(line, "utf8"));
        break;
      case 0x23 /* # boolean: RESP2 sends 1 and 0 */:
        this.complete(line === "t" ? 1 : 0);
        break;
      case 0x5f /* _ null */:
        this.complete(null);
        break;
      case 0x24 /* $ */:
      case 0x21 /* ! */:
      case 0x3d /* = */: {
        const length = Number(line);
        if (length < 0) this.complete(null);
        else this.bulk = { length, type };
        break;
      }
      case 0x2a /* * */:
      case 0x7e /* ~ set */:
      case 0x3e /* > push */:
      case 0x25 /* % map: RESP2 sends a flat array of keys and values */:
      case 0x7c /* | attribute */: {
        const count = Number(line) * (type === 0x25 || type === 0x7c ? 2 : 1);
        const kind = type === 0x3e ? "push" : type === 0x7c ? "attribute" : "array";
        if (count < 0) this.complete(null);
        else if (count === 0 && kind !== "attribute") this.complete([], kind === "push");
        else if (count > 0) this.stack.push({ remaining: count, items: [], kind });
        break;
      }
      default:
        throw new RespProtocolError(`unexpected RESP type byte 0x${type.toString(16)}`);
    }
    return true;
  }

  private complete(value: RespReply, push = false): void {
    for (;;) {
      const top = this.stack.at(-1);
      if (top === undefined) return this.onReply(value, push);
      top.items.push(value);
      if (--top.remaining > 0) return;
      this.stack.pop();
      if (top.kind === "attribute") return;
      value = top.items;
      push = top.kind === "push";
    }
  }
}

function integer(text: string): number | bigint {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}
