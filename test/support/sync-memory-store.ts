import type { UserCustomStore } from "../../src/index.js";

/** A store in the seed's most literal form: `exists` and `resetTimer` synchronous, sessions in a Map. */
export class SyncMemoryStore implements UserCustomStore {
  static readonly shared = new Map<string, Map<string, { value: string; expiresAt: number }>>();
  readonly #rows: Map<string, { value: string; expiresAt: number }>;
  resetTimerCalls = 0;
  throwOnResetTimer = false;

  constructor(namespace: string) {
    let rows = SyncMemoryStore.shared.get(namespace);
    if (rows === undefined) SyncMemoryStore.shared.set(namespace, (rows = new Map()));
    this.#rows = rows;
  }

  #live(id: string) {
    const row = this.#rows.get(id);
    if (row !== undefined && row.expiresAt <= Date.now()) this.#rows.delete(id);
    return this.#rows.get(id);
  }
  async clear() {
    this.#rows.clear();
  }
  async destroy(id: string) {
    this.#rows.delete(id);
  }
  async get(id: string) {
    return this.#live(id)?.value ?? null;
  }
  async length() {
    return [...this.#rows.keys()].filter((id) => this.#live(id) !== undefined).length;
  }
  async ttl(id: string) {
    const row = this.#live(id);
    return row === undefined ? -2 : Math.ceil((row.expiresAt - Date.now()) / 1000);
  }
  async set(id: string, value: string, timeout: number) {
    this.#rows.set(id, { value, expiresAt: Date.now() + timeout * 60_000 });
  }
  exists(id: string): boolean {
    return this.#live(id) !== undefined;
  }
  resetTimer(id: string, timeout: number): void {
    this.resetTimerCalls++;
    if (this.throwOnResetTimer) throw new Error("resetTimer failed (test)");
    const row = this.#live(id);
    if (row !== undefined) row.expiresAt = Date.now() + timeout * 60_000;
  }
}
