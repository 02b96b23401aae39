/**
 * The Durable Object store as a custom store module: name this file in `externalStoreFilePath`
 * ("./node_modules/hono-edge-session/src/stores/durable-object/store-module.ts" in an app), bind the
 * `SessionStoreObject` class as `SESSION_STORE`, and export the class from your worker (see README).
 */
import { env } from "cloudflare:workers";
import type { UserCustomStore } from "../types.js";
import { DurableObjectStore } from "./durable-object-store.js";
import type { SessionStoreObject } from "./session-store-object.js";

let store: UserCustomStore | undefined;

export function getStore(): UserCustomStore {
  const binding = (env as { SESSION_STORE?: DurableObjectNamespace<SessionStoreObject> }).SESSION_STORE;
  if (binding === undefined) {
    throw new Error("the Durable Object session store needs a SESSION_STORE binding to the SessionStoreObject class");
  }
  return (store ??= new DurableObjectStore(binding));
}
