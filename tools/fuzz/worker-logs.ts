/*
 * What the worker printed during a fuzz. The layer logs expected trouble itself (a store write that
 * failed, a stale read), and its lines name no secret and no session value. An exception nobody caught
 * is printed by workerd as "Uncaught …": that is a crash of the request, whatever status it led to.
 */

export function uncaughtErrors(lines: readonly string[]): string[] {
  return lines.filter((line) => /\bUncaught\b/.test(line));
}

/** Lines grouped with their numbers blanked (versions, ids' lengths, timings), most frequent first. */
export function summarizeLogs(lines: readonly string[]): [line: string, count: number][] {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const shape = line.replace(/\d+/g, "N").slice(0, 200);
    counts.set(shape, (counts.get(shape) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}
