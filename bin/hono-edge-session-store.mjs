#!/usr/bin/env node
// hono-edge-session-store <store module>: the [build] command that bundles a custom store module (the one
// EXT_SESSION_MGT.externalStoreFilePath names, as the application router's configuration does), since a
// worker cannot load files at run time. In wrangler.toml:
//
//   [build]
//   command = "npx hono-edge-session-store ./src/session-store.js"
//   [alias]
//   "hono-edge-session/custom-store" = "./.hono-edge-session/custom-store.js"
//
// It writes .hono-edge-session/custom-store.js, the module the alias puts behind the package's
// "hono-edge-session/custom-store" import: it imports the store module, so the bundler includes it, and at
// start-up (module scope, where workerd can read the bindings, secrets included) checks that
// EXT_SESSION_MGT.externalStoreFilePath names this very module, so a worker whose build and configuration
// disagree does not start.
//
// The module comes from the argument only: it is what the build can see. (EXT_SESSION_MGT is a secret in
// production, which a build never sees.) The Durable Object and Redis stores need no build step at all.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const NAME = "hono-edge-session-store";
const OUT_DIR = ".hono-edge-session";
const OUT_FILE = join(OUT_DIR, "custom-store.js");
const USAGE = `Usage: ${NAME} <store module>

Bundles a custom session store: the module EXT_SESSION_MGT.externalStoreFilePath names (a path relative to
the project, extension optional, or a package specifier). Run it as the build command, in wrangler.toml:

  [build]
  command = "npx ${NAME} ./src/session-store.js"

  [alias]
  "hono-edge-session/custom-store" = "./.hono-edge-session/custom-store.js"

The Durable Object and Redis stores need no build step: give them in code (see the README).`;

function fail(message) {
  console.error(`${NAME}: ${message}`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.includes("-h") || args.includes("--help")) {
  console.log(USAGE);
  process.exit(0);
}
if (args.length !== 1 || args[0].trim() === "") {
  fail(
    `${args.length === 0 ? "no store module named" : `one store module, not ${args.length} arguments`}: add ` +
      `the path that EXT_SESSION_MGT.externalStoreFilePath names to the build command in wrangler.toml, e.g.\n\n` +
      `  [build]\n  command = "npx ${NAME} ./src/session-store.js"\n\nRun ${NAME} --help for more.`,
  );
}
const path = args[0];

const SUFFIXES = ["", ".ts", ".mts", ".cts", ".js", ".mjs", ".cjs", "/index.ts", "/index.js", "/index.mjs"];
const looksLikePath = path.startsWith(".") || isAbsolute(path);
/** The file a path names, as a bundler would find it; `undefined` for a package specifier. */
const file = SUFFIXES.map((suffix) => resolve(path + suffix)).find(
  (candidate) => existsSync(candidate) && statSync(candidate).isFile(),
);

if (looksLikePath && file === undefined) {
  fail(`no module at ${path} (tried ${SUFFIXES.filter(Boolean).join(", ")})`);
}
if (file !== undefined) refuseCommonJsAsEsm(file);

/**
 * A ".js" file under a `"type": "module"` package.json is an ES module to every bundler: CommonJS there
 * (the application router's sample, `module.exports.getStore = …`) fails at start-up with "module is not
 * defined". Say so now, with the fix.
 */
function refuseCommonJsAsEsm(file) {
  if (extname(file) !== ".js" || packageTypeOf(file) !== "module") return;
  const source = readFileSync(file, "utf8");
  const commonJs = /\bmodule\.exports\b|\bexports\.\w+\s*=|\brequire\s*\(/.test(source);
  const esm = /^\s*(import|export)\b/m.test(source);
  if (commonJs && !esm) {
    fail(
      `${path} is CommonJS (module.exports, require) in a "type": "module" package, where a .js file is an ES ` +
        `module: rename it to .cjs (in the build command and in EXT_SESSION_MGT.externalStoreFilePath), or ` +
        `write it with export/import`,
    );
  }
}

/** The "type" of the nearest package.json above the file ("commonjs" when there is none). */
function packageTypeOf(file) {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        return JSON.parse(readFileSync(manifest, "utf8")).type ?? "commonjs";
      } catch {
        return "commonjs";
      }
    }
    if (dirname(dir) === dir) return "commonjs";
  }
}

/** A relative import specifier from the generated module to a file. */
function importOf(target) {
  const specifier = relative(resolve(OUT_DIR), target).split("\\").join("/");
  return specifier.startsWith(".") ? specifier : `./${specifier}`;
}

// The start-up check is the package's own (one implementation, tested with the package): from its sources
// in this repository, else from the built package this bin belongs to.
const packageRoot = fileURLToPath(new URL("..", import.meta.url));
const checkModule = [
  join(packageRoot, "src/custom-store/bundled-store.ts"),
  join(packageRoot, "dist/custom-store/bundled-store.js"),
].find(existsSync);
if (checkModule === undefined) fail(`cannot find the package's start-up check under ${packageRoot} (was it built?)`);

const source = `// Generated by \`${NAME} ${path}\`, the [build] command in wrangler.toml; the [alias] of
// "hono-edge-session/custom-store" points here. Do not edit: every build writes it again.
import { env } from "cloudflare:workers";
import { checkBundledStore } from ${JSON.stringify(importOf(checkModule))};
import * as module from ${JSON.stringify(file === undefined ? path : importOf(file))};

// At start-up, before anything is served: EXT_SESSION_MGT.externalStoreFilePath must name this module.
checkBundledStore(env.EXT_SESSION_MGT, ${JSON.stringify(path)});

export const bundledStore = { path: ${JSON.stringify(path)}, module };
`;

mkdirSync(OUT_DIR, { recursive: true });
// Generated, never committed: the directory ignores itself, so no project needs a .gitignore line for it.
const ignore = join(OUT_DIR, ".gitignore");
if (!existsSync(ignore)) writeFileSync(ignore, "*\n");
const previous = existsSync(OUT_FILE) ? readFileSync(OUT_FILE, "utf8") : undefined;
// Rewriting an unchanged file would make `wrangler dev` rebuild in a loop.
if (previous !== source) writeFileSync(OUT_FILE, source);
console.log(`${NAME}: bundling ${path}`);
