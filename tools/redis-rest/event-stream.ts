import type { ServerResponse } from "node:http";
import { RedisConnection, type RedisTarget } from "./redis-connection.js";
import type { StreamKind } from "./request-parsing.js";
import type { RespReply } from "./resp.js";

/**
 * Upstash's streaming endpoints, as `@upstash/redis` consumes them (`redis.subscribe()` and `psubscribe()`):
 * `POST /subscribe/<channel>` (or `/psubscribe/<pattern>`) with `Accept: text/event-stream` answers 200
 * `text/event-stream` and then one `data: ` line per Pub/Sub event, its fields joined by commas, as in
 * https://upstash.com/docs/redis/features/restapi ("Subscribe & Publish Commands"):
 *
 *     data: subscribe,chat,1
 *     data: message,chat,hello
 *     data: pmessage,cha*,chat,hello        (for psubscribe)
 *
 * The client splits the stream on newlines, keeps lines starting with "data: ", and reads type, channel and
 * the rest of the line as the message (JSON-parsed unless automatic deserialisation is off). Messages are
 * sent as they are, not base64-encoded, whatever `Upstash-Encoding` says: the client does not decode them.
 * Events end with a blank line, as Server-Sent Events do (the client accepts both). A message holding a
 * newline cannot survive this format: the client keeps only its first line.
 *
 * `/monitor` streams MONITOR the same way: `data: "OK"`, then one line per command Redis runs.
 *
 * Each stream has its own Redis connection, closed when the HTTP client goes away (the client aborts the
 * request on `unsubscribe()`); if Redis goes away, the stream ends.
 */
export async function streamEvents(options: {
  kind: StreamKind;
  names: string[];
  target: RedisTarget;
  res: ServerResponse;
  headers: Record<string, string>;
  /** The simulated distance from Redis back to the client: every event is that late. */
  returnDelayMs: number;
}): Promise<void> {
  const { kind, names, res } = options;
  const connection = await RedisConnection.open(options.target);
  const later = delayedInOrder(options.returnDelayMs);
  const send = (action: () => void) => later(() => (res.destroyed || res.writableEnded ? undefined : action()));
  let monitorStarted = false;

  // The client may have left while the connection opened: then its "close" has already been emitted.
  if (res.destroyed || res.socket === null || res.socket.destroyed) connection.destroy();
  res.once("close", () => connection.destroy());
  connection.onClose(() => send(() => res.end()));
  connection.onUnsolicited = (reply) => {
    let line: string | undefined;
    if (reply instanceof Error) {
      line = `error,${reply.message}`;
    } else if (kind === "monitor" && Buffer.isBuffer(reply)) {
      // MONITOR answers +OK, then one status reply per command Redis runs.
      const text = reply.toString("utf8");
      line = monitorStarted ? text : JSON.stringify(text);
      monitorStarted = true;
    } else if (Array.isArray(reply)) {
      line = reply.map(fieldText).join(",");
    }
    if (line !== undefined) send(() => res.write(`data: ${line}\n\n`));
  };

  send(() => {
    res.writeHead(200, {
      ...options.headers,
      "Content-Type": "text/event-stream",
      "Cache-Control": "no-cache",
      Connection: "keep-alive",
    });
    res.flushHeaders();
  });
  connection.sendUnanswered([kind.toUpperCase(), ...names]);
}

/** Channel names and messages are bytes, subscription counts integers (their digits). */
function fieldText(field: RespReply): string {
  if (Buffer.isBuffer(field)) return field.toString("utf8");
  return String(field);
}

/** Runs actions `delayMs` after they were asked for, never out of order. */
function delayedInOrder(delayMs: number): (action: () => void) => void {
  let chain = Promise.resolve();
  return (action) => {
    const due = Date.now() + delayMs;
    chain = chain
      .then(async () => {
        const wait = due - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        action();
      })
      .catch(() => {});
  };
}
