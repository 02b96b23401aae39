import type { MiddlewareHandler } from "hono";
import { csrf } from "hono/csrf";

/**
 * Cross-site request forgery defence for the state-changing routes: a browser's request from another site
 * (a form or `text/plain` POST from a sibling subdomain passes SameSite=Lax) is refused with 403, by
 * Hono's `csrf()` (the `Origin` and `Sec-Fetch-Site` headers). Browsers send at least one of them with
 * every such request; a request with neither is not a browser's (curl, a server) and carries no cookies
 * it did not choose to, so it goes through.
 */
const checked = csrf();

export const sameOrigin: MiddlewareHandler = (c, next) =>
  c.req.header("origin") === undefined && c.req.header("sec-fetch-site") === undefined ? next() : checked(c, next);
