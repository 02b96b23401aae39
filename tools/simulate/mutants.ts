import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/*
 * Holes found in this project before, put back one at a time into a copy of src/: the simulator must
 * catch each (`npm run simulate -- --mutants`). A mutant names the exact text it replaces, so one that no
 * longer applies fails loudly instead of testing nothing.
 */
export interface Mutant {
  name: string;
  /** The hole, as it was found. */
  hole: string;
  file: string;
  find: string;
  replace: string;
}

export const MUTANTS: Mutant[] = [];

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A copy of src/ with the mutant in (inside the repository, so its imports resolve as src's do). */
export async function sourceWithMutant(name: string): Promise<string> {
  const mutant = MUTANTS.find((m) => m.name === name);
  if (mutant === undefined) throw new Error(`no mutant ${name}; there are: ${MUTANTS.map((m) => m.name).join(", ")}`);
  const dir = join(ROOT, "test", ".tmp", "mutants", `${name}-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  const file = join(dir, "src", mutant.file);
  const text = await readFile(file, "utf8");
  const at = text.indexOf(mutant.find);
  if (at < 0 || text.indexOf(mutant.find, at + 1) >= 0) {
    throw new Error(`mutant ${name}: its text must stand exactly once in src/${mutant.file}`);
  }
  await writeFile(file, text.replace(mutant.find, mutant.replace));
  return join(dir, "src");
}
