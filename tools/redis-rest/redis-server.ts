import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { RedisConnection } from "./redis-connection.js";
import { isReplyText } from "./resp.js";

/** A private redis-server on a free loopback port, without persistence. `stop()` and `start()` simulate an outage. */
export interface RedisServer {
  readonly port: number;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(options: { port?: number; binary?: string } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const binary = options.binary ?? process.env.REDIS_SERVER ?? "redis-server";
  let child: ChildProcess | undefined;

  const server: RedisServer = {
    port,
    get running() {
      return child !== undefined;
    },
    async start() {
      if (child !== undefined) return;
      const args = [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
      ];
      const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      proc.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      proc.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<never>((_, reject) => {
        proc.once("error", (error) => reject(new Error(`cannot run ${binary}: ${error.message}`)));
        proc.once("exit", (code) => reject(new Error(`${binary} exited with ${code}:\n${output.slice(-2000)}`)));
      });
      exited.catch(() => {});
      await Promise.race([waitForPing(port), exited]);
      child = proc;
      // Never outlive the process that started it, even when that one is killed or crashes.
      const killOnExit = () => proc.kill("SIGKILL");
      process.once("exit", killOnExit);
      proc.once("exit", () => {
        process.off("exit", killOnExit);
        if (child === proc) child = undefined;
      });
    },
    async stop() {
      const proc = child;
      if (proc === undefined) return;
      child = undefined;
      const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      await gone;
    },
  };
  await server.start();
  return server;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    let connection: RedisConnection | undefined;
    try {
      connection = await RedisConnection.open({ host: "127.0.0.1", port });
      const reply = await connection.send(["PING"]);
      if (isReplyText(reply, "PONG")) return;
      throw new Error(`PING answered ${String(reply)}`);
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      connection?.destroy();
    }
  }
}
