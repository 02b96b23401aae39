import type { BundledStore } from "./bundled-store.js";

/**
 * What "hono-edge-session/custom-store" resolves to when no alias replaces it: no custom store, and
 * nothing of the feature in the bundle.
 */
export const bundledStore: BundledStore | undefined = undefined;
