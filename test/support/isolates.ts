import { afterAll, afterEach, beforeAll } from "vitest";
import { Isolate, startRedisStack, type IsolateOptions, type RedisStack } from "./node.js";

/** A test file's redis-server and gateway, and the isolates its tests start (disposed after each test). */
export interface IsolatesOfFile {
  readonly stack: RedisStack;
  start(bindings: Record<string, string>, options?: IsolateOptions | string): Promise<Isolate>;
  /** Disposes one isolate now: its memory tier is gone, as when Workers evicts it. */
  dispose(isolate: Isolate): Promise<void>;
}

export function useIsolates(): IsolatesOfFile {
  let stack: RedisStack | undefined;
  const running: Isolate[] = [];
  beforeAll(async () => {
    stack = await startRedisStack();
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((isolate) => isolate.dispose()));
  });
  afterAll(async () => {
    await stack?.stop();
  });
  return {
    get stack() {
      return stack!;
    },
    async start(bindings, options) {
      const isolate = await Isolate.start(bindings, options);
      running.push(isolate);
      return isolate;
    },
    async dispose(isolate) {
      running.splice(running.indexOf(isolate), 1);
      await isolate.dispose();
    },
  };
}
