import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import type { Hono } from "hono";
import { inject } from "vitest";
import { CookieJar } from "./cookie-jar.js";
import type { SessionLogger, SessionOptions, UserCustomStore } from "../../src/index.js";
import { DurableObjectStore, type SessionStoreObject } from "../../src/stores/durable-object/index.js";
import { redisStore, RedisStore } from "../../src/stores/redis/index.js";

export const SECRET = "test-secret-".padEnd(72, "x");

let counter = 0;
/** A namespace of its own for every test, so commands counted at the shared gateway are this test's only. */
export function uniqueInstance(label: string): string {
  return `t-${label}-${Date.now().toString(36)}-${++counter}`;
}

export class MemoryLogger implements SessionLogger {
  readonly lines: string[] = [];
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error: ${message}`);
  }
}

export function redisOptions(instanceName: string, extra: SessionOptions = {}): SessionOptions {
  return {
    extSessionMgt: { instanceName, storageType: "redis", sessionSecret: SECRET },
    redis: redisStore(inject("redisRest")),
    logger: new MemoryLogger(),
    ...extra,
  };
}

/** A browser's cookies for one app (see CookieJar), sending its requests through the app in workerd. */
export class Browser extends CookieJar {
  constructor(readonly app: Hono<any>) {
    super();
  }

  /** Sends a request, waits for its `waitUntil` work (the write after the response), and keeps its cookies. */
  async fetch(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie !== undefined) headers.set("Cookie", this.cookie);
    let body = init.body;
    if (init.json !== undefined) {
      body = JSON.stringify(init.json);
      headers.set("Content-Type", "application/json");
    }
    const ctx = createExecutionContext();
    const res = await this.app.fetch(new Request(`https://app.test${path}`, { ...init, body, headers }), {}, ctx);
    await waitOnExecutionContext(ctx);
    this.take(res);
    return res;
  }

  async json(path: string, init: RequestInit & { json?: unknown } = {}): Promise<unknown> {
    const res = await this.fetch(path, init);
    return await res.json();
  }
}

export interface RecordedCommand {
  command: string;
  args: string[];
  request: number;
  error?: string;
}

/** The commands the gateway ran for keys of this namespace, in order. */
export async function commandsFor(instanceName: string): Promise<RecordedCommand[]> {
  const { url, token } = inject("redisRest");
  const res = await fetch(`${url}/__gateway/commands?prefix=${encodeURIComponent(`${instanceName}:`)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  return ((await res.json()) as { result: RecordedCommand[] }).result;
}

/**
 * Command names as the store saw them: the compare-and-set script (EVALSHA, or EVAL the one time a fresh
 * redis-server does not know the script yet) is "CAS", the conditional read script "READ", and the refused
 * NOSCRIPT attempts are left out. (EVALSHA sha 1 key expected version sealed px has 7 arguments; EVALSHA
 * sha 1 key known refresh has 5.)
 */
export function names(commands: RecordedCommand[]): string[] {
  return commands
    .filter((c) => !c.error?.startsWith("NOSCRIPT"))
    .map((c) => (c.command === "EVALSHA" || c.command === "EVAL" ? (c.args.length === 7 ? "CAS" : "READ") : c.command));
}

export type StoreKind = "redis" | "durable-object";

/**
 * A factory of store clients on one fresh namespace (`label` names it), on Redis through the gateway or on
 * the Durable Object store: one client per "isolate" of a test, all on the same stored sessions.
 */
export function storeClients(kind: StoreKind, label: string): () => UserCustomStore {
  const namespace = uniqueInstance(`${label}-${kind}`);
  if (kind === "redis") return () => new RedisStore({ ...inject("redisRest"), namespace });
  const binding = (env as unknown as { SESSION_STORE: DurableObjectNamespace<SessionStoreObject> }).SESSION_STORE;
  return () => new DurableObjectStore(binding, { namespace });
}
