import { describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, SECRET, waitFor } from "../support/node.js";

/*
 * Secret rotation on real isolates: live sessions on two isolates continue across a rotation (and move on
 * their next write), and across the removal of the old secret exactly those only it could open end.
 */
const isolates = useIsolates();
const NEW = "rotated-secret-".padEnd(80, "r");

describe("secret rotation across isolates", () => {
  it("keeps every live session across a rotation, moves each on its next write, and ends the unmoved ones when the old secret goes", async () => {
    const before = await startApp(isolates, 2);
    const [a, b] = before;
    const onA = new BrowserJar();
    const onB = new BrowserJar();
    await a!.json(onA, "/session", { method: "PUT", json: { user: "ada" } });
    await b!.json(onB, "/session", { method: "PUT", json: { user: "bob" } });
    // Both writes land after their responses: wait for them, then exactly two keys.
    const keys = () => isolates.stack.client.keys(`${before.instance}:*`);
    await waitFor(async () => (await keys()).length >= 2, "both sessions in the store");
    expect(await keys()).toHaveLength(2);

    // The rotation: new isolates of the same app (same instanceName), the old secret now a previous one.
    const rotatedBindings = { secret: NEW, previousSecrets: [SECRET] };
    const after = await startApp(isolates, 2, rotatedBindings, before.instance);
    const [c, d] = after;
    expect(await c!.json(onA, "/session")).toEqual({ user: "ada" });
    expect(await d!.json(onB, "/session")).toEqual({ user: "bob" });
    // Bob writes: his session moves to the new secret's key; Ada's stays where it was until she writes.
    await c!.json(onB, "/session", { method: "PUT", json: { step: 2 } });
    // The write lands after the response. Then: Ada's, Bob's old key (now a small "moved" marker), Bob's new key.
    await waitFor(async () => (await keys()).length >= 3, "Bob's session under the new secret's key");
    expect(await keys()).toHaveLength(3);
    expect(await d!.json(onB, "/session")).toEqual({ user: "bob", step: 2 });

    // The old secret goes: Bob (moved, cookies signed again) continues; Ada (never written since) starts over.
    const withoutOld = await startApp(isolates, 1, { secret: NEW }, before.instance);
    const [e] = withoutOld;
    expect(await e!.json(onB, "/session")).toEqual({ user: "bob", step: 2 });
    const res = await e!.fetch(onA, "/session");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
  });
});
