import { connect, type Socket } from "node:net";
import { encodeCommand, replyParser, type CommandArg, type RespReply } from "./resp.js";

export interface RedisTarget {
  host: string;
  port: number;
  /** For a redis-server with `requirepass` or ACL users; sent with AUTH on every new or reset connection. */
  password?: string;
  username?: string;
}

/** Redis cannot be reached, or the connection broke before every reply arrived: the gateway answers 502. */
export class RedisUnavailableError extends Error {}

const CONNECT_TIMEOUT_MS = 2_000;

/**
 * One TCP connection to redis-server. Commands may be written back to back (pipelined); replies are matched
 * to them in order. Replies nobody asked for (Pub/Sub messages, MONITOR lines) go to `onUnsolicited`, which
 * is how the event streams read them.
 */
export class RedisConnection {
  private readonly pending: Array<{ resolve: (reply: RespReply) => void; reject: (error: Error) => void }> = [];
  private closedError: Error | undefined;
  private readonly closeListeners = new Set<() => void>();
  onUnsolicited: ((reply: RespReply) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    const parser = replyParser(
      (reply) => {
        const waiter = this.pending.shift();
        if (waiter !== undefined) waiter.resolve(reply);
        else this.onUnsolicited?.(reply);
      },
      (error) => {
        // Not RESP2: every later reply would be misread, so nothing more is read from this connection.
        this.closedError ??= new RedisUnavailableError(`unreadable reply from redis-server: ${error.message}`);
        socket.destroy();
      },
    );
    socket.on("data", (chunk: Buffer) => {
      try {
        parser.execute(chunk);
      } catch (error) {
        socket.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    });
    socket.on("error", () => {}); // "close" follows and fails what is pending
    socket.once("close", () => {
      this.closedError ??= new RedisUnavailableError("connection to redis-server lost");
      for (const waiter of this.pending.splice(0)) waiter.reject(this.closedError);
      for (const listener of this.closeListeners) listener();
    });
  }

  static async open(target: RedisTarget): Promise<RedisConnection> {
    const socket = connect({ host: target.host, port: target.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => socket.destroy(new Error("connect timed out")), CONNECT_TIMEOUT_MS);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(
          new RedisUnavailableError(`cannot reach redis-server at ${target.host}:${target.port}: ${error.message}`),
        );
      });
    });
    const connection = new RedisConnection(socket);
    await connection.authenticate(target);
    return connection;
  }

  /** AUTH when the target has a password; a refusal is a misconfiguration, reported as such. */
  async authenticate(target: RedisTarget): Promise<void> {
    if (target.password === undefined) return;
    const args = target.username === undefined ? [target.password] : [target.username, target.password];
    const reply = await this.send(["AUTH", ...args]);
    if (reply instanceof Error) {
      this.destroy();
      throw new RedisUnavailableError(`redis-server refused the gateway's AUTH: ${reply.message}`);
    }
  }

  get open(): boolean {
    return this.closedError === undefined && !this.socket.destroyed;
  }

  send(command: readonly CommandArg[]): Promise<RespReply> {
    return this.sendAll([command]).then((replies) => replies[0]!);
  }

  /** Writes every command at once and resolves with their replies, in order (errors are replies, not throws). */
  sendAll(commands: ReadonlyArray<readonly CommandArg[]>): Promise<RespReply[]> {
    if (!this.open) return Promise.reject(this.closedError ?? new RedisUnavailableError("connection closed"));
    const replies = commands.map(
      () => new Promise<RespReply>((resolve, reject) => this.pending.push({ resolve, reject })),
    );
    this.socket.write(Buffer.concat(commands.map(encodeCommand)));
    return Promise.all(replies);
  }

  /** Writes a command whose replies all arrive through `onUnsolicited` (SUBSCRIBE, MONITOR). */
  sendUnanswered(command: readonly CommandArg[]): void {
    this.socket.write(encodeCommand(command));
  }

  onClose(listener: () => void): void {
    if (!this.open) listener();
    else this.closeListeners.add(listener);
  }

  destroy(): void {
    this.closedError ??= new RedisUnavailableError("connection closed by the gateway");
    this.socket.destroy();
  }
}
