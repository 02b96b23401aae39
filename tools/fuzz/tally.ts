/** How often each mutator led to each outcome, and the failures, with what is needed to replay them. */
export class Tally {
  readonly #counts = new Map<string, Map<string, number>>();
  readonly failures: Failure[] = [];
  /** Failures beyond this many are counted, not kept (a broken build would otherwise fill the memory). */
  readonly keepFailures = 50;
  failureCount = 0;

  count(mutator: string, outcome: string): void {
    let outcomes = this.#counts.get(mutator);
    if (outcomes === undefined) this.#counts.set(mutator, (outcomes = new Map()));
    outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  }

  fail(failure: Failure): void {
    this.count(failure.mutator, `FAIL ${failure.kind}`);
    this.failureCount++;
    if (this.failures.length < this.keepFailures) this.failures.push(failure);
  }

  /** Outcomes of one mutator (empty when it never ran). */
  outcomes(mutator: string): ReadonlyMap<string, number> {
    return this.#counts.get(mutator) ?? new Map();
  }

  get mutators(): string[] {
    return [...this.#counts.keys()];
  }

  total(mutator?: string): number {
    const maps = mutator === undefined ? [...this.#counts.values()] : [this.outcomes(mutator)];
    let sum = 0;
    for (const map of maps) for (const n of map.values()) sum += n;
    return sum;
  }

  /** Cases of one outcome, over every mutator. */
  totalOf(outcome: string): number {
    let sum = 0;
    for (const map of this.#counts.values()) sum += map.get(outcome) ?? 0;
    return sum;
  }
}

export interface Failure {
  /** What went wrong: "5xx", "leak", "crash", "unexpected status", "wrong content", … */
  kind: string;
  /** The case's index in its stream: with the seed, it names the case. */
  index: number;
  mutator: string;
  /** What was sent and what came back, without cookie values or secrets. */
  detail: string;
}
