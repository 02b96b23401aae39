/*
 * The fuzzed worker's V8 heap, read through workerd's inspector: the memory the session layer can hold on
 * to (its memory tier, its caches, anything a request leaves behind).
 */
import { DevToolsSession } from "../../test/support/devtools-session.js";

/** Miniflare's name for the user's worker (unnamed) in the inspector's target list. */
const USER_WORKER_TARGET = "core:user:";

interface HeapUsage {
  usedSize?: number;
  embedderHeapUsedSize?: number;
  backingStorageSize?: number;
}

export class WorkerHeap {
  private constructor(readonly session: DevToolsSession) {}

  static async connect(inspector: URL): Promise<WorkerHeap> {
    const session = await DevToolsSession.connect(inspector.host, (targets) =>
      targets.find((t) => t.id === USER_WORKER_TARGET),
    );
    return new WorkerHeap(session);
  }

  /**
   * Bytes the worker's JavaScript holds: its V8 heap in use (live objects, and garbage not collected yet),
   * the runtime objects it holds (embedder heap) and its ArrayBuffers' memory (backing stores, outside
   * the heap: a kept crypto output or body would grow only that).
   */
  async usedBytes(): Promise<number> {
    const result = (await this.session.send("Runtime.getHeapUsage")) as HeapUsage;
    if (typeof result.usedSize !== "number") throw new Error("the inspector gave no heap usage");
    return result.usedSize + (result.embedderHeapUsedSize ?? 0) + (result.backingStorageSize ?? 0);
  }

  close(): void {
    this.session.close();
  }
}
