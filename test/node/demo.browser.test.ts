import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile } from "node:fs/promises";
import { chromium, type Browser, type BrowserContext, type Page, type Response } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Isolate, SECRET } from "../support/node.js";

/*
 * The demo page of `npm start`, in a real browser: the reference worker on the Durable Object store (the
 * embedded default, nothing persisted) listening on a real port, Debian's Chromium driven by
 * playwright-core, and two browser contexts as two devices. Each sentence of the issue is one test; every
 * action's log line must carry the response's Server-Timing, and anything the worker logs fails the test.
 */
const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
/** The reference worker's staleness bound (the default of maxStalenessMs). */
const STALENESS_BOUND_MS = 5_000;
/** Overwritten by each run (test/.tmp is git-ignored); copied to docs/demo.png with UPDATE_DEMO_SCREENSHOT=1. */
const SCREENSHOT = "test/.tmp/demo-screenshot.png";

let worker: Isolate;
let browser: Browser;
let base: string;
const contexts: BrowserContext[] = [];
/** Uncaught errors in any page: there must be none. */
const pageErrors: string[] = [];
let noChromium: Error | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    noChromium = new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run installs it when missing)`);
    return;
  }
  const ext = {
    instanceName: "demo",
    storageType: "durable-object",
    sessionSecret: SECRET,
    externalStoreFilePath: "./src/stores/durable-object/index.ts",
  };
  // Each assigned as soon as it runs, so afterAll stops it even if the other failed to start.
  await Promise.all([
    Isolate.start(
      { EXT_SESSION_MGT: JSON.stringify(ext), SESSION_TIMEOUT: "15" },
      { customStore: "./test/support/bundled-store.ts", durableObjectStore: true, listen: true },
    ).then((started) => (worker = started)),
    chromium
      .launch({
        executablePath: CHROMIUM,
        // The machine's network is closed: nothing of Chromium's own may reach out.
        args: [
          "--headless=new",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      })
      .then((launched) => (browser = launched)),
  ]);
  base = worker.url!.toString().replace(/\/$/, "");
});

// Fail, never skip: without Chromium every test fails with the reason (the promise is a real browser).
beforeEach(() => {
  if (noChromium !== undefined) throw noChromium;
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
  expect(pageErrors.splice(0)).toEqual([]);
  expect(worker?.logs ?? []).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await worker?.dispose();
});

/** A device: its own browser context (cookies), with the page open (unless `load` is false). */
async function device(load = true): Promise<Page> {
  const context = await browser.newContext({
    baseURL: base,
    viewport: { width: 1280, height: 860 },
    locale: "en-GB",
    timezoneId: "UTC",
  });
  contexts.push(context);
  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(error.message));
  if (load) await open(page);
  return page;
}

/** Loads (or reloads) the page; answers the page's own response. */
async function open(page: Page, reload = false): Promise<Response> {
  const response = reload ? await page.reload() : await page.goto("/");
  await settled(page);
  return response!;
}

/** Every request the page started has answered and been rendered. */
async function settled(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset["pending"] === "0");
}

async function signIn(page: Page, name: string): Promise<void> {
  await page.fill("#name", name);
  await page.click("#sign-in-form button[type=submit]");
  await page.locator("#who").waitFor({ state: "visible" });
  await settled(page);
  expect(await page.textContent("#who-name")).toBe(name);
}

async function signedOut(page: Page): Promise<boolean> {
  return (await page.isVisible("#sign-in-form")) && !(await page.isVisible("#who"));
}

/** The "your sessions" rows: is each the current one. */
async function sessions(page: Page): Promise<boolean[]> {
  return page.$$eval("#sessions li", (rows) => rows.map((row) => (row as HTMLElement).dataset["current"] === "true"));
}

async function cart(page: Page): Promise<string[]> {
  return page.$$eval("#cart li", (items) => items.map((item) => item.textContent ?? ""));
}

/** The log panel's entries, newest first: the action, the status and the Server-Timing it showed. */
async function logged(page: Page): Promise<{ action: string; status: number; timing: string; text: string }[]> {
  return page.$$eval("#log li", (items) =>
    items.map((item) => {
      const { action = "", status = "0", timing = "" } = (item as HTMLElement).dataset;
      return { action, status: Number(status), timing, text: item.textContent ?? "" };
    }),
  );
}

const TIMING =
  /^session;desc="(hit|revalidated|miss|new)", session-store;dur=[\d.]+;desc="\d+ round trips?", session-seal;dur=[\d.]+, session-unseal;dur=[\d.]+/;

/** Each action on the page logged its response's Server-Timing, shown as a line of its own. */
async function expectEveryActionTimed(page: Page): Promise<void> {
  const entries = await logged(page);
  expect(entries.length).toBeGreaterThan(0);
  for (const entry of entries) {
    expect(entry.timing, `the log line of "${entry.action}"`).toMatch(TIMING);
    expect(entry.text).toContain(`Server-Timing: ${entry.timing}`);
  }
}

describe("the demo page of npm start, in Chromium", () => {
  it("serves the page at / with the sign-in form, and logs the first request's Server-Timing", async () => {
    const page = await device(false);
    const response = await open(page);
    expect(response.status()).toBe(200);
    expect(response.headers()["content-type"]).toMatch(/^text\/html/);
    expect(response.headers()["content-security-policy"]).toContain("script-src 'self'");
    expect(await signedOut(page)).toBe(true);
    const [load] = await logged(page);
    expect(load).toMatchObject({ action: "load the page", status: 200 });
    expect(load!.timing).toMatch(/^session;desc="new"/);
    await expectEveryActionTimed(page);
  });

  it("signs two devices in as the same user; each lists both sessions, itself marked current", async () => {
    const [laptop, phone] = [await device(), await device()];
    await signIn(laptop, "Ada Lovelace");
    await signIn(phone, "Ada Lovelace");
    // The phone signed in second: its list, loaded at sign-in, already has both. The laptop refreshes.
    expect(await sessions(phone)).toEqual(expect.arrayContaining([true, false]));
    await laptop.click("#refresh-sessions");
    await settled(laptop);
    for (const page of [laptop, phone]) {
      const rows = await sessions(page);
      expect(rows).toHaveLength(2);
      expect(rows.filter(Boolean)).toHaveLength(1);
      expect(await page.textContent("#sessions-count")).toBe("2");
    }
    // The two lists name the same two sessions, each device marking its own.
    const handles = (page: Page) =>
      page.$$eval("#sessions li", (rows) =>
        rows.map((row) => `${row.querySelector(".handle")?.textContent}:${(row as HTMLElement).dataset["current"]}`),
      );
    const [onLaptop, onPhone] = [await handles(laptop), await handles(phone)];
    expect(onLaptop.map((h) => h.split(":")[0]).sort()).toEqual(onPhone.map((h) => h.split(":")[0]).sort());
    expect(onLaptop.find((h) => h.endsWith(":true"))).not.toBe(onPhone.find((h) => h.endsWith(":true")));
    // After a reload each is still signed in as Ada, and still sees both.
    await open(laptop, true);
    expect(await laptop.textContent("#who-name")).toBe("Ada Lovelace");
    expect(await sessions(laptop)).toHaveLength(2);
    for (const page of [laptop, phone]) await expectEveryActionTimed(page);
  });

  it("lands all ten parallel adds of the page's button (update()), and they are there after a reload", async () => {
    const [laptop, phone] = [await device(), await device()];
    await signIn(phone, "grace");
    await signIn(laptop, "grace");
    const adds: Response[] = [];
    laptop.on("response", (response) => {
      if (response.url().endsWith("/demo/api/cart")) adds.push(response);
    });
    await laptop.fill("#item", "apple");
    await laptop.click("#add-ten");
    await laptop.waitForFunction(() => document.querySelectorAll('#log li[data-action$="(parallel)"]').length === 10);
    await laptop.waitForFunction(() => document.querySelector("#notice")?.textContent?.includes("parallel adds"));
    await settled(laptop);
    const ten = Array.from({ length: 10 }, (_, i) => `apple #${i + 1}`);

    // Ten POSTs, all answered 200, each with its own Server-Timing: an update() always goes to the store.
    expect(adds).toHaveLength(10);
    expect(adds.map((r) => r.status())).toEqual(Array(10).fill(200));
    const addLines = (await logged(laptop)).filter((e) => e.action.endsWith("(parallel)"));
    expect(addLines).toHaveLength(10);
    for (const line of addLines) expect(line.timing).toMatch(/session-store;dur=[\d.]+;desc="[1-9]\d* round trips?"/);
    expect((await cart(laptop)).sort()).toEqual([...ten].sort());
    expect(await laptop.textContent("#notice")).toContain("10 of 10 parallel adds landed");
    await expectEveryActionTimed(laptop);
    await screenshot(laptop);

    // A reload (a new page, read through the layer again): all ten are there, each once.
    await open(laptop, true);
    expect((await cart(laptop)).sort()).toEqual([...ten].sort());
    expect(await laptop.textContent("#cart-count")).toBe("10");
    // The cart is this device's session: the other device's stays empty.
    await open(phone, true);
    expect(await cart(phone)).toEqual([]);
    for (const page of [laptop, phone]) await expectEveryActionTimed(page);
  });

  it("signs the other device out on its next request after 'sign out everywhere'", async () => {
    const [laptop, phone] = [await device(), await device()];
    await signIn(laptop, "linus");
    await signIn(phone, "linus");
    expect(await sessions(phone)).toHaveLength(2);

    await phone.click("#sign-out-everywhere");
    await phone.locator("#sign-in-form").waitFor({ state: "visible" });
    await settled(phone);
    expect(await signedOut(phone)).toBe(true);
    expect(await phone.textContent("#notice")).toContain("2 sessions ended");
    const revokedAt = Date.now();

    // The laptop's page still shows it signed in; its next request (an add) finds its session ended.
    expect(await laptop.isVisible("#who")).toBe(true);
    await laptop.fill("#item", "pear");
    await laptop.click("#cart-form button[type=submit]");
    await laptop.locator("#sign-in-form").waitFor({ state: "visible" });
    await settled(laptop);
    expect(Date.now() - revokedAt).toBeLessThan(STALENESS_BOUND_MS);
    const [add] = await logged(laptop);
    expect(add).toMatchObject({ action: "add to cart", status: 401 });
    expect(await signedOut(laptop)).toBe(true);
    expect(await laptop.textContent("#notice")).toContain("This session has ended");
    // And it stays signed out: a reload shows the sign-in form.
    expect((await open(laptop, true)).status()).toBe(200);
    expect(await signedOut(laptop)).toBe(true);
    // Signing in again starts over: one session, the new one.
    await signIn(laptop, "linus");
    expect(await sessions(laptop)).toEqual([true]);
    for (const page of [laptop, phone]) await expectEveryActionTimed(page);
  });

  it("gives a fresh, signed-out page for a tampered cookie, never an error page", async () => {
    const page = await device();
    await signIn(page, "mallory");
    await page.fill("#item", "cake");
    await page.click("#cart-form button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#cart li").length === 1);
    const context = page.context();
    const cookies = await context.cookies();
    const id = cookies.find((c) => c.name === "JSESSIONID");
    expect(id, "the session cookie").toBeDefined();
    expect(id!.httpOnly).toBe(true);

    // One character of the signed id changed.
    const value = id!.value;
    const tampered = `${value[0] === "A" ? "B" : "A"}${value.slice(1)}`;
    await context.addCookies([{ ...id!, value: tampered }]);
    expect((await context.cookies()).find((c) => c.name === "JSESSIONID")!.value).toBe(tampered);
    const response = await open(page, true);
    expect(response.status()).toBe(200);
    expect(await signedOut(page)).toBe(true);
    expect(await page.textContent("body")).not.toMatch(/Internal Server Error|Service Unavailable/);
    const [load] = await logged(page);
    expect(load).toMatchObject({ action: "load the page", status: 200 });
    expect(load!.timing).toMatch(/^session;desc="new"/);

    // Signing in again from there works, with an empty cart: nothing of the old session came back.
    await signIn(page, "mallory");
    expect(await cart(page)).toEqual([]);

    // A cookie that was never signed at all: the same fresh page.
    await context.addCookies([{ ...id!, value: "forged.value" }]);
    expect((await open(page, true)).status()).toBe(200);
    expect(await signedOut(page)).toBe(true);
    await expectEveryActionTimed(page);
  });

  it("shows every user input as text, and refuses names and items past the rules", async () => {
    const page = await device();
    const name = '<img src=x onerror="window.hacked=1">';
    expect([...name].length).toBeLessThanOrEqual(40);
    await signIn(page, name);
    expect(await page.$$eval("#who-name *", (children) => children.length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { hacked?: number }).hacked)).toBeUndefined();
    // Past the rules (too long, a control character, a bidirectional override, not a string): 400, nothing
    // saved; a body past 1 KiB: 413, before it is read.
    const post = (path: string, body: unknown) =>
      page.evaluate(
        async ([path, body]) =>
          (
            await fetch(path as string, {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify(body),
            })
          ).status,
        [path, body] as const,
      );
    for (const bad of ["x".repeat(41), "bad\u0007item", "abc\u202edef", "   ", 42]) {
      expect(await post("/demo/api/cart", { item: bad })).toBe(400);
      expect(await post("/demo/api/sign-in", { name: bad })).toBe(400);
    }
    const tooBig = await post("/demo/api/cart", { item: "y".repeat(4096) });
    expect(tooBig).toBe(413);
    await page.fill("#item", "x".repeat(40));
    await page.click("#cart-form button[type=submit]");
    await settled(page);
    expect(await cart(page)).toEqual(["x".repeat(40)]);
    // The JSON API writes any data: a cart that is not a list of strings is shown as what strings it has.
    const put = await page.evaluate(
      async () =>
        (
          await fetch("/session", {
            method: "PUT",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ name: 42, cart: ["ok", { evil: 1 }, 7] }),
          })
        ).status,
    );
    expect(put).toBe(200);
    await open(page, true);
    expect(await page.textContent("#who-name")).toBe(name);
    expect(await cart(page)).toEqual(["ok"]);
  });
});

/** The page in a meaningful state, saved under test/.tmp (and as docs/demo.png with UPDATE_DEMO_SCREENSHOT=1). */
async function screenshot(page: Page): Promise<void> {
  await mkdir("test/.tmp", { recursive: true });
  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  const png = await readFile(SCREENSHOT);
  expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(png.length).toBeGreaterThan(20_000);
  if (process.env["UPDATE_DEMO_SCREENSHOT"] === "1") {
    await mkdir("docs", { recursive: true });
    await copyFile(SCREENSHOT, "docs/demo.png");
  }
}
