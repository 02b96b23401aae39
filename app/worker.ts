import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { session } from "../src/index.js";
import { redisStore } from "../src/stores/redis/index.js";

/**
 * The reference worker: a JSON session API over the middleware, used by the README and the tests.
 * Configure it with the EXT_SESSION_MGT binding (and the Redis credential bindings).
 */
const MAX_BODY_BYTES = 64 * 1024;

const app = new Hono()
  // Redis when EXT_SESSION_MGT names it; the custom store (the Durable Object store of `npm start`) otherwise.
  .use(session({ redis: redisStore() }))
  .get("/session", async (c) => c.json(await c.var.session.get()))
  // A body is read whole: bound it before it is read (a session is bounded too: maxSessionBytes).
  .put(
    "/session",
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: "body too large" }, 413) }),
    async (c) => {
      const patch: unknown = await c.req.json().catch(() => undefined);
      if (typeof patch !== "object" || patch === null || Array.isArray(patch)) {
        return c.json({ error: "body must be a JSON object" }, 400);
      }
      const data = await c.var.session.get();
      Object.assign(data, patch);
      return c.json(data);
    },
  )
  .delete("/session", async (c) => {
    await c.var.session.destroy();
    return c.body(null, 204);
  })
  .post("/session/regenerate", async (c) => {
    await c.var.session.regenerate();
    return c.json(await c.var.session.get());
  });

export default app;

// The class behind the embedded default store (the SESSION_STORE binding in wrangler.toml).
export { SessionStoreObject } from "../src/stores/durable-object/index.js";
