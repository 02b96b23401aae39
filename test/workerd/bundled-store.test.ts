import { describe, expect, it } from "vitest";
import { storeFromBundle } from "../../src/custom-store/bundled-store.js";
import { SessionConfigError } from "../../src/index.js";

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
