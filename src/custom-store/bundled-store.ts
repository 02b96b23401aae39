import { SessionConfigError } from "../errors.js";
import type { UserCustomStore } from "../stores/types.js";

/** What the generated `.hono-edge-session/custom-store.js` exports: the store module and the path it came from. */
export interface BundledStore {
  path: string;
  module: unknown;
}

/** What the layer calls; the interface's other methods (clear, length, ttl, exists) are optional. */
const REQUIRED = ["get", "set", "destroy", "resetTimer"] as const;

/**
 * The store that `externalStoreFilePath` names, from the module bundled at build time. Fails with an error
 * naming both paths when the bundle holds another module (or none), since a worker cannot load files at
 * run time.
 */
export function storeFromBundle(
  configuredPath: string,
  storageType: string,
  bundled: BundledStore | undefined,
): UserCustomStore {
  const property = "EXT_SESSION_MGT.externalStoreFilePath";
  if (bundled === undefined) {
    throw new SessionConfigError(
      property,
      `names ${JSON.stringify(configuredPath)} (storageType ${JSON.stringify(storageType)}), but this build bundles no custom store; ` +
        "run hono-edge-session-store in the build (see README) so the module is bundled",
    );
  }
  if (normalise(bundled.path) !== normalise(configuredPath)) {
    throw new SessionConfigError(
      property,
      `names ${JSON.stringify(configuredPath)}, but the bundled custom store is ${JSON.stringify(bundled.path)}; rebuild so they match`,
    );
  }
  const module = bundled.module as { getStore?: unknown; default?: { getStore?: unknown } };
  const getStore = module.getStore ?? module.default?.getStore;
  if (typeof getStore !== "function") {
    throw new SessionConfigError(property, `module ${JSON.stringify(bundled.path)} exports no getStore() function`);
  }
  const store = getStore() as Partial<Record<(typeof REQUIRED)[number], unknown>> | null | undefined;
  const missing = REQUIRED.filter((method) => typeof store?.[method] !== "function");
  if (missing.length > 0) {
    throw new SessionConfigError(
      property,
      `the store from ${JSON.stringify(bundled.path)} lacks ${missing.join(", ")} of the UserCustomStore interface`,
    );
  }
  return store as UserCustomStore;
}

/** "./src/x.ts", "src/x" and "src\\x.js" name the same module. */
function normalise(path: string): string {
  return path
    .replace(/\\/g, "/")
    .replace(/^(\.\/)+/, "")
    .replace(/\.(c|m)?(t|j)s$/, "");
}
