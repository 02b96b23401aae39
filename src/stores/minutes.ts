/** Store timeouts come in minutes (like SESSION_TIMEOUT); backends want whole milliseconds, at least 1. */
export function minutesToMillis(minutes: number): number {
  return Math.max(1, Math.round(minutes * 60_000));
}
