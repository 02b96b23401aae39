import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { SessionEnv } from "../src/index.js";
import { sameOrigin } from "./same-origin.js";

/**
 * The reference worker's JSON session API, used by the README and the tests: the session's whole data,
 * read, shallow-merged, destroyed and regenerated. The session middleware is mounted by app/worker.ts.
 */
const MAX_BODY_BYTES = 64 * 1024;

export const sessionApi = new Hono<SessionEnv>()
  // Every method that changes the session refuses another site's request (see same-origin.ts).
  .on(["PUT", "POST", "DELETE"], "/session/*", sameOrigin)
  .on(["PUT", "DELETE"], "/session", sameOrigin)
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
