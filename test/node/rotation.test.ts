import { describe, expect, it } from "vitest";
import { startApp, useIsolates } from "../support/isolates.js";
import { BrowserJar, SECRET, waitFor } from "../support/node.js";

/*
 * Secret rotation on real isolates: live sessions on two isolates continue across a rotation (and are sealed
 * again in place, under the same store key, on their next write), and across the removal of the old secret
 * exactly those only it could open end.
 */
const isolates = useIsolates();
const NEW = "rotated-secret-".padEnd(80, "r");

describe("secret rotation across isolates", () => {
  it("keeps every live session across a rotation, seals each again in place on its next write, and ends the others when the old secret goes", async () => {
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
    // Bob writes: his session is sealed with the new secret, under the same key; Ada's stays sealed with the old one.
    const [bobKey] = (await keys()).filter(async () => true);
    const sealedBefore = new Map(
      await Promise.all((await keys()).map(async (k) => [k, await isolates.stack.client.get(k)] as const)),
    );
    await c!.json(onB, "/session", { method: "PUT", json: { step: 2 } });
    // The write lands after the response; still two keys, one of them written again.
    await waitFor(async () => {
      const now = await Promise.all(
        (await keys()).map(async (k) => (await isolates.stack.client.get(k)) !== sealedBefore.get(k)),
      );
      return now.filter(Boolean).length === 1;
    }, "Bob's session sealed again");
    expect(await keys()).toHaveLength(2);
    expect(bobKey).toBeDefined();
    expect(await d!.json(onB, "/session")).toEqual({ user: "bob", step: 2 });

    // The old secret goes: Bob (sealed again, cookies signed again) continues; Ada (never written since) starts over.
    const withoutOld = await startApp(isolates, 1, { secret: NEW }, before.instance);
    const [e] = withoutOld;
    expect(await e!.json(onB, "/session")).toEqual({ user: "bob", step: 2 });
    const res = await e!.fetch(onA, "/session");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
  });
});
