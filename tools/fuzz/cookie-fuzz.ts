import { bindingsFor, type RedisStack } from "../../test/support/node.js";
import { COOKIE_MUTATORS, type CookieMutator } from "./cookie-mutators.js";
import { planRequest, type PlannedRequest } from "./cookie-requests.js";
import { signers } from "./cookie-signing.js";
import { FRESH_SESSION, judge, SAME_SESSION } from "./cookie-verdict.js";
import { startFuzzIsolate } from "./fuzz-isolate.js";
import type { MemoryReport } from "./memory-sampler.js";
import { Prng } from "./prng.js";
import { SessionPool, type Send, type ValidSession } from "./session-pool.js";
import { Tally } from "./tally.js";
import { summarizeLogs, uncaughtErrors } from "./worker-logs.js";

/*
 * The cookie fuzz: the reference worker (app/worker.ts) in workerd through Miniflare, on Redis behind the
 * project's REST gateway, sent `cases` requests with mutated Cookie headers, `concurrency` at a time.
 */

export interface CookieFuzzOptions {
  stack: RedisStack;
  cases: number;
  seed: number;
  concurrency?: number;
  /** Genuine sessions the mutators start from. */
  poolSize?: number;
  onProgress?: (done: number) => void;
}

export interface CookieFuzzReport {
  cases: number;
  concurrency: number;
  tally: Tally;
  mutators: readonly CookieMutator[];
  memory: MemoryReport;
  elapsedMs: number;
  /** Requests that made or replaced pool sessions (not fuzz cases). */
  setupRequests: number;
  /** What the worker logged, grouped (numbers blanked), most frequent first. */
  logs: [line: string, count: number][];
}

export async function fuzzCookies(options: CookieFuzzOptions): Promise<CookieFuzzReport> {
  const { stack, cases, seed, concurrency = 8, poolSize = 16 } = options;
  const instance = `fuzz-cookies-${seed}-${Date.now().toString(36)}`;
  const target = await startFuzzIsolate(bindingsFor(instance, stack.gateway));
  const { isolate } = target;
  try {
    let setupRequests = 0;
    const send: Send = async (method, path, headers, body) =>
      (await isolate.mf.dispatchFetch(`https://app.test${path}`, { method, headers, body })) as unknown as Response;
    const pool = new SessionPool((...args) => {
      setupRequests++;
      return send(...args);
    }, poolSize);
    await pool.fill();
    const sign = await signers();
    const tally = new Tally();
    const started = performance.now();
    const sampler = target.sampleMemory();

    const runCase = async (index: number) => {
      const rng = Prng.forCase(seed, "cookies", index);
      const mutator = rng.pick(COOKIE_MUTATORS);
      const cookie = await mutator.mutate({ rng, pool, sign });
      const request = planRequest(rng, index);
      const expected = pool.namedBy(cookie);
      const headers: Record<string, string> = { Cookie: cookie };
      if (request.body !== undefined) headers["Content-Type"] = "application/json";
      let response: Response;
      let body: string;
      try {
        response = await send(request.method, request.path, headers, request.body);
        body = await response.text();
      } catch (error) {
        // Miniflare could not get an answer from workerd: the runtime crashed or dropped the request.
        const detail = `${request.method} ${request.path}: ${error instanceof Error ? error.message : String(error)}`;
        tally.fail({ kind: "crash", index, mutator: mutator.name, detail });
        return;
      }
      const verdict = judge(request, { status: response.status, body, response }, expected, pool);
      if ("failure" in verdict) {
        tally.fail({ kind: verdict.failure, index, mutator: mutator.name, detail: verdict.detail });
        return;
      }
      tally.count(mutator.name, verdict.outcome);
      if (expected !== undefined) await keepPoolCurrent(pool, expected, cookie, request, verdict.outcome, response);
    };

    let next = 0;
    let done = 0;
    const lane = async () => {
      for (let index = next++; index < cases; index = next++) {
        await runCase(index);
        if (++done % Math.max(1, Math.floor(cases / 10)) === 0) options.onProgress?.(done);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    const memory = await sampler.stop();
    const elapsedMs = performance.now() - started;

    for (const line of uncaughtErrors(isolate.logs)) {
      tally.fail({ kind: "uncaught error in worker", index: -1, mutator: "(worker log)", detail: line });
    }
    return {
      cases,
      concurrency,
      tally,
      mutators: COOKIE_MUTATORS,
      memory,
      elapsedMs,
      setupRequests,
      logs: summarizeLogs(isolate.logs),
    };
  } finally {
    await target.dispose();
  }
}

/**
 * After a request that carried a pool session's current id cookie: a destroy, or an answer that shows the
 * session gone, gets its slot a new session; a regenerate or a write gives it new cookies to send.
 */
async function keepPoolCurrent(
  pool: SessionPool,
  session: ValidSession,
  cookie: string,
  request: PlannedRequest,
  outcome: string,
  response: Response,
): Promise<void> {
  if (!pool.carriesCurrentId(session, cookie)) return;
  if (request.method === "DELETE" && outcome === "204") return await pool.replace(session);
  if (outcome === FRESH_SESSION) return await pool.replace(session);
  if (outcome === SAME_SESSION) pool.adopt(session, response);
}
