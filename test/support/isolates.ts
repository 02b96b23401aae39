import { afterAll, afterEach, beforeAll } from "vitest";
import { bindingsFor, Isolate, startRedisStack, type IsolateOptions, type RedisStack } from "./node.js";

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

let apps = 0;

/** Isolates of one app: separate memory tiers, one store. `spawn()` starts one more (a fresh memory tier). */
export type AppIsolates = Isolate[] & { instance: string; spawn(): Promise<Isolate> };

/**
 * `count` isolates of the test app (test/fixtures/concurrency-worker.ts) on the file's Redis, with
 * `options` for session(): as Workers runs one app's requests, on any isolate, none of them sticky.
 */
export async function startApp(
  isolates: IsolatesOfFile,
  count: number,
  options: Record<string, unknown> = {},
  /** An app already running under this instanceName: new isolates of it, with other options. */
  instance = `app-${process.pid}-${++apps}`,
): Promise<AppIsolates> {
  const bindings = bindingsFor(instance, isolates.stack.gateway, { SESSION_TEST_OPTIONS: JSON.stringify(options) });
  const spawn = () => isolates.start(bindings, "test/fixtures/concurrency-worker.ts");
  const started = await Promise.all(Array.from({ length: count }, spawn));
  return Object.assign(started, { instance, spawn });
}
