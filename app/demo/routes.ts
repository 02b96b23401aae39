import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { sameOrigin } from "../same-origin.js";
import type { SessionEnv } from "../../src/index.js";
import { PAGE_HTML } from "./page.js";
import { SCRIPT_JS } from "./script.js";
import { STYLE_CSS } from "./style.js";
import { HANDLE, MAX_TEXT, printableText } from "./validate.js";

/**
 * The demo page (GET /) and its JSON routes (/demo/api/...): sign in with a name, a cart written with
 * `update()`, "your sessions" with revoke and "sign out everywhere", sign out. The page itself is static
 * (it never holds user data); its script renders what the routes answer with textContent, and logs each
 * response's `Server-Timing`.
 */
type DemoData = { name?: unknown; cart?: unknown };
type DemoEnv = SessionEnv<DemoData>;

/** The cart as the session holds it: the JSON API (PUT /session) can put anything there, so only strings count. */
const cartOf = (data: DemoData): string[] =>
  Array.isArray(data.cart) ? data.cart.filter((item): item is string => typeof item === "string") : [];

/** Cart items kept per session; the session is bounded anyway (maxSessionBytes). */
const MAX_CART_ITEMS = 100;
const MAX_BODY_BYTES = 1024;

// Only this origin's files and requests; no inline script or style, no framing.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const asset = (c: Context, body: string, type: string) =>
  c.body(body, 200, {
    "Content-Type": `${type}; charset=utf-8`,
    "Cache-Control": "no-store",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
  });

/** The JSON body of a demo request: small, JSON, an object; `undefined` otherwise. */
async function jsonObject(c: Context): Promise<Record<string, unknown> | undefined> {
  // Only JSON: a cross-site form cannot send it without a CORS preflight (and the cookie is SameSite=Lax).
  if (!/^application\/json\b/i.test(c.req.header("Content-Type") ?? "")) return undefined;
  const body: unknown = await c.req.json().catch(() => undefined);
  return typeof body === "object" && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}

// For the routes that need a signed-in session: a 401 tells the page it was signed out (here or elsewhere).
const signedIn: MiddlewareHandler<DemoEnv> = async (c, next) => {
  if ((await c.var.session.getUser()) === undefined) return c.json({ error: "signed out", user: null }, 401);
  await next();
};

const api = new Hono<DemoEnv>()
  .use(async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  })
  .post("*", sameOrigin)
  .post("*", bodyLimit({ maxSize: MAX_BODY_BYTES, onError: (c) => c.json({ error: "body too large" }, 413) }))
  // Who is signed in, and their cart.
  .get("/state", async (c) => {
    const data = await c.var.session.get();
    const user = await c.var.session.getUser();
    if (user === undefined) return c.json({ user: null, cart: [] });
    return c.json({ user: printableText(data.name) ?? user, cart: cartOf(data) });
  })
  // A new session id (fixation defence), tied to the user, saved before the answer.
  .post("/sign-in", async (c) => {
    const name = printableText((await jsonObject(c))?.["name"]);
    if (name === undefined) return c.json({ error: `a name is 1 to ${MAX_TEXT} printable characters` }, 400);
    await c.var.session.regenerate();
    await c.var.session.setUser(name);
    await c.var.session.set("name", name);
    await c.var.session.set("cart", []);
    await c.var.session.commit();
    return c.json({ user: name, cart: [] });
  })
  .post("/sign-out", async (c) => {
    await c.var.session.destroy();
    return c.json({ user: null, cart: [] });
  })
  // A read-modify-write of the cart: update() runs it on the newest stored data, so parallel adds all land.
  .post("/cart", signedIn, async (c) => {
    const item = printableText((await jsonObject(c))?.["item"]);
    if (item === undefined) return c.json({ error: `an item is 1 to ${MAX_TEXT} printable characters` }, 400);
    let added = false;
    const cart = cartOf(
      await c.var.session.update((data) => {
        const current = cartOf(data);
        added = current.length < MAX_CART_ITEMS;
        if (added) data.cart = [...current, item];
      }),
    );
    return added ? c.json({ cart }) : c.json({ error: `the cart holds at most ${MAX_CART_ITEMS} items`, cart }, 409);
  })
  .get("/sessions", signedIn, async (c) => c.json(await c.var.session.listSessions()))
  // Ends one of the user's sessions by its handle; this device's own one is destroyed (its cookies cleared).
  .post("/sessions/revoke", signedIn, async (c) => {
    const handle = (await jsonObject(c))?.["handle"];
    if (typeof handle !== "string" || !HANDLE.test(handle)) return c.json({ error: "not a session handle" }, 400);
    const target = (await c.var.session.listSessions()).find((s) => s.handle === handle);
    if (target === undefined) return c.json({ revoked: false, signedOut: false });
    if (target.current) {
      await c.var.session.destroy();
      return c.json({ revoked: true, signedOut: true });
    }
    return c.json({ revoked: await c.var.session.revokeSession(handle), signedOut: false });
  })
  // "Sign out everywhere": every other session of the user, then this one (destroyed, so its cookies go too).
  .post("/sessions/revoke-all", signedIn, async (c) => {
    const others = await c.var.session.revokeAllSessions({ keepCurrent: true });
    await c.var.session.destroy();
    return c.json({ revoked: others + 1, signedOut: true });
  });

export const demo = new Hono<DemoEnv>()
  .get("/", (c) => asset(c, PAGE_HTML, "text/html"))
  .get("/demo/app.css", (c) => asset(c, STYLE_CSS, "text/css"))
  .get("/demo/app.js", (c) => asset(c, SCRIPT_JS, "text/javascript"))
  .route("/demo/api", api);
