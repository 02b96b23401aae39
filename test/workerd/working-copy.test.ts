import { describe, expect, it } from "vitest";
import { WorkingCopy } from "../../src/request/working-copy.js";
import { Prng } from "../../tools/fuzz/prng.js";

const base = () => ({ user: { id: "u1", tags: ["a"] }, n: 1, note: "x" });

describe("WorkingCopy", () => {
  it("costs nothing and reports no change when only read", () => {
    const shared = base();
    const copy = new WorkingCopy(shared);
    expect(copy.get("n")).toBe(1);
    expect(copy.get("user")).toEqual({ id: "u1", tags: ["a"] });
    expect(copy.changedJson(JSON.stringify(shared))).toBeUndefined();
  });

  it("never lets a handler's mutation reach the shared data", () => {
    const shared = base();
    const copy = new WorkingCopy(shared);
    (copy.get("user") as { tags: string[] }).tags.push("b");
    (copy.whole().user as { id: string }).id = "changed";
    copy.set("n", 2);
    expect(shared).toEqual(base());
  });

  it("sees a nested in-place change of a value it handed out", () => {
    const shared = base();
    const copy = new WorkingCopy(shared);
    (copy.get("user") as { tags: string[] }).tags.push("b");
    expect(JSON.parse(copy.changedJson(JSON.stringify(shared))!)).toEqual({
      ...base(),
      user: { id: "u1", tags: ["a", "b"] },
    });
  });

  it("still sees a change to a value handed out by get(key) when the whole data was handed out after it", () => {
    const shared = base();
    const copy = new WorkingCopy(shared);
    const user = copy.get("user") as { tags: string[] };
    const whole = copy.whole();
    // Before, whole() held a fresh copy in its place: this push changed nothing that was written.
    user.tags.push("b");
    expect(whole.user).toBe(user);
    expect(JSON.parse(copy.changedJson(JSON.stringify(shared))!)).toEqual({
      ...base(),
      user: { id: "u1", tags: ["a", "b"] },
    });
    expect(copy.settle().patch.set).toEqual({ user: { id: "u1", tags: ["a", "b"] } });
    expect(shared).toEqual(base());
    // A key set anew after get(key) keeps the new value: the copy handed out is no longer the session's.
    const other = new WorkingCopy(base());
    const old = other.get("user") as { id: string };
    other.set("user", { id: "u2" });
    old.id = "stale";
    expect(other.whole().user).toEqual({ id: "u2" });
  });

  it("treats a change that was undone, or a set to the same value, as no change", () => {
    const shared = base();
    const copy = new WorkingCopy(shared);
    const tags = (copy.get("user") as { tags: string[] }).tags;
    tags.push("tmp");
    tags.pop();
    copy.set("note", "x");
    expect(copy.changedJson(JSON.stringify(shared))).toBeUndefined();
  });

  it("reports deletions, and undefined members the way JSON does", () => {
    const shared = base();
    const copy = new WorkingCopy(shared);
    copy.delete("note");
    expect(JSON.parse(copy.changedJson(JSON.stringify(shared))!)).toEqual({ user: base().user, n: 1 });
    const other = new WorkingCopy(base());
    (other.get("user") as Record<string, unknown>).extra = undefined;
    expect(other.changedJson(JSON.stringify(base()))).toBeUndefined();
  });

  it("settles its data as parsing its JSON would, sharing what it did not change", () => {
    const shared = { user: { id: "u1" }, n: 1, note: "x", list: [1, 2] };
    const copy = new WorkingCopy(shared);
    (copy.get("user") as Record<string, unknown>).id = "u2";
    copy.set("at", new Date(0));
    copy.set("gone", undefined);
    copy.set("7", "an index-like key goes first");
    copy.delete("note");
    const json = copy.changedJson(JSON.stringify(shared))!;
    const settled = copy.settle().data;
    expect(JSON.stringify(settled)).toBe(json);
    expect(settled).toEqual(JSON.parse(json));
    expect(settled.list).toBe(shared.list); // unchanged: shared, not copied
    expect(settled.user).not.toBe(copy.get("user")); // changed: the handler's object stays the handler's
  });

  it("settles a value set equal to the base's, its members in another order, in the order its JSON has them", () => {
    const shared = { obj: { a: 1, b: 2 }, n: 1 };
    const copy = new WorkingCopy(shared);
    copy.set("obj", { b: 2, a: 1 });
    copy.set("n", 2);
    const json = copy.changedJson(JSON.stringify(shared))!;
    expect(JSON.stringify(copy.settle().data)).toBe(json);
  });

  it("settles a boxed primitive, a Date or a Map set over a copy handed out as what its JSON says", () => {
    for (const [before, after] of [
      [{}, new Boolean(false)],
      [{ 0: "a", 1: "b" }, new String("ab")],
      [{}, new Map([["k", 1]])],
      [{}, new Date(0)],
    ] as const) {
      const shared = { k: before, n: 1 };
      const copy = new WorkingCopy(shared);
      copy.get("k");
      copy.set("k", after);
      const json = copy.changedJson(JSON.stringify(shared));
      if (JSON.stringify(before) === JSON.stringify(after)) {
        // A Map is {} as JSON: no change at all.
        expect(json).toBeUndefined();
        continue;
      }
      const { patch, data } = copy.settle();
      expect(JSON.stringify(data), String(after)).toBe(json);
      expect(JSON.parse(json!).k).toEqual(JSON.parse(JSON.stringify(after)));
      expect(patch.set.k).toEqual(JSON.parse(JSON.stringify(after)));
    }
  });

  it('reads only the session\'s own keys: "__proto__" and "constructor" are keys like any other', () => {
    const copy = new WorkingCopy(JSON.parse('{"n":1}') as Record<string, unknown>);
    expect(copy.get("__proto__")).toBeUndefined();
    expect(copy.get("constructor")).toBeUndefined();
    copy.set("n", 2);
    expect(copy.get("__proto__")).toBeUndefined();
    copy.whole();
    expect(copy.get("__proto__")).toBeUndefined();
    expect(copy.get("toString")).toBeUndefined();
    expect(JSON.parse(copy.changedJson('{"n":1}')!)).toEqual({ n: 2 });
    expect(Object.keys(copy.settle().data)).toEqual(["n"]);
  });

  it("settles like JSON.parse of its JSON over 20 000 seeded random request histories", () => {
    const prng = new Prng(20_000);
    const keys = ["a", "b", "c", "1", "__proto__", "d"];
    const values = () =>
      [
        1,
        "s",
        null,
        undefined,
        [1, { x: 2 }],
        { x: 1, y: 2 },
        { y: 2, x: 1 },
        { y: [3] },
        new Date(prng.int(1000)),
        true,
      ][prng.int(10)];
    for (let run = 0; run < 20_000; run++) {
      const start: Record<string, unknown> = {};
      for (const key of keys) {
        if (prng.int(2) === 0) Object.defineProperty(start, key, { value: values(), enumerable: true, writable: true });
      }
      const shared = JSON.parse(JSON.stringify(start)) as Record<string, unknown>;
      const copy = new WorkingCopy(shared);
      for (let op = prng.int(5); op >= 0; op--) {
        const key = keys[prng.int(keys.length)]!;
        const kind = prng.int(5);
        if (kind === 0) copy.set(key, values());
        else if (kind === 1) copy.delete(key);
        else if (kind === 2) {
          const value = copy.get(key);
          if (typeof value === "object" && value !== null && !Array.isArray(value))
            (value as Record<string, unknown>).z = run;
        } else if (kind === 3)
          copy.whole()[keys[prng.int(keys.length - 2)]!] = values(); // not "__proto__" or "d"
        else copy.get(key);
      }
      const json = copy.changedJson(JSON.stringify(shared));
      if (json === undefined) continue;
      const settled = copy.settle().data;
      expect(JSON.stringify(settled), `run ${run}`).toBe(json);
      expect(settled, `run ${run}`).toEqual(JSON.parse(json));
    }
  });

  it('refuses data with a top-level "toJSON" function: JSON would serialise what it returns, not the entries', () => {
    for (const toJSON of [() => ({ x: 1 }), () => "text", () => undefined]) {
      const copy = new WorkingCopy(JSON.parse('{"a":1,"b":[2]}') as Record<string, unknown>);
      copy.set("b", 3);
      copy.set("toJSON", toJSON);
      expect(() => copy.changedJson('{"a":1,"b":[2]}')).toThrow(/toJSON/);
    }
  });

  it("makes JSON.stringify's text from the last change's layout, over 2 000 seeded chains of changes", () => {
    const prng = new Prng(2_000);
    const keys = ["a", "b", "c", "1", "__proto__", "d"];
    const values = () =>
      [1, "s", null, undefined, [1, { x: 2 }], { x: 1, y: 2 }, { y: 2, x: 1 }, new Date(prng.int(1000)), -0][
        prng.int(9)
      ];
    for (let chain = 0; chain < 2_000; chain++) {
      let data = JSON.parse('{"a":{"x":1},"b":[2],"c":"s"}') as Record<string, unknown>;
      let json = JSON.stringify(data);
      let layout: ReturnType<WorkingCopy["settle"]>["layout"];
      for (let step = 0; step < 6; step++) {
        const copy = new WorkingCopy(data, layout);
        for (let op = prng.int(4); op >= 0; op--) {
          const key = keys[prng.int(keys.length)]!;
          const kind = prng.int(4);
          if (kind === 0) copy.set(key, values());
          else if (kind === 1) copy.delete(key);
          else if (kind === 2) {
            const value = copy.get(key);
            if (typeof value === "object" && value !== null && !Array.isArray(value))
              (value as Record<string, unknown>).z = step;
          } else copy.get(key);
        }
        const expected = JSON.stringify(copy.current());
        const changed = copy.changedJson(json);
        expect(changed ?? json, `chain ${chain} step ${step}`).toBe(expected);
        if (changed === undefined) continue;
        expect(changed, `chain ${chain} step ${step}: no change`).not.toBe(json);
        const settled = copy.settle();
        expect(settled.layout?.json, `chain ${chain} step ${step}`).toBe(changed);
        expect(JSON.stringify(settled.data)).toBe(changed);
        expect(settled.data).toEqual(JSON.parse(changed));
        ({ data, layout } = settled);
        json = changed;
      }
    }
  });
});
