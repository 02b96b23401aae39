import type { Engine } from "../../src/engine/engine.js";
import type { Runtime } from "../../src/engine/ports.js";
import type { CookiePlan, Loaded } from "../../src/protocol/request.js";
import type { Claim, Policy } from "../../src/protocol/types.js";
import type { Session } from "../../src/types.js";
import { Prng } from "../fuzz/prng.js";
import { Scheduler } from "./scheduler.js";
import { short, SimPort, SimStore, Violation, type Network } from "./store.js";
import type { System } from "./system.js";

/*
 * The simulated world: isolates running the real engine, browsers with cookie jars (some sending old
 * cookies, one of them a thief with a copied cookie), a store across a faulty network, clocks that
 * disagree, isolates that die with their background work, a secret rotation, a store that loses its data.
 * After every step the promises of the README are checked (see check* below and SimStore's own checks);
 * the first one broken ends the run with its seed and the steps that led there.
 */

/** More steps than any run of the world takes unless something loops. */
const MAX_STEPS = 100_000;

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** What one seed's world is made of, drawn from the seed. */
export interface WorldShape {
  isolates: number;
  browsers: number;
  /** Requests each browser makes. */
  requests: number;
  policy: Policy;
  memoryMaxBytes: number;
  skewMs: number;
  storeTimeoutMs: number;
  faults: { lose: number; loseAnswer: number; errorAfter: number; spike: number };
  deaths: number;
  rotation: boolean;
  dataLoss: boolean;
  /** The store confirms a session and its user's cut-off in one call (Redis), or in two at once (Durable Objects). */
  oneCallConfirm: boolean;
}

export function shapeOf(rng: Prng): WorldShape {
  const idleTimeoutMs = rng.pick([4_000, 20_000, 120_000]);
  const faulty = rng.chance(0.7);
  return {
    isolates: rng.between(2, 4),
    browsers: rng.between(2, 4),
    requests: rng.between(6, 22),
    policy: {
      maxStalenessMs: rng.pick([0, 300, 1_000]),
      staleReadWaitMs: rng.pick([0, 100, 250]),
      onStaleRead: rng.chance(0.8) ? "serve" : "reject",
      idleTimeoutMs,
      absoluteTimeoutMs: rng.chance(0.2) ? rng.pick([3_000, 15_000]) : undefined,
      refreshIntervalMs: idleTimeoutMs / 4,
      markerTtlMs: 2 * idleTimeoutMs,
      maxSessionBytes: rng.chance(0.3) ? 1_500 : 131_072,
      merges: true,
    },
    memoryMaxBytes: rng.pick([40_000, 200_000, 8_000_000]),
    skewMs: rng.pick([0, 20, 150]),
    storeTimeoutMs: rng.pick([300, 1_000]),
    faults: faulty
      ? { lose: 0.02, loseAnswer: 0.04, errorAfter: 0.03, spike: 0.03 }
      : { lose: 0, loseAnswer: 0, errorAfter: 0, spike: 0 },
    deaths: rng.chance(0.4) ? rng.between(1, 3) : 0,
    rotation: rng.chance(0.15),
    dataLoss: rng.chance(0.05),
    oneCallConfirm: rng.chance(0.5),
  };
}

interface VersionCookie {
  id: string;
  version: number;
  tag: string;
  at: number;
  gen: number;
  /** The browser's own keys the write it names holds (every one must be served while it names it). */
  mustSee: readonly string[];
}

interface Jar {
  id?: { value: string; gen: number } | undefined;
  v?: VersionCookie | undefined;
}

interface Browser {
  n: number;
  user: string;
  jar: Jar;
  /** Earlier jars: a browser sometimes sends an old cookie (a restored tab, a request sent long ago). */
  history: Jar[];
  seq: number;
  /** A thief: works with a copy of another browser's cookies; `follows` takes the cookies it is given. */
  thief?: { victim: number; follows: boolean; copied: boolean };
}

interface Isolate {
  index: number;
  /** Its owner id for the scheduler (a restarted isolate is a new one). */
  owner: number;
  alive: boolean;
  engine: Engine;
  port: SimPort;
  ring: number[];
  skew: number;
}

/** What a browser gets back from a request. */
interface Response {
  cookies: CookiePlan;
  /** The browser's own keys the request wrote. */
  wrote: string[];
  loaded: Loaded | undefined;
  /** The secret that signs the response's cookies. */
  gen: number;
  /** The request's claim was settled as lost. */
  settled: boolean;
  /** The session under its new id, when the request regenerated it. */
  regenerated: Loaded | undefined;
}

type Op =
  | "read"
  | "write"
  | "theme"
  | "scratch"
  | "big"
  | "update"
  | "commit"
  | "login"
  | "setUser"
  | "logout"
  | "list"
  | "revokeOne"
  | "revokeAll"
  | "revokeAllKeep";

const HONEST: Array<[Op, number]> = [
  ["read", 30],
  ["write", 20],
  ["theme", 4],
  ["scratch", 3],
  ["big", 2],
  ["update", 10],
  ["commit", 5],
  ["login", 7],
  ["setUser", 2],
  ["logout", 4],
  ["list", 4],
  ["revokeOne", 2],
  ["revokeAll", 1],
  ["revokeAllKeep", 1],
];
const THIEF: Array<[Op, number]> = [
  ["read", 40],
  ["theme", 10],
  ["update", 5],
  ["login", 20],
  ["list", 8],
  ["revokeAll", 4],
  ["revokeAllKeep", 8],
  ["logout", 5],
];

/** One run of the world under one seed. */
export class World {
  readonly sim: Scheduler;
  readonly rng: Prng;
  readonly store: SimStore;
  readonly shape: WorldShape;
  readonly isolates: Isolate[] = [];
  readonly browsers: Browser[] = [];
  readonly #trace: string[] = [];
  #owners = 0;
  #gen = 1;
  #ring: number[] = [1];
  /** Ids ended for good (destroyed, retired, revoked) and when the operation that ended them answered. */
  readonly #ended = new Map<string, number>();
  /** Ids retired by a regenerate: when, and the id the session went to. */
  readonly #retired = new Map<string, { at: number; to: string }>();
  /** Ids whose end marker (a logout's, a regenerate's) stood in the store when the operation answered: when. */
  readonly #marked = new Map<string, number>();
  /** Per user: the latest "sign out everywhere" (its cut-off, in the revoking isolate's clock) and when it answered. */
  readonly #revoked = new Map<string, { before: number; at: number }>();
  /** Each key a browser wrote: when, and with which session id. */
  readonly #written = new Map<string, { at: number; id: string }>();
  #requests = 0;
  #values = 0;
  #pending = 0;
  #lostData = -Infinity;
  violation: Violation | undefined;

  constructor(
    readonly seed: number,
    readonly system: System,
    shape?: WorldShape,
  ) {
    this.sim = new Scheduler(seed);
    this.rng = this.sim.rng;
    this.shape = shape ?? shapeOf(new Prng(seed ^ 0x5eed));
    this.store = new SimStore(this.sim);
  }

  get requests(): number {
    return this.#requests;
  }

  #unique(): number {
    return ++this.#values;
  }

  log(line: string): void {
    this.#trace.push(`${String(this.sim.now).padStart(7)} ms  ${line}`);
    if (this.#trace.length > (process.env["SIM_DEBUG"] ? 100_000 : 400)) this.#trace.splice(0, 100);
  }

  /** The last steps before the end of the run (all of them with SIM_DEBUG set). */
  trace(lines = process.env["SIM_DEBUG"] ? Number.POSITIVE_INFINITY : 60): string[] {
    return this.#trace.slice(-lines);
  }

  fail(message: string): never {
    const violation = new Violation(message);
    this.violation ??= violation;
    throw violation;
  }

  /** Runs the world to its end (every browser's requests, then a quiet spell and a convergence check). */
  async run(): Promise<void> {
    const { shape } = this;
    for (let i = 0; i < shape.isolates; i++) this.isolates.push(this.#startIsolate(i));
    for (let n = 0; n < shape.browsers; n++) {
      this.browsers.push({ n, user: `user${n % 2}`, jar: {}, history: [], seq: 0 });
    }
    // A thief with a copy of browser 0's cookies, taken a while into the run.
    const thief: Browser = { n: shape.browsers, user: "thief", jar: {}, history: [], seq: 0 };
    thief.thief = { victim: 0, follows: this.rng.chance(0.5), copied: false };
    this.browsers.push(thief);
    for (const browser of this.browsers) this.#next(browser, this.rng.between(0, 300));
    for (let i = 0; i < shape.deaths; i++)
      this.sim.after(this.rng.between(500, 15_000), () => this.#restart(this.rng.int(this.isolates.length), "dies"));
    if (shape.rotation) this.sim.after(this.rng.between(2_000, 8_000), () => this.#rotate());
    if (shape.dataLoss) this.sim.after(this.rng.between(1_000, 12_000), () => this.#loseData());
    try {
      while (this.violation === undefined && (await this.sim.step())) {
        this.#checkStep();
        // Every wait in the world is bounded; a run this long is a loop that never settles.
        if (this.sim.steps > MAX_STEPS)
          this.fail(`liveness: ${MAX_STEPS} steps and still going (a loop that never settles)`);
      }
      if (this.violation === undefined) await this.#converge();
    } catch (error) {
      if (error instanceof Violation) this.violation = error;
      else
        this.violation = new Violation(
          `crash: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
    }
  }

  // ——— the world's actors ————————————————————————————————————————————————————————————————————

  #startIsolate(index: number, ring = this.#ring): Isolate {
    const owner = ++this.#owners;
    const skew = this.shape.skewMs === 0 ? 0 : this.rng.between(-this.shape.skewMs, this.shape.skewMs);
    const sim = this.sim;
    const rng = this.rng;
    const runtime: Runtime = {
      now: () => sim.now + skew,
      sleep: (ms) => sim.sleep(ms, owner),
      newId: () => randomString(rng, 24),
      newTag: () => randomString(rng, 8),
      random: () => rng.float(),
    };
    const { faults } = this.shape;
    const network: Network = {
      delay: () => (rng.float() < faults.spike ? rng.between(200, 1_500) : rng.between(1, 40)),
      get lose() {
        return faults.lose;
      },
      get loseAnswer() {
        return faults.loseAnswer;
      },
      get errorAfter() {
        return faults.errorAfter;
      },
    };
    const port = new SimPort(
      this.store,
      owner,
      network,
      [...ring],
      skew,
      this.shape.storeTimeoutMs,
      (line) => this.log(`i${index}${line}`),
      this.shape.oneCallConfirm,
    );
    const { MemoryTier, CutoffCache } = this.system;
    const engine: Engine = {
      runtime,
      store: port,
      memory: new MemoryTier(this.shape.memoryMaxBytes, runtime.now, (count) =>
        this.log(`i${index} memory dropped ${count} unsaved`),
      ),
      writing: new Map(),
      cutoffs: new CutoffCache(),
      readFailures: new Map(),
      policy: this.shape.policy,
      report: {
        logger: {
          warn: (m) => this.log(`i${index} warn ${m.replace("hono-edge-session: ", "")}`),
          error: (m) => this.log(`i${index} error ${m.replace("hono-edge-session: ", "")}`),
        },
        onEvent: (event) => {
          if (event.type !== "hit") this.log(`i${index} event ${JSON.stringify(event)}`);
        },
      },
      awaitWrites: false,
      onStoreUnavailable: "reject",
      maxSessionsPerUser: 6,
    };
    this.log(`isolate ${index} starts (owner ${owner}, skew ${skew} ms, secrets ${ring.join(",")})`);
    return { index, owner, alive: true, engine, port, ring: [...ring], skew };
  }

  #restart(index: number, why: string): void {
    const old = this.isolates[index]!;
    old.alive = false;
    this.sim.kill(old.owner);
    this.log(`isolate ${index} ${why}, with whatever it had in memory and in waitUntil`);
    this.isolates[index] = this.#startIsolate(index);
  }

  /** A rotation: every isolate restarts with a new current secret (the old one previous); later the old one goes. */
  #rotate(): void {
    this.#gen++;
    this.#ring = [this.#gen, this.#gen - 1];
    this.log(`rotation: secret ${this.#gen} current, ${this.#gen - 1} previous`);
    for (let i = 0; i < this.isolates.length; i++) this.#restart(i, "restarts for the rotation");
    this.sim.after(this.rng.between(2_000, 6_000), () => {
      this.#ring = [this.#gen];
      this.log(`rotation: secret ${this.#gen - 1} removed`);
      for (let i = 0; i < this.isolates.length; i++) this.#restart(i, "restarts without the old secret");
    });
  }

  #loseData(): void {
    this.log("store: restarts without persistence (everything is gone)");
    this.#lostData = this.sim.now;
    this.store.loseEverything();
  }

  /** The browser's next request, after a pause; sometimes a burst of parallel ones. */
  #next(browser: Browser, pauseMs: number): void {
    if (browser.seq >= this.shape.requests) return;
    this.sim.after(pauseMs, () => {
      if (browser.thief !== undefined && !browser.thief.copied) {
        const victim = this.browsers[browser.thief.victim]!;
        if (victim.jar.id === undefined || this.rng.chance(0.6)) {
          browser.seq++; // waiting for a cookie to steal counts against its requests
          return this.#next(browser, this.rng.between(100, 1_500));
        }
        browser.jar = copyJar(victim.jar);
        browser.thief.copied = true;
        this.log(`b${browser.n} steals b${victim.n}'s cookies (id ${short(victim.jar.id.value)})`);
      }
      const burst = this.rng.chance(0.15) ? this.rng.between(2, 4) : 1;
      let done = 0;
      for (let i = 0; i < burst; i++) {
        const op = this.#pick(browser.thief !== undefined ? THIEF : HONEST);
        this.#request(browser, op, () => {
          if (++done === burst) this.#next(browser, this.rng.between(20, 1_200));
        });
      }
    });
  }

  #pick(ops: Array<[Op, number]>): Op {
    let roll = this.rng.int(ops.reduce((sum, [, w]) => sum + w, 0));
    for (const [op, weight] of ops) {
      if ((roll -= weight) < 0) return op;
    }
    return "read";
  }

  /**
   * An attacker racing the victim's sign-out: right after it answers, the thief (with its copied cookie)
   * sends what could keep or revive the session, within the staleness bound, to isolates that may not know yet.
   */
  #provokeThief(stolen: Jar): void {
    const thief = this.browsers.find((b) => b.thief?.copied === true);
    if (thief === undefined || !this.rng.chance(0.7)) return;
    // The thief had copied the cookies the victim signed out with (sometimes it holds an older copy).
    if (this.rng.chance(0.5)) thief.jar = copyJar(stolen);
    const ops: Op[] = ["revokeAllKeep", "login", "theme", "read", "update"];
    for (let i = this.rng.between(1, 3); i > 0; i--) {
      const op = this.rng.pick(ops);
      this.sim.after(this.rng.between(0, Math.max(50, this.shape.policy.maxStalenessMs)), () => {
        thief.seq--; // a reaction, on top of its own requests
        this.#request(thief, op, () => {});
      });
    }
  }

  /** One request: to an isolate, over the network, its handler, its response back to the browser. */
  #request(browser: Browser, op: Op, done: () => void): void {
    browser.seq++;
    const number = ++this.#requests;
    // Sometimes an old cookie: a tab restored, a request sent before the browser took a newer one.
    const old = browser.thief === undefined && browser.history.length > 0 && this.rng.chance(0.05);
    const jar = old ? this.rng.pick(browser.history) : browser.jar;
    const sentAt = this.sim.now;
    const index = this.rng.int(this.isolates.length);
    let answered = false;
    const finish = () => {
      if (!answered) {
        answered = true;
        done();
      }
    };
    // A request to an isolate that dies never answers: the browser gives up on it.
    this.sim.after(15_000, finish, undefined, "browser gives up");
    this.sim.after(
      this.rng.between(1, 20),
      () => {
        const isolate = this.isolates[index]!;
        if (!isolate.alive) return finish();
        this.#handle(number, browser, isolate, op, jar, old, sentAt).then(
          (response) => {
            // The response travels back; a dead isolate's never arrives.
            this.sim.after(
              this.rng.between(1, 20),
              () => {
                if (!answered) this.#receive(browser, response, jar, old);
                finish();
              },
              isolate.owner,
              "response",
            );
          },
          (error: unknown) => {
            this.violation ??= error instanceof Violation ? error : new Violation(`crash: ${String(error)}`);
          },
        );
      },
      undefined,
      "request",
    );
  }

  /** Runs the handler for `op` on the isolate, as the middleware would, and checks what it served. */
  async #handle(
    number: number,
    browser: Browser,
    isolate: Isolate,
    op: Op,
    jar: Jar,
    oldCookie: boolean,
    sentAt: number,
  ): Promise<Response> {
    const { system } = this;
    const claim = claimOf(jar, isolate.ring);
    const begunAt = this.sim.now;
    const tag = `r${number} b${browser.n}${browser.thief ? "(thief)" : ""} ${op}${oldCookie ? " (old cookie)" : ""} → i${isolate.index} claim ${claim ? `${short(claim.id)} v${claim.version}` : "none"}`;
    this.log(`${tag} starts`);
    const trace = new system.RequestTrace();
    const operations = system.operationsFor(isolate.engine, () => claim, trace);
    let loaded: Loaded | undefined;
    let loadedAt = 0;
    const load = operations.load.bind(operations);
    operations.load = async () => {
      const startedAt = this.sim.now;
      loaded = await load();
      loadedAt = this.sim.now;
      this.#checkLoad(browser, jar, claim, loaded, startedAt, loadedAt, sentAt);
      return loaded;
    };
    const handle = new system.SessionHandle<Record<string, unknown>>(operations, "JSESSIONID");
    const wrote: string[] = [];
    let outcome = "ok";
    try {
      await this.#run(op, handle, browser, wrote, () => loaded, isolate, jar);
    } catch (error) {
      if (error instanceof Violation) throw error;
      if (!system.isExpectedError(error))
        this.fail(`${tag}: unexpected ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      outcome = `error ${error instanceof Error ? error.name : "?"}: ${error instanceof Error ? error.message.slice(0, 80) : ""}`;
    }
    let after;
    const change = system.changeOf(handle);
    const final = "loaded" in change ? change.loaded : undefined;
    try {
      after = await system.saveChange(change, isolate.engine, trace);
    } catch (error) {
      this.fail(`${tag}: saveChange threw ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    if (after.background !== undefined) {
      after.background.catch((error: unknown) => this.fail(`${tag}: background work rejected: ${String(error)}`));
    }
    if (trace.storeCalls > 50) this.fail(`${tag}: ${trace.storeCalls} store calls in one request (Workers allow 50)`);
    this.log(`${tag} → ${outcome}; cookies ${JSON.stringify(after.cookies)}; ${trace.storeCalls} store calls`);
    this.#checkResponse(claim, after.cookies, tag);
    // A claim given up as lost is settled once: the response's cookie no longer names it.
    const cookies = after.cookies;
    const endedMeanwhile = claim !== undefined && isolate.engine.memory.peek(claim.id)?.kind === "ended";
    if (
      outcome === "ok" &&
      !endedMeanwhile &&
      loaded?.settled === true &&
      claim !== undefined &&
      !loaded.readOnly &&
      loaded.id === claim.id &&
      cookies.kind !== "clear"
    ) {
      if (cookies.kind === "keep" || (cookies.mark.version === claim.version && cookies.mark.tag === claim.tag)) {
        this.fail(`${tag}: the claim v${claim.version} was settled as lost, but the response's cookie still names it`);
      }
    }
    if (
      op === "login" &&
      loaded !== undefined &&
      after.cookies.kind === "set" &&
      after.cookies.withId &&
      after.cookies.id !== loaded.id
    ) {
      this.#regenerated(loaded, after.cookies.id, tag, begunAt, trace, isolate);
    }
    return {
      cookies: after.cookies,
      wrote,
      loaded,
      gen: isolate.ring[0]!,
      settled: loaded?.settled === true,
      regenerated: final !== undefined && final.id !== loaded?.id ? final : undefined,
    };
  }

  /** The handler of each operation. */
  async #run(
    op: Op,
    session: Session<Record<string, unknown>>,
    browser: Browser,
    wrote: string[],
    loaded: () => Loaded | undefined,
    isolate: Isolate,
    jar: Jar,
  ): Promise<void> {
    await session.get();
    const own = () => {
      const key = `b${browser.n}_${browser.seq}_${this.rng.int(1_000_000)}`;
      this.#written.set(key, { at: this.sim.now, id: loaded()!.id });
      wrote.push(key);
      return key;
    };
    switch (op) {
      case "read":
        return;
      case "write":
        await session.set(own(), browser.seq);
        return;
      // Keys every browser overwrites: each value written is unique (see SimStore's check that a value,
      // once replaced in the store, never comes back: a change applied twice).
      case "theme":
        await session.set(
          browser.thief ? "x_theme" : "theme",
          `${this.rng.pick(["light", "dark", "blue"])}#${this.#unique()}`,
        );
        return;
      case "scratch":
        if (this.rng.chance(0.5)) await session.set("s", `s#${this.#unique()}`);
        else await session.delete("s");
        return;
      case "big":
        await session.set("big", `${"z".repeat(this.rng.between(200, 1_200))}#${this.#unique()}`);
        return;
      case "update": {
        const counter = `n_b${browser.n}`;
        const mark = `u_${counter}_${this.rng.int(1_000_000_000)}`;
        const id = loaded()!.id;
        await session.update((data) => {
          data[counter] = Number(data[counter] ?? 0) + 1;
          data[mark] = true;
        });
        // It answered: it landed (unless the session ended since, or the store lost it).
        this.#expectStored(id, mark, `update() answered, its write landed`);
        return;
      }
      case "commit": {
        const key = own();
        await session.set(key, browser.seq);
        const id = loaded()!.id;
        await session.commit();
        if (!loaded()!.isNew || loaded()!.id === id)
          this.#expectStored(id, key, "commit() answered, the change landed");
        return;
      }
      case "login":
        // A login: a new id (checked once the response's cookies say which), the user, a key.
        await session.regenerate();
        await session.setUser(browser.thief ? "user0" : browser.user);
        await session.set(own(), browser.seq);
        return;
      case "setUser":
        await session.setUser(this.rng.chance(0.8) ? browser.user : undefined);
        return;
      case "logout": {
        const id = loaded()!.id;
        const wasNew = loaded()!.isNew || loaded()!.readOnly;
        await session.destroy();
        if (!wasNew) {
          this.#ended.set(id, this.sim.now);
          if (this.store.row(id)?.value.kind === "ended") this.#marked.set(id, this.sim.now);
          this.#provokeThief(jar);
        }
        return;
      }
      case "list":
        await session.listSessions();
        return;
      case "revokeOne": {
        const list = await session.listSessions();
        const other = list.filter((s) => !s.current);
        if (other.length === 0) return;
        const { handle } = this.rng.pick(other);
        if (await session.revokeSession(handle)) this.#ended.set(handle.slice(handle.indexOf("-") + 1), this.sim.now);
        return;
      }
      case "revokeAll":
      case "revokeAllKeep": {
        const user = await session.getUser();
        const keep = op === "revokeAllKeep";
        const before = isolate.engine.runtime.now();
        const tiedAtStart = user === undefined ? new Map<string, number>() : this.#listedTies(user, isolate.ring);
        await session.revokeAllSessions({ keepCurrent: keep });
        // Recorded when it acted (a request whose id ended meanwhile may not: it revokes nothing).
        const cutoff = user === undefined ? 0 : (this.store.user(`${isolate.ring[0]}/${user}`)?.revokedBefore ?? 0);
        if (user !== undefined && cutoff >= before + 1) {
          this.#revoked.set(user, { before: before + 1, at: this.sim.now });
          // Every session of the user tied before it is over for good, whatever it does later (the one kept
          // was tied anew first).
          for (const [id, row] of this.store.rows) {
            if (row.value.kind === "live" && row.value.user === user && row.value.since < before + 1)
              this.#ended.set(id, this.sim.now);
          }
          // So is every session listed as tied to the user when the call began, whatever clock tied it; when a
          // session is kept, except what was tied anew while the call ran (the one kept, or another sign-out
          // everywhere else's that won the race).
          for (const [id, since] of tiedAtStart) {
            // The session kept may be tied anew at the very time it was tied before (by a clock ahead).
            if (keep && id === jar.id?.value) continue;
            const row = this.store.rows.get(id)?.value;
            if (row?.kind === "live" && row.user === user && (!keep || row.since === since))
              this.#ended.set(id, this.sim.now);
          }
          this.#provokeThief(jar);
        }
        return;
      }
    }
  }

  /** The sessions the store holds tied to `user` and lists in their index (under a secret of `ring`): id → tie time. */
  #listedTies(user: string, ring: readonly number[]): Map<string, number> {
    const ties = new Map<string, number>();
    for (const [id, { value }] of this.store.rows) {
      if (value.kind !== "live" || value.user !== user) continue;
      const listed = ring.some((gen) => this.store.user(`${gen}/${user}`)?.entries.get(id)?.since === value.since);
      if (listed) ties.set(id, value.since);
    }
    return ties;
  }

  /** The browser takes the response's cookies (a thief that does not follow keeps its copy). */
  #receive(browser: Browser, response: Response, sent: Jar, oldCookie: boolean): void {
    if (browser.thief !== undefined && !browser.thief.follows) return;
    if (oldCookie) return; // an old tab's answer: the browser's current cookies stay (a simplification)
    const { cookies, loaded } = response;
    if (cookies.kind === "keep") return;
    browser.history.push(copyJar(browser.jar));
    if (browser.history.length > 4) browser.history.shift();
    if (cookies.kind === "clear") {
      browser.jar = {};
      return;
    }
    const { id, mark, withId } = cookies;
    const servedKeys =
      loaded === undefined
        ? []
        : Object.keys(JSON.parse(loaded.view.json) as object).filter((k) => k.startsWith(`b${browser.n}_`));
    const sentMust = sent.v !== undefined && sent.id?.value === sent.v.id && sent.v.id === id ? sent.v.mustSee : [];
    // The write the cookie names holds what the request was served and what it wrote.
    // (A new id holds what the request wrote; what it was served only if the regenerate carried it over,
    // which the browser cannot tell.)
    const held = loaded?.id === id ? (response.settled ? servedKeys : [...sentMust, ...servedKeys]) : [];
    // The request's own keys, if the cookie names its write (a write lost on the way leaves it naming the served
    // one: after a regenerate, the new id's first write).
    const served = response.regenerated ?? loaded;
    const namesWrite = served?.served === undefined || served.served.tag !== mark.tag || served.id !== id;
    const mustSee = [...new Set([...held, ...(namesWrite ? response.wrote : [])])].filter((k) =>
      k.startsWith(`b${browser.n}_`),
    );
    const next: Jar = { ...browser.jar };
    if (withId) next.id = { value: id, gen: response.gen };
    next.v = {
      id,
      version: mark.version,
      tag: mark.tag,
      at: mark.at,
      gen: response.gen,
      mustSee: next.id?.value === id ? mustSee : [],
    };
    browser.jar = next;
  }

  // ——— the checks ——————————————————————————————————————————————————————————————————————————————

  /** What a request was served, when it was served. */
  #checkLoad(
    browser: Browser,
    jar: Jar,
    claim: Claim | undefined,
    loaded: Loaded,
    startedAt: number,
    at: number,
    sentAt: number,
  ): void {
    void at;
    const slack = this.shape.policy.maxStalenessMs + 2 * this.shape.skewMs + 100;
    const data = JSON.parse(loaded.view.json) as Record<string, unknown>;
    const sameSession = claim !== undefined && !loaded.isNew && loaded.id === claim.id;
    // A refused load (503) serves nothing.
    if (loaded.refused === true) return;
    const normal = sameSession && !loaded.settled && !loaded.degraded;
    const lost = this.#lostData > -Infinity;
    // Read-your-writes: every key the claimed write holds is served (unless the claim was settled as lost).
    if (normal && jar.v !== undefined && jar.v.id === claim.id && jar.v.version === claim.version) {
      for (const key of jar.v.mustSee) {
        if (!(key in data) && !lost)
          this.fail(
            `read-your-writes: ${short(claim.id)} served without ${key}, which the cookie's write v${claim.version} holds`,
          );
      }
    }
    // Bounded staleness: the version served was the store's within the bound of the load (a read it made
    // answers what the store held after the load began; a copy it served was confirmed within the bound).
    if (normal && loaded.held?.base != null && !loaded.held.missing && !lost) {
      const history = this.store.history.get(loaded.id)?.versions ?? [];
      const entry = history.find((h) => h.version === loaded.held!.base!.version);
      if (entry === undefined)
        this.fail(`staleness: ${short(loaded.id)} served v${loaded.held.base.version}, which the store never held`);
      if (entry.to < startedAt - slack) {
        this.fail(
          `staleness: ${short(loaded.id)} served v${entry.version} to a load begun at ${startedAt}, replaced in the store at ${entry.to} (bound ${this.shape.policy.maxStalenessMs} ms)`,
        );
      }
    }
    // Ended for good: destroyed, retired or revoked ids serve nothing once the bound has passed.
    // (With the store unreachable an isolate serves its own copy, by design: excluded.)
    const ended = this.#ended.get(loaded.id);
    if (!loaded.isNew && !loaded.degraded && ended !== undefined && startedAt > ended + slack && !lost) {
      this.fail(`end: ${short(loaded.id)} served data to a load begun ${startedAt - ended} ms after it ended`);
    }
    const user = loaded.view.user;
    const revoked = user === undefined ? undefined : this.#revoked.get(user);
    if (
      !loaded.isNew &&
      !loaded.degraded &&
      revoked !== undefined &&
      loaded.view.since < revoked.before &&
      startedAt > revoked.at + slack &&
      !lost
    ) {
      this.fail(
        `revocation: ${short(loaded.id)} of ${user} (tied at ${loaded.view.since}) served to a load begun ${startedAt - revoked.at} ms after sign-out everywhere (cut-off ${revoked.before})`,
      );
    }
    // A request with a retired id never sees what was written to the session's new id after the regenerate.
    const retired = claim === undefined ? undefined : this.#retired.get(claim.id);
    if (retired !== undefined) {
      for (const key of Object.keys(data)) {
        const written = this.#written.get(key);
        if (written !== undefined && written.id !== claim!.id && written.at > retired.at) {
          this.fail(
            `fixation: a request with the retired id ${short(claim!.id)} was served ${key}, written to ${short(written.id)} after the regenerate`,
          );
        }
      }
    }
    // Versions a browser sees never go back: the version served is at least the one its cookie names.
    if (normal && !lost && browser.thief === undefined) {
      const served = loaded.served?.version ?? 0;
      if (served < claim!.version) {
        this.fail(
          `versions: b${browser.n} was served v${served} of ${short(loaded.id)}, its cookie naming v${claim!.version} (base v${loaded.held?.base?.version}, changes ${loaded.held?.changes.map((c) => `v${c.version}`).join(",")})`,
        );
      }
    }
  }

  /** What a response says, against what it may: a request with a retired id never learns the new one. */
  #checkResponse(
    claim: Claim | undefined,
    cookies: { kind: string; id?: string; withId?: boolean },
    tag: string,
  ): void {
    if (claim === undefined || cookies.kind !== "set" || !cookies.withId) return;
    const retired = this.#retired.get(claim.id);
    if (retired !== undefined && cookies.id === retired.to) {
      this.fail(`${tag}: a request with the retired id ${short(claim.id)} was given its new id ${short(retired.to)}`);
    }
  }

  /**
   * A regenerate answered: the old id is retired in the store (if it was stored) and the new one holds every
   * landed key of the version the retirement replaced.
   */
  #regenerated(
    loaded: Loaded,
    to: string,
    tag: string,
    begunAt: number,
    trace: InstanceType<System["RequestTrace"]>,
    isolate: Isolate,
  ): void {
    const from = loaded.id;
    this.#carriedNothingFromEnded(from, to, tag, begunAt);
    this.#retired.set(from, { at: this.sim.now, to });
    const old = this.store.row(from);
    if (old?.value.kind !== "ended" || old.value.reason !== "retired") {
      if (loaded.isNew || loaded.readOnly || this.#lostData > -Infinity) return;
      return; // ended otherwise meanwhile (destroyed, revoked): nothing was carried
    }
    this.#ended.set(from, this.sim.now);
    this.#marked.set(from, this.sim.now);
    const before = this.store.beforeEnd.get(from);
    if (before === undefined || this.#lostData > -Infinity) return;
    // This request's own retirement ended the live session (an answer lost on the way does not change that).
    const own = this.store.endedBy.get(from) === trace;
    const now = this.store.row(to);
    // Under the new id: written, or (its first write failed) kept in this isolate's memory, written after the response.
    const held = isolate.engine.memory.peek(to);
    const json =
      now?.value.kind === "live" ? now.value.json : own && held?.kind === "live" ? held.view.json : undefined;
    if (json === undefined) {
      if (own)
        this.fail(
          `${tag}: regenerate lost the session: its retirement of ${short(from)} landed, ${short(to)} holds nothing`,
        );
      // Otherwise the id had ended meanwhile: nothing carried, the new session is written after the response.
      return;
    }
    const carried = JSON.parse(json) as Record<string, unknown>;
    for (const key of Object.keys(JSON.parse(before.json) as object)) {
      if (/^b\d+_/.test(key) && !(key in carried))
        this.fail(`${tag}: regenerate lost ${key}: ${short(from)} held it, ${short(to)} does not`);
    }
  }

  /**
   * A regenerate of an id already retired or destroyed (its marker stood in the store before the request
   * began; markers are final) carries nothing: the new id holds no key written before the request, whatever copy the isolate
   * still held. So a retired cookie cannot turn itself into a live session with the victim's data.
   */
  #carriedNothingFromEnded(from: string, to: string, tag: string, begunAt: number): void {
    const endedAt = this.#marked.get(from);
    if (endedAt === undefined || endedAt >= begunAt || this.#lostData > -Infinity) return;
    const row = this.store.row(to);
    if (row?.value.kind !== "live") return;
    for (const key of Object.keys(JSON.parse(row.value.json) as object)) {
      const written = this.#written.get(key);
      if (written !== undefined && written.at < begunAt && written.id !== to)
        this.fail(
          `${tag}: a regenerate of ${short(from)}, ended at ${endedAt}, carried ${key} (written to ${short(written.id)}) to ${short(to)}`,
        );
    }
  }

  /** After update() or commit() answers: the store holds the key, unless the session ended or the store lost it. */
  #expectStored(id: string, key: string, what: string): void {
    const row = this.store.row(id);
    // A store that lost everything may get the session back from an isolate's older copy, without the key.
    if (this.store.lost.has(id) || this.#lostData > -Infinity) return;
    if (row?.value.kind === "ended") return;
    if (row?.value.kind !== "live" || !(key in (JSON.parse(row.value.json) as object))) {
      this.fail(
        `${what}, but the store does not hold ${key} for ${short(id)} (${row === undefined ? "nothing stored" : `v${row.version}`})`,
      );
    }
  }

  /** After every step: each live isolate's memory tier within its bound, its count true. */
  #checkStep(): void {
    for (const isolate of this.isolates) {
      const { memory } = isolate.engine;
      if (memory.bytes > memory.maxBytes)
        this.fail(`memory: isolate ${isolate.index} holds ${memory.bytes} bytes, bound ${memory.maxBytes}`);
      if (this.sim.steps % 16 === 0) {
        const { bytes, unsavedBytes } = memory.recount();
        if (bytes !== memory.bytes || unsavedBytes !== memory.unsavedBytes) {
          this.fail(
            `memory: isolate ${isolate.index} counts ${memory.bytes}/${memory.unsavedBytes} bytes, holds ${bytes}/${unsavedBytes}`,
          );
        }
      }
    }
  }

  /**
   * Views converge: once the traffic stops and the bound has passed, every isolate serves each browser's
   * session as the store holds it.
   */
  async #converge(): Promise<void> {
    // A store that lost its data lost its markers and cut-offs too: isolates' copies need not agree then.
    if (this.#lostData > -Infinity) return;
    const quiet = async (ms: number) => {
      const until = this.sim.now + ms;
      this.sim.after(ms, () => {});
      while (this.sim.now < until && (await this.sim.step())) this.#checkStep();
    };
    // The network heals: what is left to write lands, and every isolate confirms what it holds.
    Object.assign(this.shape.faults, { lose: 0, loseAnswer: 0, errorAfter: 0, spike: 0 });
    await quiet(Math.max(3_000, this.shape.policy.maxStalenessMs + 2_000));
    for (let round = 0; round < 2; round++) {
      const seen = new Map<string, string>();
      for (const browser of this.browsers) {
        if (browser.jar.id === undefined) continue;
        for (const isolate of this.isolates) {
          const claim = claimOf(browser.jar, isolate.ring);
          if (claim === undefined) continue;
          const trace = new this.system.RequestTrace();
          const handle = new this.system.SessionHandle<Record<string, unknown>>(
            this.system.operationsFor(isolate.engine, () => claim, trace),
            "JSESSIONID",
          );
          let data: string | undefined;
          void handle
            .get()
            .then(
              (value) => (data = JSON.stringify(value)),
              () => (data = "error"),
            )
            // As the middleware does after the handler: a change left over is written now.
            .then(() => this.system.saveChange(this.system.changeOf(handle), isolate.engine, trace))
            .then((after) => after.background);
          while (data === undefined && (await this.sim.step())) this.#checkStep();
          if (data === undefined)
            this.fail(`convergence: a read of ${short(claim.id)} on isolate ${isolate.index} never answered`);
          // A session expiring right now is live on one clock and gone on another: nothing to compare.
          const row = this.store.rows.get(claim.id);
          const nearExpiry = this.isolates.some((i) => {
            const held = i.engine.memory.peek(claim.id);
            return (
              held?.kind === "live" && Math.abs(held.expiresAt - i.engine.runtime.now()) < 2 * this.shape.skewMs + 2_000
            );
          });
          if (nearExpiry || (row !== undefined && row.expiresAt - this.sim.now < 2 * this.shape.skewMs + 2_000))
            continue;
          if (round === 1) {
            const known = seen.get(claim.id);
            if (known !== undefined && known !== data)
              this.fail(
                `convergence: ${short(claim.id)} is ${known} on one isolate and ${data} on isolate ${isolate.index}`,
              );
            seen.set(claim.id, data!);
          }
        }
      }
      await quiet(Math.max(3_000, this.shape.policy.maxStalenessMs + 2_000));
    }
    this.#checkListed();
  }

  /**
   * Every live session tied to a user is in that user's index for as long as it lives: reads that keep it
   * alive keep its entry alive too. Not checked for a session whose store calls met a fault (the layer only
   * logs a failed index change), nor in worlds whose isolates died or restarted (their background index
   * changes died with them), nor within the clocks' skew of the session's expiry.
   */
  #checkListed(): void {
    if (this.shape.deaths > 0 || this.shape.rotation) return;
    for (const id of [...this.store.rows.keys()]) {
      const row = this.store.row(id);
      if (row?.value.kind !== "live" || row.value.user === undefined || this.store.faulted.has(id)) continue;
      if (row.expiresAt - this.sim.now <= 2 * this.shape.skewMs + 2_000) continue;
      // Past its absolute lifetime (within the skew) it is ended on its next load: no longer listed or counted.
      const absolute = this.shape.policy.absoluteTimeoutMs;
      if (absolute !== undefined && row.value.createdAt + absolute - this.sim.now <= 2 * this.shape.skewMs + 2_000)
        continue;
      const user = row.value.user;
      const records = [...this.store.users.keys()]
        .filter((key) => key.endsWith(`/${user}`))
        .map((key) => this.store.user(key));
      const cutoff = Math.max(0, ...records.map((record) => record?.revokedBefore ?? 0));
      if (row.value.since < cutoff) continue; // revoked (or past maxSessionsPerUser): ended on its next load
      if (!records.some((record) => record?.entries.has(id)))
        this.fail(
          `index: ${short(id)} lives for ${row.expiresAt - this.sim.now} ms more, tied to ${user}, and no index of ${user} lists it` +
            (process.env["SIM_DEBUG"]
              ? ` since=${row.value.since} ${JSON.stringify(records.map((r) => r && { c: r.revokedBefore, e: [...r.entries.values()].map((e) => [short(e.id), e.since, e.expiresAt]) }))}`
              : ""),
        );
    }
  }
}

/** The claim a jar's cookies make on an isolate with these secrets (as SessionCookies.read would). */
function claimOf(jar: Jar, ring: readonly number[]): Claim | undefined {
  if (jar.id === undefined || !ring.includes(jar.id.gen)) return undefined;
  const id = jar.id.value;
  const v = jar.v !== undefined && jar.v.id === id && ring.includes(jar.v.gen) ? jar.v : undefined;
  const resign = jar.id.gen !== ring[0] || (v !== undefined && v.gen !== ring[0]);
  return v === undefined
    ? { id, version: 0, tag: "", at: 0, resign }
    : { id, version: v.version, tag: v.tag, at: v.at, resign };
}

function copyJar(jar: Jar): Jar {
  return { id: jar.id === undefined ? undefined : { ...jar.id }, v: jar.v === undefined ? undefined : { ...jar.v } };
}

function randomString(rng: Prng, length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += BASE62[rng.int(64)];
  return out;
}
