/** What bench/fleet.ts tells each isolate of bench/fleet-worker.ts (the FLEET_OPTIONS binding). */
export interface FleetOptions {
  store: "redis" | "durable-object";
  /** The baseline: no memory tier (every request reads the session from the store and unseals it). */
  baseline: boolean;
  secret: string;
  instanceName: string;
  redis?: { url: string; token: string };
}
