// What the generated .hono-edge-session/custom-store.js holds when EXT_SESSION_MGT names the Durable Object
// store; vitest.config.ts aliases "hono-edge-session/custom-store" here, as wrangler.toml does for builds.
import * as module from "../../src/stores/durable-object/index.js";

export const bundledStore = { path: "./src/stores/durable-object/index.ts", module };
