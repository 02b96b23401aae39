/*
 * The fuzzed worker's V8 heap, read through workerd's inspector (Chrome DevTools protocol): the memory the
 * session layer can hold on to (its memory tier, its caches, anything a request leaves behind). Node 20
 * has a WebSocket client only with `--experimental-websocket` (`npm run fuzz` sets it, as `npm run bench`
 * does; vitest sets it for the node tests).
 */

/** Miniflare's name for the user's worker (unnamed) in the inspector's target list. */
const USER_WORKER_TARGET = "core:user:";

interface HeapUsage {
  usedSize?: number;
  embedderHeapUsedSize?: number;
  backingStorageSize?: number;
}

export class WorkerHeap {
  #next = 0;
  readonly #pending = new Map<number, (result: HeapUsage) => void>();

  private constructor(readonly socket: WebSocket) {
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(String(event.data)) as { id?: number; result?: HeapUsage };
      if (message.id === undefined) return;
      this.#pending.get(message.id)?.(message.result ?? {});
      this.#pending.delete(message.id);
    });
  }

  static async connect(inspector: URL): Promise<WorkerHeap> {
    if (typeof WebSocket === "undefined") {
      throw new Error("no WebSocket in this Node: run it with --experimental-websocket (Node 20)");
    }
    const list = (await (await fetch(`http://${inspector.host}/json`)).json()) as Array<{
      id: string;
      webSocketDebuggerUrl: string;
    }>;
    const target = list.find((t) => t.id === USER_WORKER_TARGET);
    if (target === undefined) throw new Error("the inspector does not list the worker");
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.addEventListener("open", resolve, { once: true });
      socket.addEventListener("error", reject, { once: true });
    });
    return new WorkerHeap(socket);
  }

  /**
   * Bytes the worker's JavaScript holds: its V8 heap in use (live objects, and garbage not collected yet),
   * the runtime objects it holds (embedder heap) and its ArrayBuffers' memory (backing stores, outside
   * the heap: a kept crypto output or body would grow only that).
   */
  async usedBytes(): Promise<number> {
    const id = ++this.#next;
    const result = await new Promise<HeapUsage>((resolve) => {
      this.#pending.set(id, resolve);
      this.socket.send(JSON.stringify({ id, method: "Runtime.getHeapUsage" }));
    });
    if (typeof result.usedSize !== "number") throw new Error("the inspector gave no heap usage");
    return result.usedSize + (result.embedderHeapUsedSize ?? 0) + (result.backingStorageSize ?? 0);
  }

  close(): void {
    this.socket.close();
  }
}
