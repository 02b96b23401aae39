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
  /** The edits that put it back (the text each replaces must stand exactly once in its file). */
  edits: Array<{ file: string; find: string; replace: string }>;
  /** Seeds `--mutants` gives it at least: a hole the worlds reach rarely is caught further out. */
  seeds?: number;
}

export const MUTANTS: Mutant[] = [
  {
    name: "regenerate-discloses-new-session",
    hole: "a request with the old id, after regenerate, was served the new session (the grace window of 0.2)",
    edits: [
      {
        file: "engine/end.ts",
        find: "  const regenerated: Loaded = {\n    ...loaded,\n    id,\n    isNew: false,",
        replace:
          "  if (!loaded.isNew) engine.memory.set(loaded.id, live);\n  const regenerated: Loaded = {\n    ...loaded,\n    id,\n    isNew: false,",
      },
    ],
  },
  {
    name: "logout-misses-other-copies",
    hole: "a logout did not reach another isolate's copy: it was served without being confirmed",
    edits: [
      {
        file: "protocol/load.ts",
        find: "  if (now - held.confirmedAt < policy.maxStalenessMs && serves(held, claim)) {",
        replace: "  if (serves(held, claim)) {",
      },
    ],
  },
  {
    name: "own-landed-change-applied-again",
    hole: "an isolate applied its own change again, over a newer write, after its write had landed",
    edits: [
      {
        file: "protocol/held.ts",
        find: "    if (tags.includes(changes[i]!.tag)) return changes.slice(i + 1);",
        replace: "    if (tags.includes(changes[i]!.tag) && false) return changes.slice(i + 1);",
      },
    ],
  },
  {
    name: "retried-write-applied-twice",
    hole: "a compare-and-set retried after its answer was lost, others having written on top, was applied again",
    edits: [
      {
        file: "protocol/write.ts",
        find: '  if (answer === null || (answer.kind === "live" && answer.tags.includes(plan.writeTag))) {',
        replace: "  if (answer === null) {",
      },
    ],
  },
  {
    name: "later-change-carries-earlier-keys",
    hole: "a later change made on one whose write failed (but landed) carried that one's keys over newer writes",
    edits: [
      {
        file: "protocol/request.ts",
        find: "  const changes = [...onto.changes, { tag, patch: change.patch, tie: change.tie, version, at: now, bytes }];",
        replace:
          "  const carried = { set: Object.assign({}, ...onto.changes.map((c) => c.patch.set), change.patch.set), deleted: change.patch.deleted };\n  const changes = [...onto.changes, { tag, patch: carried, tie: change.tie, version, at: now, bytes }];",
      },
    ],
  },
  {
    name: "refresh-extends-marker",
    hole: "a TTL refresh pushed forward whatever stood there, a tombstone included",
    edits: [
      {
        file: "engine/save.ts",
        find: "    if (store.revalidating) {",
        replace: "    if (store.revalidating && false) {",
      },
    ],
  },
  {
    name: "write-over-end-marker",
    hole: "a write treated an end marker as data to write over (0.2's rotation move revived ended sessions)",
    edits: [
      {
        file: "protocol/write.ts",
        find: '    case "ended":\n      return { kind: "dropped", reason: dropReason(answer.reason), held: endedHeld(answer.reason, now, policy) };',
        replace:
          '    case "ended":\n      return { kind: "conflict", held: holding({ version: answer.version, tags: [], json: "{}", createdAt: plan.createdAt, user: plan.tie.user, since: plan.tie.since, expiresAt: now + policy.idleTimeoutMs }, startedAt, held, policy.idleTimeoutMs), overwrites: 0 };',
      },
    ],
  },
  {
    name: "sign-out-everywhere-without-cutoff",
    hole: "sign-out everywhere ended the ids it listed; a session regenerated from one of them afterwards lived on",
    edits: [
      {
        file: "protocol/load.ts",
        find: '  return Math.min(since, stored) < cutoff.revokedBefore ? "revoked" : "ok";',
        replace: '  return "ok";',
      },
    ],
  },
  {
    name: "kept-session-ended-by-a-stale-plan",
    hole: "a write planned before the restamp of a session kept by sign-out-everywhere-else landed took the session for revoked, and ended it on that isolate while the store kept it",
    edits: [
      {
        file: "protocol/held.ts",
        find: '  if (stored === "unchanged" || stored.kind !== "live" || stored.version <= base.version) return undefined;',
        replace: "  return undefined;",
      },
    ],
    // Caught at seed 1031, where a re-tie to another user whose answer was lost is the stale plan (a hole of
    // its own, fixed too); the restamp case at seed 37 730 (test/node/simulation.test.ts). Since a write reads
    // its session again after an index put (one more store call moves the schedule): first at seed 11 322, the
    // restamp case at 13 886; since ends are tagged and a sign-out everywhere reaches past a same-millisecond
    // new tie, first at seed 83 649. Before: 14 119, 32 716, and first at seed 3438 of a run whose ids were drawn
    // otherwise.
    seeds: 90_000,
  },
  {
    name: "lost-claim-never-settled",
    hole: "a version cookie naming a write that never lands was waited for on every request (0.2: 503 or 5 reads each time)",
    edits: [
      {
        file: "protocol/request.ts",
        find: "  if (claim?.version === mark.version && claim.tag === mark.tag) return KEEP;",
        replace: "  if (claim !== undefined && claim.version >= mark.version) return KEEP;",
      },
    ],
  },
  {
    name: "read-serves-without-the-claim",
    hole: "a read served what the store answered without waiting for the write the cookie names (found in review: the check that would see it had been switched off)",
    edits: [
      {
        file: "protocol/load.ts",
        find: "  if (serves(held, input.claim) || !awaits(input.claim, held.settled, input.now, input.policy)) {",
        replace: "  if (held !== undefined) {",
      },
    ],
  },
  {
    name: "hit-serves-without-the-claim",
    hole: "a memory-tier hit served a copy confirmed within the bound without checking it shows the write the cookie names",
    edits: [
      {
        file: "protocol/load.ts",
        find: "  if (now - held.confirmedAt < policy.maxStalenessMs && serves(held, claim)) {",
        replace: "  if (now - held.confirmedAt < policy.maxStalenessMs) {",
      },
    ],
  },
  {
    name: "retired-id-regenerates-with-data",
    hole: "a retired cookie's regenerate, on an isolate still holding the session, carried the victim's data to a new live id (0.2)",
    edits: [
      {
        file: "engine/end.ts",
        find: '  if (ended.kind === "already") return undefined;',
        replace: '  if (ended.kind === "already") return from;',
      },
    ],
  },
  {
    name: "read-refresh-leaves-index-entry",
    hole: "a confirming read that pushed a session's expiry forward left its user-index entry as it was: a session kept alive by reads dropped out of \"your sessions\" (and out of maxSessionsPerUser's count) one idle timeout after its last write (found in review)",
    edits: [
      {
        file: "engine/load.ts",
        find: "              refreshMs === undefined ? undefined : touchIndexEntry(",
        replace: "              true ? undefined : touchIndexEntry(",
      },
    ],
  },
  {
    name: "index-entry-expires-with-its-session",
    hole: "an index entry expired with the session it was put for, but a write puts it again only once per refresh interval: a session read again late in its life found no entry left to push forward, and was unlisted for good",
    edits: [
      {
        file: "protocol/index-ops.ts",
        find: "  return sessionExpiresAt + policy.refreshIntervalMs;",
        replace: "  return sessionExpiresAt + 0 * policy.refreshIntervalMs;",
      },
      {
        file: "protocol/index-ops.ts",
        find: "  return entryExpiresAt - policy.refreshIntervalMs;",
        replace: "  return entryExpiresAt - 0 * policy.refreshIntervalMs;",
      },
    ],
  },
  {
    name: "pending-retie-outlives-cut-off",
    hole: "a sign-out everywhere else whose new tie failed to land left it pending, and its isolate took the pending tie for the stored one: it served the session after a sign-out everywhere revoked the stored tie (found by the simulator at seed 56014; test/workerd/user-sessions-races.test.ts proves it on both stores, as the seeds that reach it move with the schedule)",
    edits: [
      {
        file: "protocol/load.ts",
        find: '  return Math.min(since, stored) < cutoff.revokedBefore ? "revoked" : "ok";',
        replace: '  return since < cutoff.revokedBefore ? "revoked" : "ok";',
      },
    ],
    seeds: 100_000,
  },
  {
    name: "sign-out-by-the-local-clock",
    hole: "a sign-out everywhere cut off at its own isolate's clock: a session tied by a clock ahead of it shortly before the call (a sign-in, or the session a sign-out everywhere else kept) survived it (found by the simulator's check of every session listed when the call began, at seed 2252)",
    edits: [
      {
        file: "engine/user-sessions.ts",
        find: "  const past = after.filter(",
        replace: "  const past = after.slice(0, 0).filter(",
      },
    ],
  },
  {
    name: "sign-out-reads-nothing-after-its-cut-off",
    hole: "a sign-out everywhere did not read the index again once its cut-off stood: a sign-out everywhere else that tied its session anew inside that window, by a clock ahead, kept it (the race left as a known limit until then; caught at seed 12863)",
    edits: [
      {
        file: "engine/user-sessions.ts",
        find: "  const listedAfter = keep === undefined ? undefined : sessions;",
        replace: "  const listedAfter = sessions;",
      },
    ],
    seeds: 15_000,
  },
  {
    name: "end-forgets-its-own-marker",
    hole: "a regenerate whose retirement landed with its answer lost took its own marker, found by the client's retry, for another request's end: the session was carried to no id, and the user found an empty one (found in review)",
    edits: [
      {
        file: "protocol/write.ts",
        find: '      if (answer.tag === plan.tag) return { kind: "ended", replaced: replacing };',
        replace: "",
      },
    ],
  },
];

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** A copy of src/ with the mutant in (inside the repository, so its imports resolve as src's do). */
export async function sourceWithMutant(name: string): Promise<string> {
  const mutant = MUTANTS.find((m) => m.name === name);
  if (mutant === undefined) throw new Error(`no mutant ${name}; there are: ${MUTANTS.map((m) => m.name).join(", ")}`);
  const dir = join(ROOT, "test", ".tmp", "mutants", `${name}-${process.pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await cp(join(ROOT, "src"), join(dir, "src"), { recursive: true });
  for (const edit of mutant.edits) {
    const file = join(dir, "src", edit.file);
    const text = await readFile(file, "utf8");
    const at = text.indexOf(edit.find);
    if (at < 0 || text.indexOf(edit.find, at + 1) >= 0) {
      throw new Error(`mutant ${name}: its text must stand exactly once in src/${edit.file}`);
    }
    await writeFile(
      file,
      text.replace(edit.find, () => edit.replace),
    );
  }
  return join(dir, "src");
}
