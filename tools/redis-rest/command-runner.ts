import type { RedisConnection } from "./redis-connection.js";
import { commandOutcome, type CommandOutcome } from "./reply-encoding.js";
import { commandName, type Command } from "./request-parsing.js";

export interface RunResult {
  status: number;
  body: CommandOutcome | CommandOutcome[];
  /** Per command, what Redis (or the gateway, for a refused command) answered as an error. */
  errors: Array<string | undefined>;
}

const RESP3_REFUSAL =
  "NOPROTO RESP3 is not supported over REST: Upstash's REST API speaks RESP2 (use HELLO 2, or no HELLO)";

/**
 * Commands whose replies do not come one per command, so they cannot run on a request's connection: the
 * Pub/Sub and MONITOR ones have their event-stream endpoints; replication streams and `CLIENT REPLY
 * OFF|SKIP` (commands that answer nothing) would leave every later reply matched to the wrong command.
 * Upstash's REST API does not run them either (its compatibility table lists Pub/Sub as PUBLISH and PUBSUB
 * only); the wording of the error here is the gateway's own.
 *
 * `HELLO 3` would switch the connection to RESP3, whose replies (maps, sets, pushes) the gateway does not
 * parse. Upstash's REST API speaks RESP2 and offers no RESP3 either; `HELLO` or `HELLO 2` still run.
 */
export function refusal(command: Command): string | undefined {
  const name = commandName(command);
  switch (name) {
    case "SUBSCRIBE":
    case "PSUBSCRIBE":
    case "MONITOR":
      return `ERR ${name} is not supported as a command over REST: use the /${name.toLowerCase()}/… event stream`;
    case "SSUBSCRIBE":
    case "UNSUBSCRIBE":
    case "PUNSUBSCRIBE":
    case "SUNSUBSCRIBE":
    case "SYNC":
    case "PSYNC":
      return `ERR ${name} is not supported over REST`;
    case "CLIENT":
      return String(command[1]).toUpperCase() === "REPLY" ? "ERR CLIENT REPLY is not supported over REST" : undefined;
    case "HELLO":
      // Redis reads the protocol version strictly: "3" is the only argument that switches to RESP3.
      return String(command[1]) === "3" ? RESP3_REFUSAL : undefined;
    default:
      return undefined;
  }
}

/** Commands that change connection state RESET does not undo (the client name), so the connection is closed. */
export function leavesConnectionDirty(commands: Command[]): boolean {
  return commands.some((command) => ["CLIENT", "HELLO", "QUIT"].includes(commandName(command)));
}

export async function runSingle(connection: RedisConnection, command: Command, base64: boolean): Promise<RunResult> {
  const refused = refusal(command);
  const outcome = refused !== undefined ? { error: refused } : commandOutcome(await connection.send(command), base64);
  const error = "error" in outcome ? outcome.error : undefined;
  return { status: error === undefined ? 200 : 400, body: outcome, errors: [error] };
}

/** `/pipeline`: every command runs, in order, on this request's connection; each answers for itself. */
export async function runPipeline(
  connection: RedisConnection,
  commands: Command[],
  base64: boolean,
): Promise<RunResult> {
  const refusals = commands.map(refusal);
  const replies = await connection.sendAll(commands.filter((_, i) => refusals[i] === undefined));
  const outcomes = refusals.map((refused) =>
    refused !== undefined ? { error: refused } : commandOutcome(replies.shift()!, base64),
  );
  return { status: 200, body: outcomes, errors: outcomes.map((o) => ("error" in o ? o.error : undefined)) };
}

/**
 * `/multi-exec`: MULTI, the commands, EXEC on one connection. A command Redis refuses while queueing (unknown,
 * wrong arity) discards the whole transaction, which answers one `{"error"}` with HTTP 400, as Upstash
 * documents; so does one Upstash does not support inside a transaction. Errors while executing (WRONGTYPE)
 * stay per command, and the others still apply, as in Redis.
 */
export async function runTransaction(
  connection: RedisConnection,
  commands: Command[],
  base64: boolean,
): Promise<RunResult> {
  const discarded = (error: string): RunResult => ({ status: 400, body: { error }, errors: commands.map(() => error) });
  for (const command of commands) {
    const name = commandName(command);
    if (name === "MULTI") return discarded("ERR MULTI calls can not be nested");
    if (name === "EXEC" || name === "DISCARD") return discarded(`ERR ${name} is not allowed inside /multi-exec`);
    const refused = refusal(command);
    if (refused !== undefined) return discarded(refused);
  }
  const replies = await connection.sendAll([["MULTI"], ...commands, ["EXEC"]]);
  const [multi, exec] = [replies[0]!, replies.at(-1)!];
  const queued = replies.slice(1, -1);
  if (multi instanceof Error) return discarded(multi.message);
  if (exec instanceof Error) {
    // EXECABORT says only "because of previous errors": the queueing error says which.
    const cause = queued.find((reply): reply is Error => reply instanceof Error);
    return discarded(cause?.message ?? exec.message);
  }
  if (!Array.isArray(exec)) return discarded("ERR transaction aborted");
  let next = 0;
  // A command refused at queueing without aborting (WATCH inside MULTI) has no slot in EXEC's reply.
  const outcomes = queued.map((reply) =>
    reply instanceof Error ? { error: reply.message } : commandOutcome(exec[next++] ?? null, base64),
  );
  return { status: 200, body: outcomes, errors: outcomes.map((o) => ("error" in o ? o.error : undefined)) };
}
