import { RedisConnection, type RedisTarget } from "./redis-connection.js";
import { isReplyText } from "./resp.js";

/**
 * Connections for HTTP requests, one per request at a time, so nothing one request does to its connection
 * (SELECT, WATCH, MULTI, CLIENT SETNAME, a BLPOP that blocks) reaches another. A connection goes back to the
 * idle list only after `RESET` (Redis 6.2+) put it back to its fresh state: database 0, no transaction or
 * watched keys, RESP2, no tracking, not subscribed. RESET leaves the client name (and library name/version)
 * alone, so a request that ran CLIENT or HELLO (which can set the name) has its connection closed instead,
 * as has one that failed or whose HTTP client went away mid-command (a blocked command would keep running).
 */
export class ConnectionPool {
  private readonly idle: RedisConnection[] = [];
  private readonly inUse = new Set<RedisConnection>();
  private closed = false;

  constructor(
    private readonly target: RedisTarget,
    private readonly maxIdle = 16,
  ) {}

  async acquire(): Promise<RedisConnection> {
    let connection: RedisConnection | undefined;
    while ((connection = this.idle.pop()) !== undefined && !connection.open);
    if (connection === undefined) {
      const opened = await RedisConnection.open(this.target);
      // An idle connection whose server went away is dropped now, not handed to the next request.
      opened.onClose(() => {
        const at = this.idle.indexOf(opened);
        if (at !== -1) this.idle.splice(at, 1);
      });
      connection = opened;
    }
    if (this.closed) {
      connection.destroy();
      throw new Error("the gateway is stopping");
    }
    this.inUse.add(connection);
    return connection;
  }

  /** Resets the connection and keeps it for a later request; runs after the reply is sent, off its path. */
  release(connection: RedisConnection, reusable: boolean): void {
    this.inUse.delete(connection);
    if (!reusable || !connection.open || this.closed || this.idle.length >= this.maxIdle) {
      connection.destroy();
      return;
    }
    void (async () => {
      try {
        // RESET also logs the connection out: a password-protected server needs AUTH again.
        if (!isReplyText(await connection.send(["RESET"]), "RESET")) throw new Error("RESET refused (Redis < 6.2?)");
        await connection.authenticate(this.target);
        if (this.closed || !connection.open) throw new Error("closed meanwhile");
        this.idle.push(connection);
      } catch {
        connection.destroy();
      }
    })();
  }

  close(): void {
    this.closed = true;
    for (const connection of [...this.idle.splice(0), ...this.inUse]) connection.destroy();
    this.inUse.clear();
  }
}
