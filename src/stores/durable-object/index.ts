/**
 * The Durable Object session store: `hono-edge-session/durable-object`.
 *
 * This module is also a custom store module in the application router's sense (it exports `getStore()`):
 * name it in `EXT_SESSION_MGT.externalStoreFilePath` as `"hono-edge-session/durable-object"`, bind the
 * `SessionStoreObject` class as `SESSION_STORE`, and export the class from your worker (see the README).
 * Or build the store in code: `session({ store: new DurableObjectStore(env.SESSION_STORE) })`.
 *
 * @module
 */
import { env } from "cloudflare:workers";
import { StoreMisconfiguredError } from "../../errors.js";
import type { UserCustomStore } from "../types.js";
import { DurableObjectStore } from "./durable-object-store.js";
import type { SessionStoreObject } from "./session-store-object.js";

export { SessionStoreObject } from "./session-store-object.js";
export { DurableObjectStore, type DurableObjectStoreOptions } from "./durable-object-store.js";

let store: UserCustomStore | undefined;

/** The store over the `SESSION_STORE` binding, with the default namespace. */
export function getStore(): UserCustomStore {
  const binding = (env as { SESSION_STORE?: DurableObjectNamespace<SessionStoreObject> }).SESSION_STORE;
  if (binding === undefined) {
    throw new StoreMisconfiguredError(
      "the Durable Object session store needs a SESSION_STORE binding to the SessionStoreObject class",
    );
  }
  // Keeping the store is safe: it keeps only the binding and its namespace, and gets a stub per call.
  return (store ??= new DurableObjectStore(binding));
}
