import type { Context, MiddlewareHandler } from "hono";
import { env } from "hono/adapter";
import type { SessionOptions } from "../config/options.js";
import { describeError, SessionConfigError } from "../errors.js";
import { operationsFor } from "../engine/operations.js";
import { saveChange } from "../engine/save.js";
import { KEEP, type CookiePlan } from "../protocol/request.js";
import { RequestTrace, serverTiming } from "../trace.js";
import type { Session, SessionData } from "../types.js";
import { configure, createIsolateState, type Configured, type IsolateState } from "./isolate-state.js";
import { changeOf, delivered, servesCookie, SessionHandle } from "./session-handle.js";

/**
 * The context variables `session()` sets. Typed per app rather than through a global `ContextVariableMap`
 * augmentation, so `c.var.session` carries the app's own data type: chain `.use(session<Data>())`, or
 * declare `new Hono<SessionEnv<Data>>()`.
 */
export type SessionVariables<T extends SessionData = SessionData> = { session: Session<T> };
export type SessionEnv<T extends SessionData = SessionData> = { Variables: SessionVariables<T> };

/**
 * Sessions for Hono on the edge: kept in the isolate's memory, backed up to a store (Redis over REST, a
 * Durable Object, or a custom store) encrypted and compressed, and rebuilt from the store on any other
 * isolate.
 *
 * Configuration comes from the options, over the application router's `EXT_SESSION_MGT` binding (see the
 * README).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { session } from "hono-edge-session";
 * import { redisStore } from "hono-edge-session/redis";
 *
 * type Data = { userId?: string; visits?: number };
 * const app = new Hono().use(session<Data>({ redis: redisStore() }));
 * app.get("/", async (c) => {
 *   const { visits = 0 } = await c.var.session.update((data) => {
 *     data.visits = (data.visits ?? 0) + 1;
 *   });
 *   return c.json({ visits });
 * });
 * export default app;
 * ```
 */
export function session<T extends SessionData = SessionData, Bindings = any>(
  options: SessionOptions<Bindings> = {},
): MiddlewareHandler<SessionEnv<T>> {
  let configured: Configured | undefined;
  let isolate: IsolateState | undefined;

  return async function session(c, next) {
    let state: IsolateState;
    try {
      // The configuration and the store are made once, synchronously (no bindings at all, as with
      // app.request() without an env, is no binding set). The keys are not a shared promise: a request
      // must never wait on one that another request's work settles (workerd can leave it pending forever
      // once that request is gone). Concurrent first requests each derive them; the first state built stays.
      configured ??= configure(env(c) ?? {}, options);
      const built = isolate ?? (await createIsolateState(configured));
      state = isolate ??= built;
    } catch (error) {
      // A broken configuration stays broken for the isolate's life; every request says so in the log.
      logConfigError(error, options.logger);
      return c.text("Internal Server Error", 500);
    }
    const { cookies, engine } = state;
    const cookieName = state.config.cookieName;
    // Mounted again for the same cookie (on the app, and again on a sub-app): the first one serves the request,
    // as in express-session. Two sessions of one cookie would send two id cookies in one response, and the
    // change of the one the browser does not keep would be lost.
    if (servesCookie(c.get("session"), cookieName)) return next();
    const trace = new RequestTrace();

    // Cookie → memory tier → store, on the handler's first use of the session (see engine/load.ts).
    const handle = new SessionHandle<T>(
      operationsFor(engine, () => cookies.read(c), trace),
      cookieName,
    );
    c.set("session", handle);

    await next();

    // Memory tier and cookies now; the store write after the response (see engine/save.ts).
    // Synchronous unless a write is awaited before the response: no await where none is needed.
    // From here on, a change (a streamed response's, an outer middleware's) is written at once, or refused.
    const change = changeOf(handle);
    let sent: CookiePlan = KEEP;
    try {
      const saving = saveChange(change, engine, trace);
      const after = saving instanceof Promise ? await saving : saving;
      if (after.cookies.kind !== "keep") await cookies.write(c, after.cookies);
      sent = after.cookies;
      if (after.background !== undefined) inBackground(c, after.background);
    } finally {
      delivered(handle, sent);
    }
    const timing = state.config.serverTiming ? serverTiming(trace) : undefined;
    if (timing !== undefined) c.header("Server-Timing", timing, { append: true });
  };
}

/**
 * To the console (the runtime's log), and to the app's logger too when the options give a usable one (the
 * error may be in the logger itself, so a logger that throws is passed over: the console has the line).
 */
function logConfigError(error: unknown, logger: unknown): void {
  const line = `hono-edge-session: ${error instanceof SessionConfigError ? error.message : describeError(error)}`;
  console.error(line);
  const log = (logger as { error?: unknown } | undefined)?.error;
  if (logger === console || typeof log !== "function") return;
  try {
    log.call(logger, line);
  } catch {
    // The console has it.
  }
}

/** After the response: `waitUntil` on Workers; elsewhere the promise simply runs on. It never rejects. */
function inBackground(c: Context, work: Promise<void>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // No execution context (Node, Bun, or app.request in tests): nothing to register with.
  }
}
