import { describe, expect, it } from "vitest";
import { WorkingCopy } from "../../src/request/working-copy.js";

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
});
