import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { CutoffCache } from "../../src/engine/engine.js";
import type { operationsFor } from "../../src/engine/operations.js";
import type { saveChange } from "../../src/engine/save.js";
import type { changeOf, SessionHandle } from "../../src/request/session-handle.js";
import type { MemoryTier } from "../../src/tiers/memory-tier.js";
import type { RequestTrace } from "../../src/trace.js";

/**
 * The parts of the package the simulator runs, loaded from a source tree: `src/` itself, or a copy with a
 * mutant applied (see mutants.ts). The simulated world drives exactly the code the middleware runs, from
 * the session handle down; only the ports (time, randomness, the store) are simulated.
 */
export interface System {
  operationsFor: typeof operationsFor;
  saveChange: typeof saveChange;
  SessionHandle: typeof SessionHandle;
  changeOf: typeof changeOf;
  MemoryTier: typeof MemoryTier;
  CutoffCache: typeof CutoffCache;
  RequestTrace: typeof RequestTrace;
  /** The class of errors a request may meet by design (503s, writes not saved, limits). */
  isExpectedError(error: unknown): boolean;
}

export async function loadSystem(srcRoot: string): Promise<System> {
  const load = (path: string) => import(pathToFileURL(join(srcRoot, path)).href);
  const [operations, save, handle, tier, engine, trace, errors] = await Promise.all([
    load("engine/operations.ts"),
    load("engine/save.ts"),
    load("request/session-handle.ts"),
    load("tiers/memory-tier.ts"),
    load("engine/engine.ts"),
    load("trace.ts"),
    load("errors.ts"),
  ]);
  const expected = [
    errors.SessionUnavailableError,
    errors.SessionNotSavedError,
    errors.SessionTooLargeError,
    errors.SessionDataError,
  ] as Array<new (...args: never[]) => Error>;
  return {
    operationsFor: operations.operationsFor,
    saveChange: save.saveChange,
    SessionHandle: handle.SessionHandle,
    changeOf: handle.changeOf,
    MemoryTier: tier.MemoryTier,
    CutoffCache: engine.CutoffCache,
    RequestTrace: trace.RequestTrace,
    isExpectedError: (error) =>
      expected.some((type) => error instanceof type) ||
      // A store failure reaches the handler from commit(), update(), regenerate(), destroy() and the user calls.
      (error instanceof Error && /^store (call timed out|error after)/.test(error.message)),
  };
}
