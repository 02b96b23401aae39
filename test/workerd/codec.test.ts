import { beforeAll, describe, expect, it } from "vitest";
import { decodeBase64Url, encodeBase64Url } from "../../src/sealing/base64url.js";
import { seal, unseal } from "../../src/sealing/codec.js";
import { openEnvelope, wrap } from "../../src/sealing/envelope.js";
import { SealError } from "../../src/errors.js";
import { deriveKeys, KeyRing, storeKeyOf, type SessionKeys } from "../../src/sealing/keys.js";
import { Secret } from "../../src/config/secret.js";
import { SECRET } from "../support/workerd.js";
import { largeSession, smallSession } from "../support/sessions.js";

let keys: SessionKeys;
let ring: KeyRing;
beforeAll(async () => {
  keys = await deriveKeys(new Secret(SECRET));
  ring = new KeyRing(keys);
});

const ID = "A".repeat(24);
const OTHER_ID = "B".repeat(24);

function flipBit(sealed: string, byteIndex: number): string {
  const bytes = decodeBase64Url(sealed);
  bytes[byteIndex]! ^= 0x01;
  return encodeBase64Url(bytes);
}

describe("seal / unseal", () => {
  it.each([
    ["small (~2 KB)", smallSession()],
    ["large (~50 KB)", largeSession()],
    ["empty", {}],
  ])("round-trips a %s session", async (_, data) => {
    const json = JSON.stringify(data);
    const sealed = await seal(keys, ID, 7, json);
    expect(await unseal(ring, ID, sealed)).toEqual({ version: 7, plaintext: json });
  });

  it("compresses large sessions well below their JSON size", async () => {
    const json = JSON.stringify(largeSession());
    expect(json.length).toBeGreaterThan(45_000);
    const sealed = await seal(keys, ID, 1, json);
    expect(sealed.length).toBeLessThan(json.length / 2);
  });

  it("stores no plaintext: no value of the session appears in the blob", async () => {
    const sealed = await seal(keys, ID, 1, JSON.stringify({ email: "alice@example.com" }));
    expect(sealed).not.toContain("alice");
    expect(new TextDecoder().decode(decodeBase64Url(sealed))).not.toContain("alice");
  });

  it("uses a fresh IV each time", async () => {
    const json = JSON.stringify(smallSession());
    expect(await seal(keys, ID, 1, json)).not.toBe(await seal(keys, ID, 1, json));
  });

  it("rejects a flipped bit anywhere: header, IV, ciphertext, tag", async () => {
    const sealed = await seal(keys, ID, 3, JSON.stringify(smallSession()));
    const length = decodeBase64Url(sealed).length;
    for (const index of [1, 7, 12, 30, length - 1]) {
      await expect(unseal(ring, ID, flipBit(sealed, index))).rejects.toBeInstanceOf(SealError);
    }
  });

  it("rejects a truncated blob", async () => {
    const sealed = await seal(keys, ID, 3, JSON.stringify(largeSession()));
    for (const cut of [10, sealed.length / 2, sealed.length - 3]) {
      await expect(unseal(ring, ID, sealed.slice(0, Math.floor(cut)))).rejects.toBeInstanceOf(SealError);
    }
  });

  it("rejects a blob moved to another session's key", async () => {
    const sealed = await seal(keys, ID, 3, "{}");
    await expect(unseal(ring, OTHER_ID, sealed)).rejects.toThrow(/failed authentication/);
  });

  it("rejects an old version replayed as a newer one", async () => {
    const sealed = await seal(keys, ID, 3, JSON.stringify({ role: "user" }));
    const bytes = decodeBase64Url(sealed);
    new DataView(bytes.buffer).setUint32(6, 4);
    await expect(unseal(ring, ID, encodeBase64Url(bytes))).rejects.toThrow(/failed authentication/);
  });

  it("names a blob sealed with another secret, an unknown format and garbage", async () => {
    const otherKeys = await deriveKeys(new Secret("another-secret-".padEnd(70, "y")));
    const sealed = await seal(otherKeys, ID, 1, "{}");
    await expect(unseal(ring, ID, sealed)).rejects.toThrow(/another secret/);
    const bytes = decodeBase64Url(await seal(keys, ID, 1, "{}"));
    bytes[0] = 9;
    await expect(unseal(ring, ID, encodeBase64Url(bytes))).rejects.toThrow(/unknown sealed format version 9/);
    await expect(unseal(ring, ID, "not base64!")).rejects.toThrow(/not base64url/);
  });
});

describe("envelope", () => {
  it("keeps a version's data, user, tie time and the tags of the changes it holds", async () => {
    const envelope = { kind: "data", json: '{"a":{"d":1}}', tags: ["t3", "t2", "t1"], user: "ada", since: 5 } as const;
    const sealed = await seal(ring.current, ID, 3, wrap({ ...envelope, createdAt: 1, writtenAt: 2 }));
    expect(await openEnvelope(ring, ID, sealed)).toEqual({ ...envelope, version: 3, createdAt: 1, writtenAt: 2 });
  });

  it("reads a version written without earlier tags as having none", async () => {
    const sealed = await seal(
      ring.current,
      ID,
      1,
      wrap({ kind: "data", json: "{}", tags: ["t1"], createdAt: 1, writtenAt: 1 }),
    );
    expect(await openEnvelope(ring, ID, sealed)).toMatchObject({ tags: ["t1"], json: "{}", since: 1 });
  });

  it("keeps the tag of the end that wrote a marker, and reads a marker written without one", async () => {
    for (const kind of ["tombstone", "retired"] as const) {
      const tagged = await seal(ring.current, ID, 4, wrap({ kind, createdAt: 1, writtenAt: 2, tag: "e1" }));
      expect(await openEnvelope(ring, ID, tagged)).toEqual({ kind, version: 4, createdAt: 1, writtenAt: 2, tag: "e1" });
      // As 0.3 wrote it.
      const old = await seal(
        ring.current,
        ID,
        4,
        JSON.stringify({ c: 1, w: 2, [kind === "tombstone" ? "x" : "r"]: 1 }),
      );
      expect(await openEnvelope(ring, ID, old)).toEqual({
        kind,
        version: 4,
        createdAt: 1,
        writtenAt: 2,
        tag: undefined,
      });
    }
  });
});

describe("secret rotation", () => {
  it("opens what a previous secret sealed, and nothing the ring does not hold", async () => {
    const old = await deriveKeys(new Secret("o".repeat(64)));
    const sealed = await seal(old, ID, 3, "{}");
    expect(await unseal(new KeyRing(keys, [old]), ID, sealed)).toEqual({ version: 3, plaintext: "{}" });
    await expect(unseal(new KeyRing(keys), ID, sealed)).rejects.toThrow(/another secret/);
  });
});

describe("size limits", () => {
  it("refuses, while inflating, a small blob that would inflate past the maximum", async () => {
    const bomb = JSON.stringify({ pad: "x".repeat(5_000_000) });
    const sealed = await seal(keys, ID, 1, bomb);
    expect(sealed.length).toBeLessThan(20_000); // 5 MB of repeated text seals small
    await expect(unseal(ring, ID, sealed, 100_000)).rejects.toThrow(/inflates past the maximum of 100000 bytes/);
    expect((await unseal(ring, ID, sealed, 6_000_000)).plaintext).toBe(bomb);
  });

  it("refuses a blob larger than the maximum before opening it", async () => {
    const random = encodeBase64Url(crypto.getRandomValues(new Uint8Array(60_000)));
    const sealed = await seal(keys, ID, 1, JSON.stringify({ random }));
    await expect(unseal(ring, ID, sealed, 50_000)).rejects.toBeInstanceOf(SealError);
    await expect(unseal(ring, ID, sealed, 50_000)).rejects.toThrow(/larger than the maximum/);
  });
});

describe("keys", () => {
  it("derives one key per purpose, stable for a secret", async () => {
    const again = await deriveKeys(new Secret(SECRET));
    expect(again.keyId).toEqual(keys.keyId);
    expect(again.cookie).toEqual(keys.cookie);
    expect(keys.cookie).not.toEqual(keys.keyId);
  });

  it("hashes session ids into store keys that reveal nothing, the same under every secret", async () => {
    const key = await storeKeyOf(ID);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(key).not.toContain(ID);
    expect(await storeKeyOf(ID)).toBe(key);
    expect(await storeKeyOf(ID.replace(/.$/, "Z"))).not.toBe(key);
  });
});
