import { openEnvelope } from "../../src/sealing/envelope.js";
import { deriveKeys, KeyRing, storeKeyOf, type SessionKeys } from "../../src/sealing/keys.js";
import { Secret } from "../../src/config/secret.js";

/**
 * Opens what a store holds, from outside the worker (Node has the same Web Crypto and CompressionStream):
 * tests read a session back from the store itself, never from an isolate's memory tier.
 */
export class StoreReader {
  private constructor(readonly keys: SessionKeys) {}

  static async forSecret(secret: string): Promise<StoreReader> {
    return new StoreReader(await deriveKeys(new Secret(secret)));
  }

  /** The key a session is stored under (without the store's own prefix). */
  storeKey(sessionId: string): Promise<string> {
    return storeKeyOf(sessionId);
  }

  /** The sealed blob opened: its sealed version and what it holds. */
  async open(sessionId: string, sealed: string): Promise<{ version: number; kind: string; data?: unknown }> {
    const envelope = await openEnvelope(new KeyRing(this.keys), sessionId, sealed);
    return {
      version: envelope.version,
      kind: envelope.kind,
      ...(envelope.kind === "data" ? { data: JSON.parse(envelope.json) as unknown } : {}),
    };
  }
}
