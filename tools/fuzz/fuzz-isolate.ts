import { Isolate, type IsolateOptions } from "../../test/support/node.js";
import { MemorySampler, spawnedWorkerd } from "./memory-sampler.js";
import { WorkerHeap } from "./worker-heap.js";

/** An isolate to fuzz (test/support/node.ts's, with its inspector open), and its memory sampler. */
export interface FuzzIsolate {
  isolate: Isolate;
  /** Starts sampling memory (after the set-up, so the first quarter is the fuzz's own). */
  sampleMemory(): MemorySampler;
  dispose(): Promise<void>;
}

export async function startFuzzIsolate(
  bindings: Record<string, string>,
  options: IsolateOptions = {},
): Promise<FuzzIsolate> {
  const { started: isolate, pid } = await spawnedWorkerd(() =>
    Isolate.start(bindings, { ...options, inspectorPort: 0 }),
  );
  let heap: WorkerHeap;
  try {
    heap = await WorkerHeap.connect(await isolate.mf.getInspectorURL());
  } catch (error) {
    await isolate.dispose();
    throw error;
  }
  return {
    isolate,
    sampleMemory: () => new MemorySampler(pid, heap),
    async dispose() {
      heap.close();
      await isolate.dispose();
    },
  };
}
