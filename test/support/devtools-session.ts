/*
 * One Chrome DevTools protocol session with a worker's isolate, through workerd's inspector: the bench takes
 * CPU profiles with it, the fuzz reads the worker's heap. Node 20 has a WebSocket client only behind
 * `--experimental-websocket` (`npm run bench` and `npm run fuzz` set it; vitest sets it for the node tests).
 */

/** A target in the inspector's list (`GET /json`). */
export interface InspectorTarget {
  id: string;
  title: string;
  webSocketDebuggerUrl: string;
}

export class DevToolsSession {
  #next = 0;
  readonly #pending = new Map<number, { resolve: (result: unknown) => void; reject: (error: Error) => void }>();

  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message?: string } };
      const waiting = message.id === undefined ? undefined : this.#pending.get(message.id);
      if (waiting === undefined) return;
      this.#pending.delete(message.id!);
      if (message.error !== undefined) waiting.reject(new Error(`inspector: ${message.error.message ?? "error"}`));
      else waiting.resolve(message.result ?? {});
    });
  }

  /** Connects to the target `pick` chooses from the list of the inspector at `host` (`127.0.0.1:9229`). */
  static async connect(
    host: string,
    pick: (targets: InspectorTarget[]) => InspectorTarget | undefined,
  ): Promise<DevToolsSession> {
    if (typeof WebSocket === "undefined") {
      throw new Error("no WebSocket in this Node: run it with --experimental-websocket (Node 20)");
    }
    const targets = (await (await fetch(`http://${host}/json`)).json()) as InspectorTarget[];
    const target = pick(targets);
    if (target === undefined) throw new Error("the inspector does not list the worker");
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("error", reject, { once: true });
    });
    return new DevToolsSession(socket);
  }

  /** Calls a protocol method; rejects with the inspector's error. */
  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}
