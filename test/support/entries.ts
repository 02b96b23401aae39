import type { MemoryEntry } from "../../src/tiers/memory-tier.js";

/** A memory-tier entry the store holds (saved), live for an hour, unless told otherwise. */
export function savedEntry(json: string, version = 1, extra: Partial<MemoryEntry> = {}): MemoryEntry {
  const stored = { version, tag: `tag${String(version).padStart(5, "0")}`, json };
  return {
    ...stored,
    createdAt: 0,
    user: undefined,
    at: 0,
    stored,
    confirmedAt: Date.now(),
    expiresAt: Date.now() + 3_600_000,
    refreshedAt: Date.now(),
    ...extra,
  };
}

/** A memory-tier entry with a change the store does not hold yet (its base is version `version - 1`). */
export function unsavedEntry(json: string, version = 2, extra: Partial<MemoryEntry> = {}): MemoryEntry {
  return savedEntry(json, version, { stored: { version: version - 1, tag: "basetag0", json: "{}" }, ...extra });
}
