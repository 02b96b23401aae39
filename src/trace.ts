/**
 * What one request's session work cost: which tier served it, the store round trips and their time, and
 * the time spent sealing and unsealing. Feeds the optional `Server-Timing` header; never holds an id or data.
 *
 * On Workers the clock only moves on I/O, so CPU-only steps (sealing) read as 0 ms there; round trips
 * are timed truly.
 */
export type ServedBy = "none" | "new" | "hit" | "revalidated" | "miss";

export class RequestTrace {
  servedBy: ServedBy = "none";
  storeCalls = 0;
  storeMs = 0;
  sealMs = 0;
  unsealMs = 0;
  /** Time spent waiting for a store that was behind the cookie. */
  waitedMs = 0;
  /** The change was written after the response. */
  deferredWrite = false;

  async store<T>(call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } finally {
      this.storeCalls++;
      this.storeMs += performance.now() - started;
    }
  }

  async sealing<T>(call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } finally {
      this.sealMs += performance.now() - started;
    }
  }

  async unsealing<T>(call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } finally {
      this.unsealMs += performance.now() - started;
    }
  }
}

/** For work no request waits for (it still counts, it is just not reported per request). */
export const UNTRACED = new RequestTrace();
