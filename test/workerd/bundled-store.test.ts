import { describe, expect, it } from "vitest";
import { checkBundledStore, storeFromBundle } from "../../src/custom-store/bundled-store.js";
import { SessionConfigError } from "../../src/index.js";
import { SECRET } from "../support/workerd.js";

const path = "./storage/my-store";
const bundle = (store: object) => ({ path, module: { getStore: () => store } });
const required = { get: async () => null, set: async () => {}, destroy: async () => {}, resetTimer: () => {} };

describe("the bundled custom store", () => {
  it("needs only get, set, destroy and resetTimer", () => {
    expect(storeFromBundle(path, "custom", bundle(required))).toBe(required);
    const complete = {
      ...required,
      clear: async () => {},
      length: async () => 0,
      ttl: async () => -2,
      exists: () => false,
    };
    expect(storeFromBundle("storage/my-store.js", "custom", bundle(complete))).toBe(complete);
  });

  it("names the required methods a store lacks, and only those", () => {
    const { get: _get, resetTimer: _resetTimer, ...partial } = required;
    const attempt = () => storeFromBundle(path, "custom", bundle({ ...partial, clear: 1 }));
    expect(attempt).toThrow(SessionConfigError);
    expect(attempt).toThrow(/lacks get, resetTimer of the UserCustomStore interface/);
  });
});

/*
 * The start-up check the generated .hono-edge-session/custom-store.js (and, with nothing bundled, the
 * package's workerd module) runs at module scope. test/node/install.test.ts proves it stops a built worker
 * from starting; here are its rules.
 */
const ext = (fields: Record<string, unknown>) =>
  JSON.stringify({ instanceName: "sessions", storageType: "custom", sessionSecret: SECRET, ...fields });

/** The error the check throws; it must be a SessionConfigError that never quotes the secret. */
function refusal(raw: unknown, bundled: string | undefined): string {
  try {
    checkBundledStore(raw, bundled);
  } catch (error) {
    expect(error).toBeInstanceOf(SessionConfigError);
    expect((error as SessionConfigError).property).toBe("EXT_SESSION_MGT.externalStoreFilePath");
    expect((error as Error).message).not.toContain(SECRET.slice(0, 20));
    return (error as Error).message;
  }
  throw new Error("expected the check to refuse");
}

describe("checkBundledStore", () => {
  it("lets a worker start whose configuration names the bundled module, however the path is spelled", () => {
    for (const configured of [
      "./src/session-store.js",
      "src/session-store",
      "./src/session-store.ts",
      "src\\session-store.js",
    ]) {
      expect(() =>
        checkBundledStore(ext({ externalStoreFilePath: configured }), "./src/session-store.js"),
      ).not.toThrow();
    }
    expect(() =>
      checkBundledStore(
        ext({ externalStoreFilePath: "hono-edge-session/durable-object" }),
        "hono-edge-session/durable-object",
      ),
    ).not.toThrow();
  });

  it("lets a worker start that bundles nothing and is configured with no store module", () => {
    expect(() => checkBundledStore(ext({ storageType: "redis" }), undefined)).not.toThrow();
    expect(() => checkBundledStore({ storageType: "redis" }, undefined)).not.toThrow(); // an object from [vars]
  });

  it("refuses a configuration naming another module than the bundled one, naming both", () => {
    const message = refusal(ext({ externalStoreFilePath: "./src/other-store.js" }), "./src/session-store.js");
    expect(message).toContain('names "./src/other-store.js"');
    expect(message).toContain('bundles the custom store "./src/session-store.js"');
  });

  it("refuses a configuration naming no module while the build bundles one, saying which to name", () => {
    const message = refusal(ext({ storageType: "redis" }), "./src/session-store.js");
    expect(message).toContain('is not set, but this build bundles the custom store "./src/session-store.js"');
  });

  it("refuses a configuration naming a module no build step bundled, with the build command to add", () => {
    const message = refusal(ext({ externalStoreFilePath: "./storage/my-store.cjs" }), undefined);
    expect(message).toContain('names "./storage/my-store.cjs", but this build bundles no custom store');
    expect(message).toContain('command = "npx hono-edge-session-store ./storage/my-store.cjs"');
  });

  it("leaves a configuration it cannot read to the first request's full checks (it may come in code)", () => {
    for (const raw of [undefined, "", "{not json", "[]", 42, ext({ externalStoreFilePath: "" })]) {
      expect(() => checkBundledStore(raw, "./src/session-store.js")).not.toThrow();
      expect(() => checkBundledStore(raw, undefined)).not.toThrow();
    }
  });
});
