import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        // Unit and middleware tests inside workerd; redis-server and the REST gateway run in Node (globalSetup).
        plugins: [
          cloudflareTest({
            miniflare: { compatibilityDate: "2026-04-01" },
          }),
        ],
        test: {
          name: "workerd",
          include: ["test/workerd/**/*.test.ts"],
          globalSetup: ["./test/support/global-redis.ts"],
        },
      },
      {
        // Tests that drive whole isolates (Miniflare instances) and stop redis-server: they run from Node.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
