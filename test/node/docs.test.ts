import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, normalize, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/parse-config.js";
import { MemoryStore } from "../../src/stores/memory-store.js";
import { redisStore } from "../../src/stores/redis/index.js";
import { devVarsOf } from "../support/quick-starts.js";
import {
  anchorsOf,
  isIllustrative,
  namedPath,
  quickStartOf,
  readDocBlocks,
  relativeLinksOf,
  tableColumn,
  tableRows,
  type DocBlock,
} from "../support/doc-blocks.js";

/*
 * Every code block of the README and of docs/ is checked, so what a reader copies works (see
 * test/support/doc-blocks.ts for the markers): TypeScript is compiled with strict settings against the
 * built package (dist/, through its exports map, in a project outside the repository, as an app would
 * import it), JavaScript is parsed by Node, wrangler.toml blocks are read by wrangler (an unknown field
 * fails), shell by `bash -n`, `.dev.vars` blocks by the package's own configuration parser, JSON by
 * JSON.parse. A block of another kind must be marked illustrative. The tables that list the options, the
 * events and the `c.var.session` methods are checked against the source, and every relative link and
 * anchor must lead somewhere. The quick starts are also built and run by install.test.ts.
 */
const run = promisify(execFile);
const root = resolve(".");
const pages = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];
const blocks = pages.flatMap((page) => readDocBlocks(page, root));

const TYPESCRIPT = new Set(["ts", "typescript"]);
const JAVASCRIPT = new Set(["js", "javascript", "mjs", "cjs"]);
const SHELL = new Set(["sh", "bash", "shell"]);
const CHECKED = new Set([...TYPESCRIPT, ...JAVASCRIPT, ...SHELL, "toml", "dotenv", "json"]);

const where = (block: DocBlock) => `${block.page}:${block.line}`;
const checked = (kinds: Set<string>) => blocks.filter((b) => kinds.has(b.lang) && !isIllustrative(b));
const isDevVars = (block: DocBlock) => block.lang === "dotenv" || quickStartOf(block)?.file === ".dev.vars";

/** Where a block goes in the example project: its page's folder, then its quick start, its named path, or its line. */
function fileOf(block: DocBlock): string {
  const page = block.page.replace(/\.md$/, "").replace(/\//g, "-");
  const quickStart = quickStartOf(block);
  if (quickStart !== undefined) return `${page}/${quickStart.setUp}/${quickStart.file}`;
  const ext = TYPESCRIPT.has(block.lang) ? "ts" : block.lang === "cjs" ? "cjs" : "js";
  return `${page}/${namedPath(block) ?? `block-${block.line}.${ext}`}`;
}

let project: string;
/** The example project's files: which block each came from. */
const sources = new Map<string, DocBlock>();

beforeAll(async () => {
  for (const built of ["dist/index.d.ts", "dist/index.js"]) {
    expect(existsSync(join(root, built)), `${built}: run npm run build first`).toBe(true);
  }
  project = await mkdtemp(join(tmpdir(), "hes-docs-"));
  // An app's node_modules: the package (as built, through its exports map) and what the blocks import.
  const links: Array<[string, string]> = [["hono-edge-session", root]];
  for (const name of [
    "hono",
    "@cloudflare/workers-types",
    "@types/node",
    "@upstash/redis",
    "@hono/node-server",
    "vitest",
  ]) {
    links.push([name, join(root, "node_modules", name)]);
  }
  for (const [name, target] of links) {
    await mkdir(dirname(join(project, "node_modules", name)), { recursive: true });
    await symlink(target, join(project, "node_modules", name), "dir");
  }
  await writeFile(join(project, "package.json"), JSON.stringify({ private: true, type: "module" }));
  for (const block of checked(new Set([...TYPESCRIPT, ...JAVASCRIPT]))) {
    const file = fileOf(block);
    const other = sources.get(file);
    if (other !== undefined) throw new Error(`${where(block)} and ${where(other)} are both ${file}: name one of them`);
    sources.set(file, block);
    // A block without imports or exports would be a script, its names global: make it a module.
    const module = /^\s*(import|export)\b/m.test(block.text) || !TYPESCRIPT.has(block.lang);
    await mkdir(dirname(join(project, file)), { recursive: true });
    await writeFile(join(project, file), module ? block.text : `${block.text}export {};\n`);
  }
});

afterAll(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true });
});

describe("the code blocks of the README and docs/", () => {
  it("are all of a kind this test checks, or marked illustrative", () => {
    expect(pages.length).toBeGreaterThan(1);
    const unchecked = blocks.filter((b) => !CHECKED.has(b.lang) && !isIllustrative(b)).map(where);
    expect(unchecked, "blocks neither checked nor marked <!-- illustrative -->").toEqual([]);
  });

  it("compile: TypeScript under strict settings against the built package, with Workers' or Node's types", async () => {
    const typescript = checked(TYPESCRIPT);
    expect(typescript.length).toBeGreaterThan(10);
    const strict = {
      target: "ES2022",
      lib: ["ES2023"],
      module: "ESNext",
      moduleResolution: "Bundler",
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      noEmit: true,
    };
    const forNode = (block: DocBlock) => block.markers.includes("check: node");
    const programs = [
      {
        name: "tsconfig.workers.json",
        types: ["@cloudflare/workers-types"],
        blocks: typescript.filter((b) => !forNode(b)),
      },
      { name: "tsconfig.node.json", types: ["node"], blocks: typescript.filter(forNode) },
    ];
    const tsc = join(root, "node_modules/typescript/bin/tsc");
    const errors = await Promise.all(
      programs.map(async ({ name, types, blocks: roots }) => {
        if (roots.length === 0) return [];
        const files = roots.map(fileOf);
        await writeFile(join(project, name), JSON.stringify({ compilerOptions: { ...strict, types }, files }));
        const output = await run(process.execPath, [tsc, "-p", name, "--pretty", "false"], { cwd: project }).then(
          ({ stdout }) => stdout,
          (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ""}${error.stderr ?? ""}`,
        );
        return output
          .split("\n")
          .filter((line) => line.trim() !== "")
          .map(atMarkdownLine);
      }),
    );
    expect(errors.flat()).toEqual([]);
  }, 120_000);

  it("parse: JavaScript as the module kind its file is (ESM, or CommonJS as .cjs)", async () => {
    const javascript = checked(JAVASCRIPT);
    expect(javascript.length).toBeGreaterThan(0);
    const failures = await Promise.all(
      javascript.map((block) =>
        run(process.execPath, ["--check", join(project, fileOf(block))]).then(
          () => undefined,
          (error: { stderr?: string }) => `${where(block)}: ${error.stderr ?? ""}`,
        ),
      ),
    );
    expect(failures.filter(Boolean)).toEqual([]);
  });

  it("parse: shell with bash -n", async () => {
    const shell = checked(SHELL);
    expect(shell.length).toBeGreaterThan(0);
    const failures = await Promise.all(
      shell.map((block) =>
        run("bash", ["-n", "-c", block.text]).then(
          () => undefined,
          (error: { stderr?: string }) => `${where(block)}: ${error.stderr ?? ""}`,
        ),
      ),
    );
    expect(failures.filter(Boolean)).toEqual([]);
  });

  it("are read by wrangler without a warning when they are wrangler.toml", async () => {
    const toml = checked(new Set(["toml"]));
    expect(toml.length).toBeGreaterThan(0);
    const { unstable_readConfig } = await import("wrangler");
    const problems: string[] = [];
    for (const block of toml) {
      const file = join(project, `wrangler-${block.page.replace(/\W/g, "-")}-${block.line}.toml`);
      await writeFile(file, block.text);
      const said: string[] = [];
      const warn = vi.spyOn(console, "warn").mockImplementation((...args: unknown[]) => void said.push(args.join(" ")));
      try {
        unstable_readConfig({ config: file });
      } catch (error) {
        said.push(String(error));
      } finally {
        warn.mockRestore();
      }
      if (said.length > 0) problems.push(`${where(block)}: ${said.join(" ")}`);
    }
    expect(problems).toEqual([]);
  });

  it("are a configuration the package accepts when they are .dev.vars (placeholders filled in)", () => {
    const devVars = blocks.filter((b) => isDevVars(b) && !isIllustrative(b));
    expect(devVars.length).toBeGreaterThan(2);
    const problems: string[] = [];
    for (const block of devVars) {
      const lines = block.text.split("\n").filter((line) => line.trim() !== "" && !line.trim().startsWith("#"));
      const vars = devVarsOf(block.text);
      if (Object.keys(vars).length !== lines.length) problems.push(`${where(block)}: a line that is not NAME=value`);
      // `<your secret>` and the like stand for a secret of at least 64 characters.
      const bindings = Object.fromEntries(
        Object.entries(vars).map(([name, value]) => [name, value.replace(/<[^>"]*>/g, "x".repeat(64))]),
      );
      if (bindings["EXT_SESSION_MGT"] === undefined) continue; // credentials alone (checked as NAME=value lines)
      const ext = JSON.parse(bindings["EXT_SESSION_MGT"]) as { storageType?: string; externalStoreFilePath?: string };
      // The store is given in code unless the configuration names Redis or a module (which the build bundles).
      const inCode = ext.storageType !== "redis" && ext.externalStoreFilePath === undefined;
      try {
        parseConfig(bindings, { redis: redisStore(), ...(inCode ? { store: new MemoryStore() } : {}) });
      } catch (error) {
        problems.push(`${where(block)}: ${String(error)}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("parse when they are JSON", () => {
    const failures: string[] = [];
    for (const block of checked(new Set(["json"]))) {
      try {
        JSON.parse(block.text);
      } catch (error) {
        failures.push(`${where(block)}: ${String(error)}`);
      }
    }
    expect(failures).toEqual([]);
  });
});

describe("the README and docs/", () => {
  it("link only to files and anchors that exist", () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const { target, line } of relativeLinksOf(readFileSync(join(root, page), "utf8"))) {
        const [path, anchor] = target.split("#") as [string, string | undefined];
        const file = path === "" ? page : normalize(join(dirname(page), path));
        if (!existsSync(join(root, file))) {
          broken.push(`${page}:${line}: ${target} (no file ${file})`);
        } else if (anchor !== undefined && file.endsWith(".md")) {
          if (!anchorsOf(readFileSync(join(root, file), "utf8")).has(anchor)) broken.push(`${page}:${line}: ${target}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("tie each promise to tests that exist, by file and title, in short cells", () => {
    const rows = tableRows(readFileSync(join(root, "docs/concepts.md"), "utf8"), "promise");
    expect(rows.length).toBeGreaterThan(20);
    const problems: string[] = [];
    for (const [promise, proof] of rows) {
      for (const cell of [promise!, proof!]) if (cell.length > 200) problems.push(`longer than 200: ${cell}`);
      const files = [...proof!.matchAll(/`(test\/[\w/.-]+\.test\.ts)`/g)].map((m) => m[1]!);
      if (files.length === 0) problems.push(`no test named for: ${promise}`);
      // Each title (in italics, "…" for the rest) stands in the file named before it.
      for (const part of proof!.split(/;\s*/)) {
        const file = /`(test\/[\w/.-]+\.test\.ts)`/.exec(part)?.[1] ?? files[0]!;
        if (!existsSync(join(root, file))) {
          problems.push(`no file ${file}`);
          continue;
        }
        const source = readFileSync(join(root, file), "utf8");
        for (const [, title] of part.matchAll(/_([^_]+)_/g)) {
          const words = title!.replace(/^…/, "").split("…")[0]!;
          if (!source.includes(words)) problems.push(`${file} has no test "${words}"`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("list every option of SessionOptions, and no other, in the README's and configuration.md's tables", () => {
    const options = membersOf("src/config/options.ts", "export interface SessionOptions", /^ {2}(\w+)\?:/);
    expect(options.length).toBeGreaterThan(20);
    for (const page of ["README.md", "docs/configuration.md"]) {
      const listed = tableColumn(readFileSync(join(root, page), "utf8"), "option");
      expect([...new Set(listed)].sort(), page).toEqual([...options].sort());
    }
  });

  it("list every event onEvent receives, and no other, in the README's table", () => {
    const events = membersOf("src/types.ts", "export type SessionEvent", /type: "([\w-]+)"/);
    expect(events.length).toBeGreaterThan(8);
    const listed = tableColumn(readFileSync(join(root, "README.md"), "utf8"), "event");
    expect([...new Set(listed)].sort()).toEqual([...events].sort());
  });

  it("list every method of c.var.session, and no other, in the README's table", () => {
    const methods = membersOf("src/types.ts", "export interface Session<", /^ {2}(\w+)(?:<[^>]*>)?\(/);
    expect(methods.length).toBeGreaterThan(10);
    const listed = tableColumn(readFileSync(join(root, "README.md"), "utf8"), "method").map((m) => /^\w+/.exec(m)![0]);
    expect([...new Set(listed)].sort()).toEqual([...new Set(methods)].sort());
  });

  it("list every error class of the package, and no other, in the README's table", () => {
    const source = readFileSync(join(root, "src/errors.ts"), "utf8");
    const errors = [...source.matchAll(/^export (?:abstract )?class (\w+)/gm)].map((m) => m[1]!);
    expect(errors.length).toBeGreaterThan(8);
    const listed = tableColumn(readFileSync(join(root, "README.md"), "utf8"), "error");
    expect([...new Set(listed)].sort()).toEqual([...errors].sort());
  });

  it("name every method of the store contract and its capabilities in stores.md's tables", () => {
    const listed = tableColumn(readFileSync(join(root, "docs/stores.md"), "utf8"), "method").map(
      (m) => /^\w+/.exec(m)![0],
    );
    const methods = ["UserCustomStore", "VersionedStore", "RevalidatingStore", "IndexedStore"].flatMap((name) =>
      membersOf("src/stores/types.ts", `export interface ${name}`, /^ {2}(\w+)\??\(/),
    );
    expect(methods.length).toBeGreaterThan(10);
    expect([...new Set(listed)].sort()).toEqual([...new Set(methods)].sort());
  });
});

/** The matches of `member` in the declaration that starts with `start`, up to its closing line. */
function membersOf(file: string, start: string, member: RegExp): string[] {
  const text = readFileSync(join(root, file), "utf8");
  const from = text.indexOf(start);
  expect(from, `${file}: ${start}`).toBeGreaterThanOrEqual(0);
  // An interface ends at its closing brace, a type at its semicolon.
  const body = text.slice(from, text.indexOf(start.includes("interface") ? "\n}" : ";\n", from));
  return body.split("\n").flatMap((line) => {
    const match = member.exec(line);
    return match === null ? [] : [match[1]!];
  });
}

/** A compiler message with the block's Markdown line in front: `docs/stores.md:40: src/my-store.ts(3,1): error …`. */
function atMarkdownLine(message: string): string {
  const match = /^(\S+?)\((\d+),(\d+)\)/.exec(message);
  const block = match === null ? undefined : sources.get(match[1]!);
  return block === undefined ? message : `${block.page}:${block.line + Number(match![2])}: ${message}`;
}
