import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and middleware tests inside workerd; redis-server and the REST gateway run in Node (globalSetup).
        plugins: [
          cloudflareTest({
            main: "./app/worker.ts",
            miniflare: {
              compatibilityDate: "2026-04-01",
              durableObjects: { SESSION_STORE: { className: "SessionStoreObject", useSQLite: true } },
            },
          }),
        ],
        resolve: {
          // The pool ignores wrangler's [alias]: mirror it, with the Durable Object store as the bundled one.
          alias: { "hono-edge-session/custom-store": here("./app/custom-store.ts") },
        },
        test: {
          name: "workerd",
          include: ["test/workerd/**/*.test.ts"],
          globalSetup: ["./test/support/global-redis.ts"],
        },
      },
      {
        // Tests that drive whole isolates (Miniflare, wrangler builds) and stop redis-server: they run from Node.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          // The fuzz test reads the worker's heap through workerd's inspector, over a WebSocket: Node 20 has
          // a WebSocket client only with this flag (later versions have it without).
          execArgv: typeof WebSocket === "undefined" ? ["--experimental-websocket"] : [],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
