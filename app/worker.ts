import { Hono } from "hono";
import { session } from "../src/index.js";
import { redisStore } from "../src/stores/redis/index.js";
import { demo } from "./demo/routes.js";
import { sessionApi } from "./session-api.js";

/**
 * The reference worker: the JSON session API (app/session-api.ts) and the demo page (app/demo/, GET /)
 * over one session middleware, with `Server-Timing` on. Configure it with the EXT_SESSION_MGT binding
 * (and the Redis credential bindings).
 */
const app = new Hono()
  // Redis when EXT_SESSION_MGT names it; the custom store (the Durable Object store of `npm start`) otherwise.
  .use(session({ redis: redisStore(), serverTiming: true }))
  .route("/", sessionApi)
  .route("/", demo);

export default app;

// The class behind the embedded default store (the SESSION_STORE binding in wrangler.toml).
export { SessionStoreObject } from "../src/stores/durable-object/index.js";
