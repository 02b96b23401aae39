import type { Context, MiddlewareHandler } from "hono";
import { env } from "hono/adapter";
import type { SessionOptions } from "./config.js";
import { SessionConfigError } from "./errors.js";
import { createIsolateState, type IsolateState } from "./isolate-state.js";
import { describe, loadSession } from "./load-session.js";
import { clearSessionCookie, readSessionCookie, writeSessionCookie } from "./session-cookie.js";
import { SessionHandle, type SaveChange, type Session, type SessionData } from "./session-handle.js";

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
export function session<T extends SessionData = SessionData>(options: SessionOptions = {}): MiddlewareHandler<SessionEnv<T>> {
  let isolate: Promise<IsolateState> | undefined;

  return async function session(c, next) {
    let state: IsolateState;
    try {
      state = await (isolate ??= createIsolateState(env(c), options));
    } catch (error) {
      // A broken configuration stays broken for the isolate's life; every request says so in the log.
      console.error(`hono-edge-session: ${error instanceof SessionConfigError ? error.message : describe(error)}`);
      return c.text("Internal Server Error", 500);
    }
    const { memory, backups, config, keys } = state;

    // Cookie → memory tier → store, on the handler's first use of the session.
    const save: SaveChange = (change) => saveChange(state, change);
    const current = new SessionHandle<T>(async () => loadSession(state, await readSessionCookie(c, config, keys)), save);
    c.set("session", current.api);

    await next();

    let change;
    try {
      change = current.change();
    } catch (error) {
      config.logger.error(`hono-edge-session: session data is not JSON-serialisable, not saved (${describe(error)})`);
      return;
    }
    switch (change.kind) {
      case "untouched":
        return;
      case "destroyed":
        if (change.loaded.cookie !== undefined) clearSessionCookie(c, config);
        inBackground(c, state, save(change));
        return;
      case "changed":
        // Memory tier and cookie now; sealing and the store write after the response.
        await writeSessionCookie(c, config, keys, { id: change.id, version: change.entry.version });
        inBackground(c, state, save(change));
        return;
      case "unchanged": {
        const { loaded } = change;
        if (loaded.deadCookie) clearSessionCookie(c, config);
        if (loaded.isNew || loaded.entry === undefined) return;
        if (loaded.cookie?.id !== loaded.id || loaded.cookie.version !== loaded.version) {
          await writeSessionCookie(c, config, keys, { id: loaded.id, version: loaded.version });
        }
        // A backup that failed earlier is retried now; otherwise the store's expiry is kept ahead of the idle timeout.
        const entry = loaded.entry;
        if (!entry.backedUp) {
          if (!backups.pending(loaded.id) && memory.peek(loaded.id) === entry) {
            inBackground(c, state, backups.write(loaded.id, entry));
          }
          return;
        }
        const refresh = backups.refreshIfDue(loaded.id, entry);
        if (refresh !== undefined) inBackground(c, state, refresh);
        return;
      }
    }
  };
}

/** Puts a changed session in the memory tier and writes it to the store; deletes destroyed and replaced ids. */
function saveChange(state: IsolateState, change: Parameters<SaveChange>[0]): Promise<void> {
  const { memory, backups } = state;
  if (change.kind === "destroyed") {
    for (const id of change.ids) memory.delete(id);
    return Promise.all(change.ids.map((id) => backups.destroy(id))).then(() => {});
  }
  for (const id of change.replaced) memory.delete(id);
  memory.set(change.id, change.entry);
  return Promise.all([backups.write(change.id, change.entry), ...change.replaced.map((id) => backups.destroy(id))]).then(
    () => {},
  );
}

/** After the response: `waitUntil` on Workers; elsewhere the promise simply runs on. Failures are logged, never thrown. */
function inBackground(c: Context, state: IsolateState, work: Promise<void>): void {
  const logged = work.catch((error: unknown) =>
    state.config.logger.error(
      `hono-edge-session: store write failed; the session stays in this isolate's memory and is retried on its next request (${describe(error)})`,
    ),
  );
  try {
    c.executionCtx.waitUntil(logged);
  } catch {
    // No execution context (Node, Bun, or app.request in tests): nothing to register with.
  }
}
