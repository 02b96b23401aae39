import { readFileSync } from "node:fs";

/**
 * The README's quick starts, block by block: each fenced block preceded by a comment
 * `<!-- quick-start <set-up>: <file> -->` (a `<!-- prettier-ignore -->` may stand between them). `<file>` is
 * a path in the app (`src/index.ts`, `wrangler.toml`, `.dev.vars`) or a name for a block that is not a file
 * (`install`, `secret`). So the tests build the apps from the very text a reader copies.
 */
export type QuickStarts = Map<string, Map<string, string>>;

const BLOCK = /<!-- quick-start ([\w-]+): (\S+) -->\s*(?:<!-- prettier-ignore -->\s*)?```[\w-]*\n([\s\S]*?)```/g;

export function readQuickStarts(path = "README.md"): QuickStarts {
  const setUps: QuickStarts = new Map();
  for (const [, setUp, file, text] of readFileSync(path, "utf8").matchAll(BLOCK)) {
    const files = setUps.get(setUp!) ?? new Map<string, string>();
    if (files.has(file!)) throw new Error(`README: two quick-start blocks for ${setUp}: ${file}`);
    setUps.set(setUp!, files.set(file!, text!));
  }
  return setUps;
}

/** One block of a set-up; a missing one fails the test that needs it, naming it. */
export function block(quickStarts: QuickStarts, setUp: string, file: string): string {
  const text = quickStarts.get(setUp)?.get(file);
  if (text === undefined) throw new Error(`README: no quick-start block "${setUp}: ${file}"`);
  return text;
}

/** The packages an `install` block's `npm install` lines name, as `{ name: versionSpec | "" }`. */
export function packagesOf(install: string): Map<string, string> {
  const packages = new Map<string, string>();
  for (const line of install.split("\n")) {
    const words = line.replace(/#.*/, "").trim().split(/\s+/);
    if (words[0] !== "npm" || words[1] !== "install") continue;
    for (const word of words.slice(2).filter((w) => !w.startsWith("-"))) {
      const at = word.lastIndexOf("@");
      packages.set(at > 0 ? word.slice(0, at) : word, at > 0 ? word.slice(at + 1) : "");
    }
  }
  return packages;
}

/** The `KEY=value` lines of a `.dev.vars` block (comments and blank lines skipped). */
export function devVarsOf(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (match !== null) vars[match[1]!] = match[2]!.trim();
  }
  return vars;
}
