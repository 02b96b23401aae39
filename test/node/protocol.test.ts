import { describe, expect, it } from "vitest";
import { holding, notLanded, retiedSince, shows, viewOf } from "../../src/protocol/held.js";
import { afterRead, decideLoad, type ReadInput } from "../../src/protocol/load.js";
import { cookiesFor, freshSession, servedFrom, withRequestChange } from "../../src/protocol/request.js";
import type { Change, Claim, LiveHeld, Policy, Version } from "../../src/protocol/types.js";
import { UNCHANGED } from "../../src/protocol/types.js";
import { afterWrite, planUpdate, planWrite } from "../../src/protocol/write.js";

/*
 * The protocol's decisions on their own: plain data in, a decision out, no store, no clock, no runtime.
 * (The simulator, test/node/simulation.test.ts, runs them all together under faults.)
 */
const policy: Policy = {
  maxStalenessMs: 1_000,
  staleReadWaitMs: 100,
  onStaleRead: "serve",
  idleTimeoutMs: 600_000,
  absoluteTimeoutMs: undefined,
  refreshIntervalMs: 150_000,
  markerTtlMs: 1_200_000,
  maxSessionBytes: 10_000,
  merges: true,
};
const T = 1_000_000;
const ID = "S".repeat(24);

function version(v: number, tags: string[], data: object, extra: Partial<Version> = {}): Version {
  return {
    version: v,
    tags,
    json: JSON.stringify(data),
    createdAt: 1,
    user: undefined,
    since: 0,
    expiresAt: T + 600_000,
    ...extra,
  };
}
function change(tag: string, set: object, v: number): Change {
  return { tag, patch: { set: set as Record<string, unknown>, deleted: [] }, version: v, at: T, bytes: 10 };
}
function held(base: Version | null, changes: Change[] = [], extra: Partial<LiveHeld> = {}): LiveHeld {
  return {
    kind: "live",
    base,
    changes,
    view: viewOf(base, changes, { createdAt: 1, user: undefined, since: 0 }),
    confirmedAt: T,
    refreshedAt: T,
    expiresAt: T + 600_000,
    floor: base?.version ?? 0,
    settled: [],
    ...extra,
  };
}
const claim = (v: number, tag: string, at = T): Claim => ({ id: ID, version: v, tag, at, resign: false });

describe("a request's first decision", () => {
  it("serves a copy that shows the claim and was confirmed within the bound, without the store", () => {
    const h = held(version(3, ["c3", "c2"], { a: 1 }));
    expect(decideLoad({ claim: claim(2, "c2"), held: h, now: T + 500, policy, cutoff: undefined }).kind).toBe("serve");
    // Past the bound: one conditional read, on the version it knows.
    expect(decideLoad({ claim: claim(2, "c2"), held: h, now: T + 1_500, policy, cutoff: undefined })).toMatchObject({
      kind: "read",
      known: 3,
    });
  });

  it("reads when the copy does not show the write the cookie names, even within the bound", () => {
    const h = held(version(3, ["c3"], { a: 1 }));
    expect(decideLoad({ claim: claim(4, "c4"), held: h, now: T + 10, policy, cutoff: undefined }).kind).toBe("read");
  });

  it("waits for another request's read instead of reading too (one read per burst), never past the bound", () => {
    const h = held(version(3, ["c3"], { a: 1 }), [], { confirmedAt: T - 5_000, reading: T + 1_000 });
    expect(decideLoad({ claim: claim(3, "c3"), held: h, now: T + 1_010, policy, cutoff: undefined }, 3)).toEqual({
      kind: "join",
      pollMs: 8,
    });
    expect(decideLoad({ claim: claim(3, "c3"), held: h, now: T + 2_100, policy, cutoff: undefined }).kind).toBe("read");
  });

  it("ends a copy whose tie to its user is older than the user's cut-off, and asks for the cut-off when it is not known", () => {
    const h = held(version(3, ["c3"], { a: 1 }, { user: "ada", since: 50 }), [], { confirmedAt: T });
    expect(
      decideLoad({ claim: claim(3, "c3"), held: h, now: T + 1, policy, cutoff: { revokedBefore: 60, confirmedAt: T } }),
    ).toMatchObject({
      kind: "end",
      ending: "revoked",
    });
    expect(decideLoad({ claim: claim(3, "c3"), held: h, now: T + 1, policy, cutoff: undefined })).toEqual({
      kind: "cutoff",
      user: "ada",
    });
  });

  it("answers a retired id, or one found gone within the bound, with no store call at all", () => {
    expect(
      decideLoad({
        claim: claim(3, "c3"),
        held: { kind: "ended", reason: "retired", until: T * 2 },
        now: T,
        policy,
        cutoff: undefined,
      }),
    ).toMatchObject({ kind: "end", ending: "retired" });
    const gone = { kind: "gone" as const, confirmedAt: T, settled: [] };
    expect(
      decideLoad({ claim: claim(3, "c3", T - 120_000), held: gone, now: T + 10, policy, cutoff: undefined }).kind,
    ).toBe("end");
  });
});

describe("what a store's answer means", () => {
  const input = (over: Partial<ReadInput>): ReadInput => ({
    claim: claim(3, "c3"),
    held: undefined,
    answer: { kind: "none" },
    startedAt: T,
    refreshed: false,
    now: T + 20,
    policy,
    waitedMs: 0,
    ...over,
  });

  it("confirms the copy on 'unchanged', and pushes its expiry when the read refreshed it", () => {
    const h = held(version(3, ["c3"], {}), [], { confirmedAt: T - 9_000 });
    const out = afterRead(input({ held: h, answer: UNCHANGED, startedAt: T, refreshed: true }));
    expect(out).toMatchObject({ kind: "serve", held: { confirmedAt: T, refreshedAt: T, expiresAt: T + 600_000 } });
  });

  it("never goes back to a version older than one this isolate saw stored (reported), but takes older news of its own as news", () => {
    const h = held(version(5, ["c5"], {}), [], { confirmedAt: T - 9_000 });
    expect(afterRead(input({ held: h, answer: { kind: "live", ...version(4, ["c4"], {}) } })).kind).toBe("rollback");
    // Another request of this isolate confirmed version 5 after this read was sent: the answer is older news.
    const newer = { ...h, confirmedAt: T + 5 };
    expect(
      afterRead(input({ held: newer, claim: claim(5, "c5"), answer: { kind: "live", ...version(4, ["c4"], {}) } }))
        .kind,
    ).toBe("serve");
  });

  it("waits for a claimed write that is not there yet, 10, 10, 20, 40 … ms apart, then settles it once", () => {
    const stored = { kind: "live" as const, ...version(2, ["c2"], { a: 1 }) };
    expect(afterRead(input({ answer: stored, waitedMs: 0 }))).toMatchObject({ kind: "wait", pauseMs: 10 });
    expect(afterRead(input({ answer: stored, waitedMs: 40 }))).toMatchObject({ kind: "wait", pauseMs: 40 });
    expect(afterRead(input({ answer: stored, waitedMs: 80 }))).toMatchObject({ kind: "wait", pauseMs: 20 });
    const settled = afterRead(input({ answer: stored, waitedMs: 100 }));
    expect(settled).toMatchObject({ kind: "settle", storedVersion: 2, held: { settled: ["c3"] } });
  });

  it("does not wait for a claim made long ago: an expired session's cookie costs what a destroyed one's does", () => {
    const old = claim(3, "c3", T - 120_000);
    expect(afterRead(input({ claim: old, answer: { kind: "none" } })).kind).toBe("end");
    expect(afterRead(input({ claim: old, answer: { kind: "ended", version: 4, reason: "destroyed" } })).kind).toBe(
      "end",
    );
  });

  it("restores a session the store lost while this isolate holds it live, and never an ended one", () => {
    const h = held(version(3, ["c3"], { a: 1 }));
    expect(afterRead(input({ held: h, answer: { kind: "none" } }))).toMatchObject({
      kind: "restore",
      held: { missing: true },
    });
    const expired = { ...h, expiresAt: T };
    expect(afterRead(input({ held: expired, answer: { kind: "none" }, claim: claim(3, "c3", T - 120_000) })).kind).toBe(
      "end",
    );
  });
});

describe("changes and writes", () => {
  it("takes a change as landed when its tag, or a later change's, is in a stored version's history", () => {
    const changes = [change("a", { x: 1 }, 4), change("b", { y: 1 }, 5), change("c", { z: 1 }, 6)];
    expect(notLanded(changes, ["b", "q"]).map((c) => c.tag)).toEqual(["c"]);
    expect(notLanded(changes, ["q"]).map((c) => c.tag)).toEqual(["a", "b", "c"]);
  });

  it("moves the changes left onto a newer version, numbered above it (a cookie's version never goes back)", () => {
    const h = held(version(3, ["c3"], {}), [change("a", { x: 1 }, 4), change("b", { y: 1 }, 5)]);
    const on = holding(version(8, ["o8", "a"], { x: 1, w: 2 }), T, h, policy.idleTimeoutMs);
    expect(on.changes.map((c) => [c.tag, c.version])).toEqual([["b", 9]]);
    expect(JSON.parse(on.view.json)).toEqual({ x: 1, w: 2, y: 1 });
  });

  it("writes every change not landed in one compare-and-set, at the version the newest cookie names, with their tags", () => {
    const h = held(version(3, ["c3"], { a: 1 }), [change("x", { b: 1 }, 4), change("y", { c: 1 }, 5)]);
    const plan = planWrite(h, policy);
    expect(plan).toMatchObject({ expected: 3, version: 5, writeTag: "y", tags: ["y", "x", "c3"] });
    expect(JSON.parse((plan as { json: string }).json)).toEqual({ a: 1, b: 1, c: 1 });
    expect(planWrite({ ...h, view: { ...h.view, json: JSON.stringify({ big: "x".repeat(20_000) }) } }, policy)).toBe(
      "too-large",
    );
  });

  it("finds a retried write landed in a newer version's history, and never applies it again", () => {
    const h = held(version(3, ["c3"], { n: 1 }));
    const plan = planUpdate(h, JSON.stringify({ n: 2 }), "u1");
    // Its first attempt landed (v4), its answer was lost; another isolate wrote v5 on top before the retry.
    const newer = { kind: "live" as const, ...version(5, ["o5", "u1", "c3"], { n: 3 }) };
    const out = afterWrite({ held: h, plan, answer: newer, startedAt: T, now: T + 60, policy });
    expect(out).toMatchObject({ kind: "landed", version: { version: 5 } });
  });

  it("drops a write that meets an end marker, and goes onto a newer version otherwise", () => {
    const h = held(version(3, ["c3"], { a: 1 }), [change("x", { b: 1 }, 4)]);
    const plan = planWrite(h, policy) as Exclude<ReturnType<typeof planWrite>, "too-large" | undefined>;
    expect(
      afterWrite({
        held: h,
        plan,
        answer: { kind: "ended", version: 4, reason: "retired" },
        startedAt: T,
        now: T,
        policy,
      }),
    ).toMatchObject({
      kind: "dropped",
      reason: "regenerated",
    });
    const theirs = { kind: "live" as const, ...version(4, ["o4", "c3"], { a: 2 }) };
    const out = afterWrite({ held: h, plan, answer: theirs, startedAt: T, now: T, policy });
    expect(out.kind).toBe("conflict");
    expect(JSON.parse((out as { held: LiveHeld }).held.view.json)).toEqual({ a: 2, b: 1 });
  });
});

describe("a view is a value", () => {
  it("stays the same object when its write lands unchanged (what was derived from it stays valid), and not otherwise", () => {
    const h = held(version(3, ["c3"], { a: 1 }), [change("x", { b: 1 }, 4)]);
    const plan = planWrite(h, policy) as Exclude<ReturnType<typeof planWrite>, "too-large" | undefined>;
    const landed = afterWrite({ held: h, plan, answer: null, startedAt: T, now: T, policy });
    expect(landed.kind).toBe("landed");
    expect((landed as { held: LiveHeld }).held.view).toBe(h.view);
    // Another tie, other data, or other tags stored: a new view.
    const tied = holding(
      { ...version(4, ["x", "c3"], { a: 1, b: 1 }), user: "u", since: 5 },
      T,
      h,
      policy.idleTimeoutMs,
    );
    const other = holding(version(4, ["x", "c3"], { a: 2, b: 1 }), T, h, policy.idleTimeoutMs);
    const retagged = holding(version(4, ["x", "q3"], { a: 1, b: 1 }), T, h, policy.idleTimeoutMs);
    for (const next of [tied, other, retagged]) expect(next.view).not.toBe(h.view);
    expect(holding(version(4, ["x", "c3"], { a: 1, b: 1 }), T, h, policy.idleTimeoutMs).view).toBe(h.view);
  });

  it("keeps its identity when a session written for the 17th time and on lands (the stored history is full), and shows every write of it", () => {
    // A session written 20 times, each request's change landing before the next: its history is full from
    // the 16th write on, and the oldest tag leaves it with every write.
    let current = held(version(1, ["t1"], { n: 1 }));
    const tags = ["t1"];
    for (let n = 2; n <= 20; n++) {
      const loaded = servedFrom(current, claim(n - 1, `t${n - 1}`), T, policy.idleTimeoutMs);
      const json = JSON.stringify({ n });
      const changed = withRequestChange(
        loaded,
        current,
        { patch: { set: { n }, deleted: [] }, json },
        `t${n}`,
        T,
        policy.idleTimeoutMs,
      )!;
      const plan = planWrite(changed, policy) as Exclude<ReturnType<typeof planWrite>, "too-large" | undefined>;
      expect(plan.tags).toEqual(changed.view.tags);
      const landed = afterWrite({ held: changed, plan, answer: null, startedAt: T, now: T, policy });
      expect(landed.kind).toBe("landed");
      current = (landed as { held: LiveHeld }).held;
      // The view the request made is the one now held: what was derived from it (its parsed data) stays.
      expect(current.view, `write ${n}`).toBe(changed.view);
      tags.unshift(`t${n}`);
      expect(current.view.tags).toEqual(tags.slice(0, 16));
    }
    // A cookie naming any of the last 16 writes is shown, and one naming a write that left the history long ago.
    for (let n = 5; n <= 20; n++) expect(shows(current, claim(n, `t${n}`)), `t${n}`).toBe(true);
    expect(shows(current, claim(3, "t3"))).toBe(true);
    expect(shows(current, claim(19, "other"))).toBe(false);
  });

  it("shows a claim of its base's history though its own tags left it out (changes pending on a full history)", () => {
    const base = version(
      16,
      Array.from({ length: 16 }, (_, i) => `b${16 - i}`),
      { a: 1 },
    );
    const h = held(base, [change("p1", { a: 2 }, 17), change("p2", { a: 3 }, 18)]);
    expect(h.view.tags).toEqual(["p2", "p1", ...base.tags.slice(0, 14)]);
    expect(shows(h, claim(1, "b1"))).toBe(true);
    expect(shows(h, claim(18, "p2"))).toBe(true);
  });
});

describe("a write that looks like it re-ties a revoked session", () => {
  it("is planned again on the store's version when that one was tied anew since the cut-off, or to no one or someone else; revoked otherwise", () => {
    const base = { ...version(3, ["c3"], { a: 1 }), user: "u", since: 100 };
    const retied = { kind: "live" as const, ...version(4, ["k4", "c3"], { a: 1 }), user: "u", since: 501 };
    expect(retiedSince(base, retied, 501)).toBe(retied);
    // No longer u's (a change of tie that landed before the cut-off, perhaps this isolate's own whose answer
    // was lost): u's cut-off is not this session's. Taking it for revoked ended it on this isolate only, while
    // the store kept it (simulator seed 1031).
    const elsewhere = { ...retied, user: "v", since: 400 };
    expect(retiedSince(base, elsewhere, 501)).toBe(elsewhere);
    const untied = { ...retied, user: undefined, since: 400 };
    expect(retiedSince(base, untied, 501)).toBe(untied);
    // Not newer, tied to u before the cut-off, or not live: revoked.
    expect(retiedSince(base, { ...retied, version: 3 }, 501)).toBeUndefined();
    expect(retiedSince(base, { ...retied, since: 500 }, 501)).toBeUndefined();
    expect(retiedSince(base, { kind: "ended", version: 4, reason: "destroyed" }, 501)).toBeUndefined();
    expect(retiedSince(base, UNCHANGED, 501)).toBeUndefined();
  });
});

describe("which cookies a response sets", () => {
  it("sends none for a retired id, both for a new id, the version cookie when what was served moved on", () => {
    const retired = freshSession(ID, T, claim(3, "c3"), "retired");
    expect(cookiesFor({ loaded: retired, mark: undefined, newId: false, ended: false, merges: true })).toEqual({
      kind: "keep",
    });
    const fresh = freshSession(ID, T, undefined);
    expect(
      cookiesFor({ loaded: fresh, mark: { version: 1, tag: "n1", at: T }, newId: true, ended: false, merges: true }),
    ).toMatchObject({
      kind: "set",
      withId: true,
    });
    const h = held(version(5, ["c5", "c4"], {}));
    const served = servedFrom(h, claim(4, "c4"), T, policy.idleTimeoutMs);
    expect(cookiesFor({ loaded: served, mark: served.served, newId: false, ended: false, merges: true })).toMatchObject(
      {
        kind: "set",
        withId: false,
        mark: { version: 5, tag: "c5" },
      },
    );
  });

  it("calls a claim settled only when its write is not served and was given up (settled, or too old to land)", () => {
    const h = held(version(5, ["c5", "c4"], {}));
    expect(servedFrom(h, claim(4, "c4"), T, policy.idleTimeoutMs).settled).toBe(false); // served
    expect(servedFrom(h, claim(6, "x6"), T + 10, policy.idleTimeoutMs).settled).toBe(false); // fresh: not given up
    expect(servedFrom(h, claim(6, "x6", T), T + 120_000, policy.idleTimeoutMs).settled).toBe(true); // too old
    expect(servedFrom({ ...h, settled: ["x6"] }, claim(6, "x6"), T + 10, policy.idleTimeoutMs).settled).toBe(true);
  });

  it("puts a request's change onto this isolate's newest copy, key by key, above every version it knows", () => {
    const loadedFrom = held(version(3, ["c3"], { a: 1, b: 1 }));
    const loaded = servedFrom(loadedFrom, claim(3, "c3"), T, policy.idleTimeoutMs);
    const meanwhile = held(version(3, ["c3"], { a: 1, b: 1 }), [change("m", { a: 9 }, 4)]);
    const next = withRequestChange(
      loaded,
      meanwhile,
      { patch: { set: { b: 2 }, deleted: [] } },
      "r",
      T,
      policy.idleTimeoutMs,
    )!;
    expect(JSON.parse(next.view.json)).toEqual({ a: 9, b: 2 });
    expect(next.changes.at(-1)).toMatchObject({ tag: "r", version: 5 });
    expect(
      withRequestChange(
        loaded,
        { kind: "ended", reason: "destroyed", until: T * 2 },
        { patch: { set: {}, deleted: [] } },
        "r",
        T,
        1,
      ),
    ).toBeUndefined();
  });
});
