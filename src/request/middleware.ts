import type { Context, MiddlewareHandler } from "hono";
import { env } from "hono/adapter";
import type { SessionOptions } from "../config/options.js";
import { describeError, SessionConfigError, storeFailureLine } from "../errors.js";
import { createIsolateState, type IsolateState } from "./isolate-state.js";
import { loadSession } from "../tiers/load-session.js";
import { clearSessionCookie, readSessionCookie, writeSessionCookie } from "./session-cookie.js";
import { persist, updateAtomically } from "../tiers/persist.js";
import { SessionHandle, type Session, type SessionData } from "./session-handle.js";

/**
 * The context variables `session()` sets. Typed per app rather than through a global `ContextVariableMap`
 * augmentation, so `c.var.session` carries the app's own data type: chain `.use(session<Data>())`, or
 * declare `new Hono<SessionEnv<Data>>()`.
 */
export type SessionVariables<T extends SessionData = SessionData> = { session: Session<T> };
export type SessionEnv<T extends SessionData = SessionData> = { Variables: SessionVariables<T> };

/**
 * Sessions for Hono on the edge: kept in the isolate's memory, backed up to a store (Redis over REST, or a
 * custom store) encrypted and compressed, and rebuilt from the store on any other isolate.
 *
 * Configuration comes from the `EXT_SESSION_MGT` binding (see the README); `options` override it.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { session } from "hono-edge-session";
 *
 * type Data = { userId?: string; visits?: number };
 * const app = new Hono().use(session<Data>());
 * app.get("/", async (c) => {
 *   const visits = ((await c.var.session.get("visits")) ?? 0) + 1;
 *   await c.var.session.set("visits", visits);
 *   return c.json({ visits });
 * });
 * export default app;
 * ```
 */
export function session<T extends SessionData = SessionData>(
  options: SessionOptions = {},
): MiddlewareHandler<SessionEnv<T>> {
  let isolate: IsolateState | undefined;

  return async function session(c, next) {
    let state: IsolateState;
    try {
      // Not a shared promise: a request must never wait on one that another request's work settles (workerd
      // can leave it pending forever once that request is gone). Concurrent first requests each build the
      // state, and the first one built is kept.
      state = isolate ??= await createIsolateState(env(c), options);
    } catch (error) {
      // A broken configuration stays broken for the isolate's life; every request says so in the log.
      console.error(`hono-edge-session: ${error instanceof SessionConfigError ? error.message : describeError(error)}`);
      return c.text("Internal Server Error", 500);
    }
    const { config, keys } = state;

    // Cookie → memory tier → store, on the handler's first use of the session.
    const current = new SessionHandle<T>(
      async () => loadSession(state, await readSessionCookie(c, config, keys, state.verifiedCookies)),
      async (change) => {
        const persisted = await persist(state, change, true);
        if (persisted.failure !== undefined) throw persisted.failure;
        return persisted.saved;
      },
      (loaded, fn) => updateAtomically(state, loaded, fn),
    );
    c.set("session", current.api);

    await next();

    let change;
    try {
      change = current.change();
    } catch (error) {
      config.logger.error(
        `hono-edge-session: session data is not JSON-serialisable, not saved (${describeError(error)})`,
      );
      return;
    }
    // Memory tier and store (a compare-and-set store now, a plain one after the response), then the cookie.
    let persisted;
    try {
      persisted = await persist(state, change, false);
    } catch (error) {
      // Never fail the response over the session: what was not saved is logged.
      config.logger.error(`hono-edge-session: saving the session failed (${describeError(error)})`);
      return;
    }
    if (persisted.cookie === "clear") clearSessionCookie(c, config);
    else if (persisted.cookie !== undefined) await writeSessionCookie(c, config, keys, persisted.cookie);
    if (persisted.background !== undefined) inBackground(c, state, persisted.background);
  };
}

/** After the response: `waitUntil` on Workers; elsewhere the promise simply runs on. Failures are logged, never thrown. */
function inBackground(c: Context, state: IsolateState, work: Promise<void>): void {
  const logged = work.catch((error: unknown) =>
    state.config.logger.error(
      storeFailureLine(
        error,
        "background store call failed; a session not yet stored stays in this isolate's memory and is retried on its next request",
      ),
    ),
  );
  try {
    c.executionCtx.waitUntil(logged);
  } catch {
    // No execution context (Node, Bun, or app.request in tests): nothing to register with.
  }
}
