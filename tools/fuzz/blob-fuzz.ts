import { fileURLToPath } from "node:url";
import { ENVELOPE_ROOM_BYTES } from "../../src/sealing/envelope.js";
import { SECRET } from "../../test/support/node.js";
import type { CraftItem, OpenItem, OpenOutcome, SealItem, SecretRole } from "./blob-protocol.js";
import { BLOB_MUTATORS, type BlobCase, type BlobContext, type BlobMutator } from "./blob-mutators.js";
import { boundaryOriginals, digestOf, newOriginal, type Original, type Unsealed } from "./blob-originals.js";
import { judgeBlob } from "./blob-verdict.js";
import { OTHER_INSTANCE_SECRET } from "./cookie-signing.js";
import { startFuzzIsolate } from "./fuzz-isolate.js";
import type { MemoryReport } from "./memory-sampler.js";
import { Prng } from "./prng.js";
import { Tally } from "./tally.js";
import { uncaughtErrors } from "./worker-logs.js";

/*
 * The blob fuzz: `cases` damaged, moved and crafted blobs opened by the codec inside workerd (blob-worker.ts),
 * `batchSize` per request. Between batches a few originals are replaced by new ones, so the blobs keep
 * changing (new ids, versions, IVs) while every mutator keeps a choice of sizes and kinds.
 */

/** As the store tier opens blobs: maxSessionBytes (the default, 128 KiB) + the envelope's room. */
export const MAX_BYTES = 128 * 1024 + ENVELOPE_ROOM_BYTES;
const ORIGINALS = 64;
const RENEWED_PER_BATCH = 8;
const NEXT_SECRET = "fuzz-rotated-to-".padEnd(80, "n");

export interface BlobFuzzOptions {
  cases: number;
  seed: number;
  batchSize?: number;
  onProgress?: (done: number) => void;
}

export interface BlobFuzzReport {
  cases: number;
  batches: number;
  maxBytes: number;
  tally: Tally;
  mutators: readonly BlobMutator[];
  memory: MemoryReport;
  elapsedMs: number;
}

export async function fuzzBlobs(options: BlobFuzzOptions): Promise<BlobFuzzReport> {
  const { cases, seed, batchSize = 250 } = options;
  const target = await startFuzzIsolate(
    { FUZZ_SECRET_OWN: SECRET, FUZZ_SECRET_NEXT: NEXT_SECRET, FUZZ_SECRET_OTHER: OTHER_INSTANCE_SECRET },
    { entry: fileURLToPath(new URL("./blob-worker.ts", import.meta.url)) },
  );
  try {
    const call = async <T>(path: string, body: unknown): Promise<T> => {
      const res = await target.isolate.mf.dispatchFetch(`https://codec.test${path}`, {
        method: "POST",
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    };
    const sealAll = async (items: Unsealed[]): Promise<Original[]> => {
      const sealed = await call<string[]>("/seal", items satisfies SealItem[]);
      return items.map((item, i) => ({ ...item, sealed: sealed[i]!, digest: digestOf(item.version, item.plaintext) }));
    };

    const setup = new Prng(seed ^ 0x5eed);
    const originals = await sealAll(Array.from({ length: ORIGINALS }, () => newOriginal(setup)));
    // At least one of each secret, whatever the draw: the mutators that need one would otherwise spin.
    const roles: SecretRole[] = ["own", "next", "other"];
    originals.push(...(await sealAll(roles.map((secret) => ({ ...newOriginal(setup), secret })))));
    const boundary = boundaryOriginals(setup, MAX_BYTES);
    const [atLimit, bombs] = await Promise.all([sealAll(boundary.atLimit), sealAll(boundary.bombs)]);
    // Bytes 2–5 of a sealed blob name the secret that sealed it.
    const keyIdOf = (role: SecretRole) =>
      new Uint8Array(Buffer.from(originals.find((o) => o.secret === role)!.sealed, "base64url").subarray(2, 6));
    const keyIds: Record<SecretRole, Uint8Array> = {
      own: keyIdOf("own"),
      next: keyIdOf("next"),
      other: keyIdOf("other"),
    };

    const tally = new Tally();
    const started = performance.now();
    const sampler = target.sampleMemory();
    let batches = 0;
    for (let first = 0; first < cases; first += batchSize) {
      batches++;
      const renewal = Prng.forCase(seed, "renewal", batches);
      const renewed = await sealAll(Array.from({ length: RENEWED_PER_BATCH }, () => newOriginal(renewal)));
      for (const o of renewed) originals[renewal.int(ORIGINALS)] = o;

      const indexes = Array.from({ length: Math.min(batchSize, cases - first) }, (_, i) => first + i);
      const drawn = indexes.map((index) => {
        const rng = Prng.forCase(seed, "blobs", index);
        const mutator = rng.pick(BLOB_MUTATORS);
        const ctx: BlobContext = { rng, originals, atLimit, bombs, keyIds, maxBytes: MAX_BYTES };
        return { index, mutator, blob: mutator.mutate(ctx) };
      });
      await craftAll(
        drawn.map((d) => d.blob),
        call,
      );
      let outcomes: OpenOutcome[];
      try {
        const items = drawn.map(({ blob }): OpenItem => ({ id: blob.id, ring: blob.ring, sealed: blob.sealed! }));
        outcomes = await call<OpenOutcome[]>("/open", { maxBytes: MAX_BYTES, items });
      } catch (error) {
        // The codec worker failed the whole batch: an error escaped the codec, or workerd went down.
        const detail = error instanceof Error ? error.message : String(error);
        for (const { index, mutator } of drawn) tally.fail({ kind: "crash", index, mutator: mutator.name, detail });
        continue;
      }
      drawn.forEach(({ index, mutator, blob }, i) => {
        const verdict = judgeBlob(blob, outcomes[i]!);
        if ("failure" in verdict)
          tally.fail({ kind: verdict.failure, index, mutator: mutator.name, detail: verdict.detail });
        else tally.count(mutator.name, verdict.outcome);
      });
      // About every tenth of the run, as the cookie fuzz reports.
      const done = first + indexes.length;
      if (Math.floor((done * 10) / cases) > Math.floor((first * 10) / cases)) options.onProgress?.(done);
    }
    const memory = await sampler.stop();
    const elapsedMs = performance.now() - started;
    for (const line of uncaughtErrors(target.isolate.logs)) {
      tally.fail({ kind: "uncaught error in worker", index: -1, mutator: "(worker log)", detail: line });
    }
    return { cases, batches, maxBytes: MAX_BYTES, tally, mutators: BLOB_MUTATORS, memory, elapsedMs };
  } finally {
    await target.dispose();
  }
}

/** Has the worker frame the crafted blobs of a batch, in one request. */
async function craftAll(blobs: BlobCase[], call: <T>(path: string, body: unknown) => Promise<T>): Promise<void> {
  const toCraft = blobs.filter((b): b is BlobCase & { craft: CraftItem } => b.craft !== undefined);
  if (toCraft.length === 0) return;
  const sealed = await call<string[]>(
    "/craft",
    toCraft.map((b) => b.craft),
  );
  toCraft.forEach((blob, i) => (blob.sealed = sealed[i]!));
}
