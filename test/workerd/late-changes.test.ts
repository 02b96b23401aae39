import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { describe, expect, it } from "vitest";
import { MemoryStore, session, SessionNotSavedError } from "../../src/index.js";
import { Browser, MemoryLogger } from "../support/workerd.js";

const SECRET = "late-secret-".padEnd(72, "l");
type Data = { n?: number; user?: string; tmp?: string };

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe("a change after the response, after the handler changed the session", () => {
  it("does not write the handler's (already saved) change again over a newer write of another request", async () => {
    const store = new MemoryStore();
    const release = gate();
    const app = new Hono()
      .use(session<Data>({ secret: SECRET, store, logger: new MemoryLogger() }))
      .get("/read", async (c) => c.json(await c.var.session.get()))
      .post("/inc", async (c) => {
        await c.var.session.set("n", ((await c.var.session.get("n")) ?? 0) + 1);
        return c.text("ok");
      })
      .post("/stream", async (c) => {
        // The handler's own change: saved by the middleware with the response.
        await c.var.session.set("n", 100);
        return streamSSE(c, async (stream) => {
          await stream.writeSSE({ data: "started" });
          await release.opened;
          try {
            await c.var.session.set("user", "late");
            await stream.writeSSE({ data: "done" });
          } catch (error) {
            await stream.writeSSE({ data: error instanceof SessionNotSavedError ? "not saved" : String(error) });
          }
        });
      });
    const browser = new Browser(app);
    await browser.fetch("/inc", { method: "POST" }); // n: 1
    const res = await browser.fetch("/stream", { method: "POST" }); // n: 100
    const reader = res.body!.getReader();
    await reader.read(); // "started": the middleware has saved n = 100
    await browser.fetch("/inc", { method: "POST" }); // another request of the browser: n = 101
    expect(await browser.json("/read")).toEqual({ n: 101 });
    release.open();
    let text = "";
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    expect(text).toContain("done");
    // The late change adds `user`; it must not put n back to the 100 the handler wrote before.
    expect(await browser.json("/read")).toEqual({ n: 101, user: "late" });
  });
});
