import { SessionConfigError } from "../errors.js";
import type { UserCustomStore } from "../stores/types.js";

/** What the generated `.hono-edge-session/custom-store.js` exports: the store module and the path it came from. */
export interface BundledStore {
  path: string;
  module: unknown;
}

/** What the layer calls; the interface's other methods (clear, length, ttl, exists) are optional. */
const REQUIRED = ["get", "set", "destroy", "resetTimer"] as const;
const PROPERTY = "EXT_SESSION_MGT.externalStoreFilePath";

/**
 * At start-up, before anything is served: the custom store this build bundles (its path, or `undefined`
 * for none) against the one the `EXT_SESSION_MGT` binding names. On Workers the bindings, secrets included,
 * can be read at module scope, so the generated `.hono-edge-session/custom-store.js` and, with nothing
 * bundled, `none-workerd.ts` call this there: a mismatch stops the worker from starting (`wrangler dev`,
 * Miniflare, the upload's validation) instead of failing every request.
 *
 * Only the path is read, and leniently: a binding that is missing or not JSON is left to the full checks
 * of the first request (the options may give the configuration in code; the error must not quote a secret).
 */
export function checkBundledStore(extSessionMgt: unknown, bundledPath: string | undefined): void {
  const configured = configuredPath(extSessionMgt);
  if (configured === UNREADABLE) return;
  if (configured === undefined && bundledPath !== undefined) {
    throw new SessionConfigError(
      PROPERTY,
      `is not set, but this build bundles the custom store ${JSON.stringify(bundledPath)} (the [build] command in ` +
        `wrangler.toml): set it to ${JSON.stringify(bundledPath)}, or drop the build step`,
    );
  }
  if (configured !== undefined && bundledPath === undefined) {
    throw noneBundled(configured, undefined, "or remove externalStoreFilePath when the store is given in code");
  }
  if (configured !== undefined && bundledPath !== undefined && !sameModule(configured, bundledPath)) {
    throw new SessionConfigError(
      PROPERTY,
      `names ${JSON.stringify(configured)}, but this build bundles the custom store ${JSON.stringify(bundledPath)} ` +
        "(the [build] command in wrangler.toml): make them name the same module",
    );
  }
}

/**
 * The store that `externalStoreFilePath` names, from the module bundled at build time. Fails with an error
 * naming both paths when the bundle holds another module (or none), since a worker cannot load files at
 * run time. (On Workers `checkBundledStore` has said so at start-up already, unless the configuration came
 * in code.)
 */
export function storeFromBundle(
  configuredPath: string,
  storageType: string,
  bundled: BundledStore | undefined,
): UserCustomStore {
  if (bundled === undefined) {
    throw noneBundled(configuredPath, `storageType ${JSON.stringify(storageType)}`, "as the README shows");
  }
  if (!sameModule(bundled.path, configuredPath)) {
    throw new SessionConfigError(
      PROPERTY,
      `names ${JSON.stringify(configuredPath)}, but the bundled custom store is ${JSON.stringify(bundled.path)}; rebuild so they match`,
    );
  }
  const module = bundled.module as { getStore?: unknown; default?: { getStore?: unknown } };
  const getStore = module.getStore ?? module.default?.getStore;
  if (typeof getStore !== "function") {
    throw new SessionConfigError(PROPERTY, `module ${JSON.stringify(bundled.path)} exports no getStore() function`);
  }
  const store = getStore() as Partial<Record<(typeof REQUIRED)[number], unknown>> | null | undefined;
  const missing = REQUIRED.filter((method) => typeof store?.[method] !== "function");
  if (missing.length > 0) {
    throw new SessionConfigError(
      PROPERTY,
      `the store from ${JSON.stringify(bundled.path)} lacks ${missing.join(", ")} of the UserCustomStore interface`,
    );
  }
  return store as UserCustomStore;
}

function noneBundled(configuredPath: string, detail: string | undefined, otherwise: string): SessionConfigError {
  const named = `${JSON.stringify(configuredPath)}${detail === undefined ? "" : ` (${detail})`}`;
  return new SessionConfigError(
    PROPERTY,
    `names ${named}, but this build bundles no custom store: bundle it with [build] command = ` +
      `"npx hono-edge-session-store ${configuredPath}" and the [alias] in wrangler.toml, ${otherwise}`,
  );
}

const UNREADABLE = Symbol("unreadable");

/** `externalStoreFilePath` of the raw binding (JSON text, or an object from wrangler's [vars]). */
function configuredPath(raw: unknown): string | undefined | typeof UNREADABLE {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return UNREADABLE;
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return UNREADABLE;
  const path = (value as { externalStoreFilePath?: unknown }).externalStoreFilePath;
  if (path === undefined) return undefined;
  return typeof path === "string" && path.trim() !== "" ? path : UNREADABLE;
}

/** "./src/x.ts", "src/x" and "src\\x.js" name the same module. */
function sameModule(a: string, b: string): boolean {
  return normalise(a) === normalise(b);
}

function normalise(path: string): string {
  return path
    .replace(/\\/g, "/")
    .replace(/^(\.\/)+/, "")
    .replace(/\.(c|m)?(t|j)s$/, "");
}
