// Builds the bin `hono-edge-session-redis-rest` (tools/redis-rest/ → dist/tools/redis-rest/cli.js): one Node
// ESM file with redis-parser bundled in, so the command runs from the package alone and redis-parser (which
// nothing else uses) is never installed into the apps that depend on this package. Part of `npm run build`.
import { rmSync } from "node:fs";
import { build } from "esbuild";

// Earlier builds compiled the directory file by file: nothing of that may be packed beside the bundle.
rmSync("dist/tools/redis-rest", { recursive: true, force: true });

await build({
  entryPoints: ["tools/redis-rest/cli.ts"],
  outfile: "dist/tools/redis-rest/cli.js",
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // redis-parser is CommonJS and requires Node's built-ins; an ES module has no `require` of its own.
  banner: {
    js: [
      "// Bundles redis-parser 3 (MIT, (c) 2015 NodeRedis) and redis-errors 1 (MIT, (c) 2017 Ruben Bridgewater).",
      'import { createRequire as __createRequire } from "node:module";',
      "const require = __createRequire(import.meta.url);",
    ].join("\n"),
  },
  logLevel: "warning",
});
