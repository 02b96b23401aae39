import { env } from "cloudflare:workers";
import { checkBundledStore, type BundledStore } from "./bundled-store.js";

/*
 * What "hono-edge-session/custom-store" resolves to on Workers (the package's `workerd` export condition)
 * when no alias replaces it: no custom store. At start-up it checks that the configuration names none
 * either, so a worker whose EXT_SESSION_MGT names a store module that was never bundled does not start,
 * rather than failing every request (see checkBundledStore).
 */
checkBundledStore((env as Record<string, unknown> | undefined)?.["EXT_SESSION_MGT"], undefined);

export const bundledStore: BundledStore | undefined = undefined;
