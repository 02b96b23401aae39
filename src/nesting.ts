/*
 * How deep session data may nest. Copying, merging and sealing walk it recursively (so do JSON.stringify and
 * structuredClone), and a few thousand levels overflow the stack: a session nested that deep would fail every
 * request that reads it, on every isolate. So every write refuses it, whatever the method.
 */

/** Nesting deeper than this is refused when written: copying, merging and sealing it could overflow the stack. */
export const MAX_DEPTH = 512;

/** Whether a JSON value nests deeper than `MAX_DEPTH` (walked without recursion). */
export function tooDeep(value: unknown): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== "object" || current === null) continue;
    if (depth >= MAX_DEPTH) return true;
    for (const child of Object.values(current)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
