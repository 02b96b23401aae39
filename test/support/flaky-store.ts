import type { RevalidatingStore, StoredVersion, UserCustomStore } from "../../src/index.js";

/** A store with the optional methods too (the memory and Redis stores have them). */
type CompleteStore = RevalidatingStore & Required<Pick<UserCustomStore, "clear" | "length" | "ttl" | "exists">>;

/** Wraps a real store; while `down`, every call fails (or hangs, with `hang`), as an unreachable store does. */
export class FlakyStore implements RevalidatingStore {
  down = false;
  hang = false;
  /** Delays every compare-and-set by this much, as a distant store does. */
  writeDelayMs = 0;
  calls: string[] = [];
  constructor(readonly inner: CompleteStore) {}

  #gate<T>(name: string, run: () => T): T {
    this.calls.push(name);
    if (this.down) {
      if (this.hang) return new Promise(() => {}) as T;
      throw new Error("store unreachable (test)");
    }
    return run();
  }
  clear() {
    return this.#gate("clear", () => this.inner.clear());
  }
  destroy(id: string) {
    return this.#gate("destroy", () => this.inner.destroy(id));
  }
  get(id: string) {
    return this.#gate("get", () => this.inner.get(id));
  }
  length() {
    return this.#gate("length", () => this.inner.length());
  }
  ttl(id: string) {
    return this.#gate("ttl", () => this.inner.ttl(id));
  }
  set(id: string, session: string, timeout: number) {
    return this.#gate("set", () => this.inner.set(id, session, timeout));
  }
  setIfVersion(
    id: string,
    expected: number,
    version: number,
    session: string,
    timeout: number,
  ): Promise<StoredVersion | null> {
    return this.#gate("setIfVersion", async () => {
      if (this.writeDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.writeDelayMs));
      return await this.inner.setIfVersion(id, expected, version, session, timeout);
    });
  }
  getIfChanged(id: string, known: number, refresh?: number): Promise<StoredVersion | null> {
    return this.#gate("getIfChanged", () => this.inner.getIfChanged(id, known, refresh));
  }
  exists(id: string) {
    return this.#gate("exists", () => this.inner.exists(id));
  }
  resetTimer(id: string, timeout: number) {
    return this.#gate("resetTimer", () => this.inner.resetTimer(id, timeout));
  }
}
