import type { IndexedSession, StorePort } from "../../src/engine/ports.js";
import type { IndexOp, ReadAnswer, Stored, Version } from "../../src/protocol/types.js";
import type { EndPlan, WritePlan } from "../../src/protocol/write.js";
import type { RequestTrace } from "../../src/trace.js";
import type { Scheduler } from "./scheduler.js";

/*
 * The simulated store: compare-and-set by version with expiry, markers, and users' indexes and cut-offs,
 * with the semantics of the real stores (src/stores/), plus the secrets that sealed each value (a value
 * sealed with a secret no longer in an isolate's ring does not open there). It checks, on every write,
 * what no write may ever do (a version going back, an ended id coming back, a landed key lost or changed,
 * a counter moving by other than its landed updates); the network between it and each isolate delays,
 * loses and duplicates calls.
 */

export interface LiveValue {
  kind: "live";
  tags: string[];
  json: string;
  createdAt: number;
  user: string | undefined;
  since: number;
}
interface EndedValue {
  kind: "ended";
  reason: "destroyed" | "retired";
  tag: string;
}
interface Row {
  version: number;
  value: LiveValue | EndedValue;
  /** Sim time (the store's clock). */
  expiresAt: number;
  /** The secret generation that sealed it. */
  gen: number;
  /** The call that wrote it: a retry finding its own value in place knows it landed. */
  payload: number;
}

interface UserRecord {
  entries: Map<string, { id: string; createdAt: number; since: number; expiresAt: number }>;
  revokedBefore: number;
  keepUntil: number;
}

/** A rule the store saw broken. */
export class Violation extends Error {
  override readonly name = "Violation";
}

export interface StoreHistory {
  /** When each version of a key was first stored and when something else replaced it (sim time). */
  versions: Array<{ version: number; from: number; to: number }>;
}

export class SimStore {
  readonly rows = new Map<string, Row>();
  readonly users = new Map<string, UserRecord>();
  readonly history = new Map<string, StoreHistory>();
  /** Per key: the highest version ever stored, whether it ever ended, and the landed keys and counters. */
  readonly #highest = new Map<string, number>();
  readonly #endedEver = new Set<string>();
  /** Per key: the unique values it held and then lost to another (never to come back). */
  readonly #replaced = new Map<string, Set<string>>();
  /** The live value a marker replaced, by id (what a regenerate must carry over). */
  readonly beforeEnd = new Map<string, LiveValue>();
  /** Keys whose data the store lost (a restart without persistence): some rules start over for them. */
  readonly lost = new Set<string>();
  /**
   * Sessions a store call of which met a fault (lost, its answer lost, an error after it, a timeout): an
   * index change of theirs may have failed, and the layer only logs that (the session is listed again by a
   * later write), so their listing is not checked.
   */
  readonly faulted = new Set<string>();
  #payload = 0;
  /** The request whose end wrote the marker standing there, by id: a regenerate whose own retirement landed must carry the data. */
  readonly endedBy = new Map<string, RequestTrace>();

  constructor(readonly sim: Scheduler) {}

  newPayload(): number {
    return ++this.#payload;
  }

  row(id: string): Row | undefined {
    const row = this.rows.get(id);
    if (row !== undefined && row.expiresAt <= this.sim.now) {
      // Expired: the key is gone, and its versions start over (no isolate may hold it past its expiry).
      this.#replace(id, undefined);
      this.#highest.delete(id);
      return undefined;
    }
    return row;
  }

  /** Compare-and-set. `null` when written (or found written by this very call), else the row standing there. */
  cas(id: string, expected: number, next: Row): Row | null | "none" {
    const current = this.row(id);
    if (current !== undefined && current.payload === next.payload) return null; // a retry of a call that landed
    if ((current?.version ?? 0) !== expected) return current ?? "none";
    this.#check(id, current, next);
    if (next.value.kind === "ended" && current?.value.kind === "live") this.beforeEnd.set(id, current.value);
    this.#replace(id, next);
    return null;
  }

  /** Pushes the expiry of `known` forward if it is still the version stored; answers null when it is. */
  readIfChanged(id: string, known: number, refreshMs: number | undefined): Row | null | "none" {
    const current = this.row(id);
    if (current === undefined) return "none";
    if (known > 0 && current.version === known) {
      if (refreshMs !== undefined) current.expiresAt = Math.max(current.expiresAt, this.sim.now + refreshMs);
      return null;
    }
    return current;
  }

  /** Pushes whatever stands there forward; a marker's life must never be extended (it would outlive its end's reach). */
  resetTimer(id: string, ttlMs: number): void {
    const current = this.row(id);
    if (current === undefined) return;
    if (current.value.kind === "ended")
      throw new Violation(`store: the ${current.value.reason} marker of ${short(id)} had its expiry pushed forward`);
    current.expiresAt = Math.max(current.expiresAt, this.sim.now + ttlMs);
  }

  /** A restart without persistence: everything is gone. */
  loseEverything(): void {
    for (const id of this.rows.keys()) {
      this.lost.add(id);
      this.#replace(id, undefined);
    }
    // What comes back is isolates' copies, older than what was lost: values written over start anew.
    this.#replaced.clear();
    this.users.clear();
  }

  user(key: string): UserRecord | undefined {
    const record = this.users.get(key);
    if (record === undefined) return undefined;
    const now = this.sim.now;
    for (const [id, entry] of record.entries) if (entry.expiresAt <= now) record.entries.delete(id);
    if (record.keepUntil <= now && record.entries.size === 0) {
      this.users.delete(key);
      return undefined;
    }
    return record;
  }

  userForWrite(key: string): UserRecord {
    let record = this.user(key);
    if (record === undefined) this.users.set(key, (record = { entries: new Map(), revokedBefore: 0, keepUntil: 0 }));
    return record;
  }

  #replace(id: string, next: Row | undefined): void {
    const history = this.history.get(id) ?? { versions: [] };
    const last = history.versions.at(-1);
    if (last !== undefined && last.to === Infinity) last.to = this.sim.now;
    if (next !== undefined && next.value.kind === "live") {
      history.versions.push({ version: next.version, from: this.sim.now, to: Infinity });
    }
    this.history.set(id, history);
    if (next === undefined) this.rows.delete(id);
    else this.rows.set(id, next);
  }

  /** What no write may do. */
  #check(id: string, current: Row | undefined, next: Row): void {
    const highest = this.#highest.get(id) ?? 0;
    if (!this.lost.has(id) && next.version <= highest) {
      throw new Violation(`store: ${short(id)} went back from version ${highest} to ${next.version}`);
    }
    this.#highest.set(id, Math.max(highest, next.version));
    if (next.value.kind === "ended") {
      this.#endedEver.add(id);
      return;
    }
    if (this.#endedEver.has(id) && !this.lost.has(id)) {
      throw new Violation(`store: ${short(id)} came back after it ended (version ${next.version})`);
    }
    if (current?.value.kind !== "live") return;
    const before = JSON.parse(current.value.json) as Record<string, unknown>;
    const after = JSON.parse(next.value.json) as Record<string, unknown>;
    // A browser's own keys are written once each and never deleted: a landed one stays, unchanged.
    for (const [key, value] of Object.entries(before)) {
      if (/^b\d+_/.test(key) && after[key] !== value) {
        throw new Violation(`store: ${short(id)} v${next.version} lost the landed key ${key}`);
      }
    }
    // Overwritten keys hold unique values: one that the store held and then replaced never comes back (it
    // would be a change applied twice, over what was written after it).
    const replaced = this.#replaced.get(id) ?? new Set<string>();
    for (const [key, value] of Object.entries(before)) {
      if (typeof value === "string" && value.includes("#") && after[key] !== value) replaced.add(value);
    }
    for (const value of Object.values(after)) {
      if (typeof value === "string" && replaced.has(value)) {
        throw new Violation(
          `store: ${short(id)} v${next.version} brought back ${value.slice(-12)}, a value written over before`,
        );
      }
    }
    this.#replaced.set(id, replaced);
    // A counter moves by one per update that lands, each marked by a key of its own.
    const counters = new Set([...Object.keys(after), ...Object.keys(before)].filter((k) => k.startsWith("n_")));
    for (const counter of counters) {
      const marks = (data: Record<string, unknown>) =>
        Object.keys(data).filter((k) => k.startsWith(`u_${counter}_`)).length;
      const moved = Number(after[counter] ?? 0) - Number(before[counter] ?? 0);
      const landed = marks(after) - marks(before);
      if (moved !== landed) {
        throw new Violation(
          `store: ${short(id)} v${next.version} moved ${counter} by ${moved} with ${landed} update(s) landing`,
        );
      }
    }
  }
}

/** How the network between one isolate and the store behaves (read at each call: faults can stop). */
export interface Network {
  /** One-way delay, ms. */
  delay(): number;
  /** The call never reaches the store. */
  readonly lose: number;
  /** The store applies it, the answer is lost: the client retries once, 50 ms later (as @upstash/redis does). */
  readonly loseAnswer: number;
  /** The store applies it, then the answer is an error. */
  readonly errorAfter: number;
}

/** One isolate's view of the store: the engine's `StorePort`, over the simulated network. */
export class SimPort implements StorePort {
  readonly merges = true;
  readonly revalidating = true;
  readonly indexed = true;

  constructor(
    readonly store: SimStore,
    readonly isolate: number,
    readonly network: Network,
    /** The secret generations this isolate opens, the current first. */
    readonly ring: readonly number[],
    /** This isolate's clock, as an offset from the store's. */
    readonly skew: number,
    readonly timeoutMs: number,
    readonly log: (line: string) => void,
    /** `confirm` is one call; otherwise a read and a cut-off read at once, each with its own faults. */
    readonly oneCallConfirm = true,
  ) {}

  read(id: string, known: number, refreshMs: number | undefined, trace: RequestTrace): Promise<ReadAnswer> {
    return this.#call(trace, `read ${short(id)} known=${known}`, [id], () => {
      const row = this.store.readIfChanged(id, known, refreshMs);
      return row === null ? "unchanged" : this.#open(row);
    });
  }

  /** The session and the user's cut-off: in one call (as the Redis and memory stores can), or two at once. */
  async confirm(
    id: string,
    known: number,
    refreshMs: number | undefined,
    user: string,
    trace: RequestTrace,
  ): Promise<{ answer: ReadAnswer; revokedBefore: number }> {
    if (!this.oneCallConfirm) {
      const [answer, revokedBefore] = await Promise.all([
        this.read(id, known, refreshMs, trace),
        this.revokedBefore(user, trace),
      ]);
      return { answer, revokedBefore };
    }
    return this.#call(trace, `confirm ${short(id)} known=${known} + cutoff? ${user}`, [id], () => {
      const row = this.store.readIfChanged(id, known, refreshMs);
      const revokedBefore = Math.max(
        0,
        ...this.ring.map((gen) => this.store.user(userKey(gen, user))?.revokedBefore ?? 0),
      );
      return { answer: row === null ? ("unchanged" as const) : this.#open(row), revokedBefore };
    });
  }

  write(id: string, plan: WritePlan, ttlMs: number, trace: RequestTrace): Promise<Stored | null> {
    const payload = this.store.newPayload();
    const value: LiveValue = {
      kind: "live",
      tags: [...plan.tags],
      json: plan.json,
      createdAt: plan.createdAt,
      user: plan.tie.user,
      since: plan.tie.since,
    };
    return this.#call(
      trace,
      `write ${short(id)} ${plan.expected}->${plan.version} [${plan.tags.slice(0, 3).join(",")}]`,
      [id],
      () => {
        const row: Row = {
          version: plan.version,
          value,
          expiresAt: this.store.sim.now + ttlMs,
          gen: this.ring[0]!,
          payload,
        };
        const answer = this.store.cas(id, plan.expected, row);
        return answer === null ? null : this.#open(answer);
      },
    );
  }

  end(id: string, plan: EndPlan, _createdAt: number, ttlMs: number, trace: RequestTrace): Promise<Stored | null> {
    const payload = this.store.newPayload();
    return this.#call(trace, `end ${short(id)} ${plan.expected}->${plan.version} ${plan.reason}`, [id], () => {
      const row: Row = {
        version: plan.version,
        value: { kind: "ended", reason: plan.reason, tag: plan.tag },
        expiresAt: this.store.sim.now + ttlMs,
        gen: this.ring[0]!,
        payload,
      };
      const answer = this.store.cas(id, plan.expected, row);
      if (answer === null) this.store.endedBy.set(id, trace);
      return answer === null ? null : this.#open(answer);
    });
  }

  /** A plain expiry push (resetTimer), whatever stands there: the layer uses it only on stores without conditional reads. */
  refresh(id: string, ttlMs: number, trace: RequestTrace): Promise<void> {
    return this.#call(trace, `refresh ${short(id)}`, [id], () => this.store.resetTimer(id, ttlMs));
  }

  revokedBefore(user: string, trace: RequestTrace): Promise<number> {
    return this.#call(trace, `cutoff? ${user}`, [], () =>
      Math.max(0, ...this.ring.map((gen) => this.store.user(userKey(gen, user))?.revokedBefore ?? 0)),
    );
  }

  revokeBefore(user: string, time: number, keepMs: number, trace: RequestTrace): Promise<void> {
    return this.#call(trace, `revoke ${user} before ${time}`, [], () => {
      for (const gen of this.ring) {
        const record = this.store.userForWrite(userKey(gen, user));
        record.revokedBefore = Math.max(record.revokedBefore, time);
        record.keepUntil = Math.max(record.keepUntil, this.store.sim.now + keepMs);
        for (const [id, entry] of record.entries) if (entry.since < record.revokedBefore) record.entries.delete(id);
      }
    });
  }

  readIndex(user: string, trace: RequestTrace): Promise<{ sessions: IndexedSession[]; revokedBefore: number }> {
    return this.#call(trace, `list ${user}`, [], () => {
      const byId = new Map<string, IndexedSession>();
      let revokedBefore = 0;
      for (const gen of this.ring) {
        const record = this.store.user(userKey(gen, user));
        if (record === undefined) continue;
        revokedBefore = Math.max(revokedBefore, record.revokedBefore);
        for (const [id, entry] of record.entries) {
          if (entry.since < record.revokedBefore) continue;
          const known = byId.get(id);
          if (known === undefined || known.expiresAt < entry.expiresAt) {
            byId.set(id, { ...entry, handle: `h${gen}-${id}` });
          }
        }
      }
      return { sessions: [...byId.values()], revokedBefore };
    });
  }

  changeIndex(ops: IndexOp[], trace: RequestTrace): Promise<void> {
    const what = `index ${ops.map((o) => `${o.op} ${o.user} ${short(o.id)}`).join("; ")}`;
    return this.#call(
      trace,
      what,
      ops.map((op) => op.id),
      () => {
        for (const op of ops) {
          if (op.op === "put") {
            const record = this.store.userForWrite(userKey(this.ring[0]!, op.user));
            if (op.since < record.revokedBefore) continue;
            record.entries.set(op.id, { id: op.id, createdAt: op.createdAt, since: op.since, expiresAt: op.expiresAt });
            record.keepUntil = Math.max(record.keepUntil, op.expiresAt);
            evict(record, MAX_ENTRIES);
          } else if (op.op === "touch") {
            // Wherever it stands (one made before a rotation, under the previous secret), as StoreTier does.
            for (const gen of this.ring) {
              const entry = this.store.user(userKey(gen, op.user))?.entries.get(op.id);
              if (entry !== undefined) entry.expiresAt = op.expiresAt;
            }
          } else {
            for (const gen of this.ring) this.store.user(userKey(gen, op.user))?.entries.delete(op.id);
          }
        }
      },
    );
  }

  /** What the isolate gets for a row: live, ended, or tampered when none of its secrets opens it. */
  #open(row: Row | "none"): Stored {
    if (row === "none") return { kind: "none" };
    if (!this.ring.includes(row.gen)) return { kind: "tampered", version: row.version };
    if (row.value.kind === "ended")
      return { kind: "ended", version: row.version, reason: row.value.reason, tag: row.value.tag };
    const { tags, json, createdAt, user, since } = row.value;
    const version: Version = {
      version: row.version,
      tags: [...tags],
      json,
      createdAt,
      user,
      since,
      expiresAt: row.expiresAt + this.skew,
    };
    return { kind: "live", ...version };
  }

  /**
   * One call over the network: delayed, maybe lost, maybe applied twice, bounded by the store timeout. `ids`:
   * the sessions it concerns (noted in `faulted` when it meets a fault).
   */
  #call<T>(trace: RequestTrace, what: string, ids: readonly string[], apply: () => T): Promise<T> {
    const { sim } = this.store;
    const { network, isolate } = this;
    trace.storeCalls++;
    if (process.env["SIM_DEBUG"]) this.log(`i${this.isolate} call ${what}`);
    const fault = () => ids.forEach((id) => this.store.faulted.add(id));
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (done: () => void) => {
        if (!settled) {
          settled = true;
          done();
        }
      };
      sim.after(
        this.timeoutMs,
        () =>
          finish(() => {
            fault();
            reject(new Error(`store call timed out: ${what}`));
          }),
        isolate,
        "timeout",
      );
      const attempt = (retry: boolean) => {
        if (sim.rng.float() < network.lose) {
          fault();
          this.log(`  net: lost ${what}`);
          if (!retry) sim.after(50, () => attempt(true), isolate, "retry");
          return;
        }
        sim.after(
          network.delay(),
          () => {
            let result: T;
            try {
              result = apply();
            } catch (error) {
              if (error instanceof Violation) throw error;
              throw error;
            }
            const copy = structuredClone(result);
            const roll = sim.rng.float();
            if (roll < network.loseAnswer) {
              fault();
              this.log(`  net: answer lost ${what}`);
              if (!retry) sim.after(50, () => attempt(true), isolate, "retry");
              return;
            }
            if (roll < network.loseAnswer + network.errorAfter) {
              fault();
              this.log(`  net: error after ${what}`);
              sim.after(
                network.delay(),
                () => finish(() => reject(new Error(`store error after: ${what}`))),
                isolate,
                "answer",
              );
              return;
            }
            sim.after(network.delay(), () => finish(() => resolve(copy)), isolate, "answer");
          },
          undefined,
          "store",
        );
      };
      attempt(false);
    });
  }
}

/** The most index entries per user, as the layer asks of a store. */
export const MAX_ENTRIES = 6;

function evict(record: UserRecord, maxEntries: number): void {
  if (record.entries.size <= maxEntries) return;
  const bySince = [...record.entries.values()].sort((a, b) => a.since - b.since);
  const dropped = bySince.slice(0, bySince.length - maxEntries);
  for (const entry of dropped) record.entries.delete(entry.id);
  record.revokedBefore = Math.max(record.revokedBefore, dropped.at(-1)!.since + 1);
}

function userKey(gen: number, user: string): string {
  return `${gen}/${user}`;
}

export function short(id: string): string {
  return id.slice(0, 6);
}

export type { RequestTrace };
