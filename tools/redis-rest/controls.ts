import type { Command } from "./request-parsing.js";
import { commandName } from "./request-parsing.js";

export interface RecordedCommand {
  command: string;
  args: string[];
  /** Which HTTP request carried it: commands of one pipeline share it. */
  request: number;
  /** The error Redis answered, if it did (e.g. NOSCRIPT before the client falls back from EVALSHA to EVAL). */
  error?: string;
}

/**
 * Drop-after-apply: the next `times` requests that carry one of these commands run them, then lose their
 * response (the socket is destroyed without an answer), as when a connection breaks on the way back. The
 * client cannot tell whether the command ran, and retries.
 */
export interface FaultSpec {
  command: string | string[];
  times?: number;
  /** The connection hangs this long before it breaks (default 0): the client's retry comes that much later. */
  holdMs?: number;
}

export interface PendingFault {
  commands: string[];
  remaining: number;
  holdMs: number;
}

type ControlResponse = [status: number, body: unknown];

/** HTTP requests and commands the gateway ran (what Upstash bills: each command, a pipeline's each). */
export interface CommandCounts {
  requests: number;
  commands: number;
  byCommand: Record<string, number>;
}

/** Run-time knobs of the gateway: the simulated distance, injected faults, and the command log for tests. */
export class GatewayControls {
  private delay = 0;
  private readonly faults: PendingFault[] = [];
  private readonly log: RecordedCommand[] = [];
  /** Always kept (constant memory, unlike the log): for long runs such as the fleet benchmark. */
  private counts: CommandCounts = { requests: 0, commands: 0, byCommand: {} };

  constructor(
    delayMs: number,
    readonly recording: boolean,
  ) {
    this.setDelay(delayMs);
  }

  get delayMs(): number {
    return this.delay;
  }

  setDelay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be a number of milliseconds >= 0, not ${ms}`);
    this.delay = ms;
  }

  injectFault(spec: FaultSpec): void {
    const given: unknown[] = Array.isArray(spec.command) ? spec.command : [spec.command];
    if (given.length === 0 || !given.every((n): n is string => typeof n === "string" && n !== "")) {
      throw new RangeError('a fault needs "command": a command name or a list of them');
    }
    const names = given.map((n) => n.toUpperCase());
    const times = spec.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new RangeError(`times must be an integer >= 1, not ${times}`);
    const holdMs = spec.holdMs ?? 0;
    if (!Number.isFinite(holdMs) || holdMs < 0) throw new RangeError(`holdMs must be a number >= 0, not ${holdMs}`);
    this.faults.push({ commands: names, remaining: times, holdMs });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  pendingFaults(): PendingFault[] {
    return this.faults.map((f) => ({ commands: [...f.commands], remaining: f.remaining, holdMs: f.holdMs }));
  }

  /**
   * Decided when the request arrives, so concurrent requests cannot both take the last one: how long its
   * connection hangs before it breaks, or `undefined` for no fault.
   */
  claimFault(commands: Command[]): number | undefined {
    const names = new Set(commands.map(commandName));
    const fault = this.faults.find((f) => f.commands.some((n) => names.has(n)));
    if (fault === undefined) return undefined;
    if (--fault.remaining === 0) this.faults.splice(this.faults.indexOf(fault), 1);
    return fault.holdMs;
  }

  /** Entries for the commands of one request; their `error` is filled in once Redis answered. */
  record(request: number, commands: Command[]): RecordedCommand[] {
    const entries = commands.map(([name, ...args]) => ({
      command: String(name).toUpperCase(),
      args: args.map((arg) => arg.toString()),
      request,
    }));
    if (this.recording) this.log.push(...entries);
    this.counts.requests++;
    for (const { command } of entries) {
      this.counts.commands++;
      this.counts.byCommand[command] = (this.counts.byCommand[command] ?? 0) + 1;
    }
    return entries;
  }

  /**
   * `/__gateway/…`, authenticated like every request and never delayed (they steer the gateway, they are not
   * calls to the store):
   * - `GET commands?prefix=`: the recorded commands (those with an argument starting with the prefix);
   * - `GET counts`: HTTP requests and commands run so far, by command (always kept), `DELETE counts`;
   * - `GET delay`, `POST delay {"ms": 40}`: the simulated distance, per HTTP call;
   * - `GET faults`, `POST faults {"command": "EVALSHA" | ["EVALSHA", "EVAL"], "times": 1, "holdMs": 0}`,
   *   `DELETE faults`.
   */
  handle(method: string, path: string, query: URLSearchParams, body: Buffer): ControlResponse {
    try {
      switch (`${method} ${path}`) {
        case "GET commands": {
          if (!this.recording)
            return [404, { error: "ERR command recording is off (option recordCommands, --record)" }];
          const prefix = query.get("prefix") ?? "";
          return [200, { result: this.log.filter((c) => prefix === "" || c.args.some((a) => a.startsWith(prefix))) }];
        }
        case "GET counts":
          return [200, { result: this.counts }];
        case "DELETE counts":
          this.counts = { requests: 0, commands: 0, byCommand: {} };
          return [200, { result: this.counts }];
        case "GET delay":
          return [200, { result: { ms: this.delay } }];
        case "POST delay":
          this.setDelay(Number((jsonObject(body) as { ms?: unknown }).ms));
          return [200, { result: { ms: this.delay } }];
        case "GET faults":
          return [200, { result: this.pendingFaults() }];
        case "POST faults":
          this.injectFault(jsonObject(body) as unknown as FaultSpec);
          return [200, { result: this.pendingFaults() }];
        case "DELETE faults":
          this.clearFaults();
          return [200, { result: [] }];
        default:
          return [404, { error: `ERR unknown gateway control: ${method} /__gateway/${path}` }];
      }
    } catch (error) {
      return [400, { error: `ERR ${error instanceof Error ? error.message : String(error)}` }];
    }
  }
}

function jsonObject(body: Buffer): Record<string, unknown> {
  const value: unknown = JSON.parse(body.toString("utf8") || "{}");
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError("expected a JSON object");
  return value as Record<string, unknown>;
}
