export { SessionStoreObject } from "./session-store-object.js";
export { DurableObjectStore, type DurableObjectStoreOptions } from "./durable-object-store.js";
