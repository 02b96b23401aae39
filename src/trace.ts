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
  /** What became of a change: none, written before the response, or after it. */
  write: "none" | "awaited" | "deferred" = "none";

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

/**
 * The `Server-Timing` value of a request that used its session: which tier served it, the store round trips
 * and their time, the wait for a store behind the cookie, sealing and unsealing, and whether the change was
 * written after the response. Never an id or data.
 */
export function serverTiming(trace: RequestTrace): string | undefined {
  if (trace.servedBy === "none") return undefined;
  const ms = (value: number) => Math.round(value * 100) / 100;
  const parts = [
    `session;desc="${trace.servedBy}"`,
    `session-store;dur=${ms(trace.storeMs)};desc="${trace.storeCalls} round trip${trace.storeCalls === 1 ? "" : "s"}"`,
    `session-seal;dur=${ms(trace.sealMs)}`,
    `session-unseal;dur=${ms(trace.unsealMs)}`,
  ];
  if (trace.waitedMs > 0) parts.push(`session-wait;dur=${ms(trace.waitedMs)}`);
  if (trace.write !== "none") parts.push(`session-write;desc="${trace.write}"`);
  return parts.join(", ");
}
