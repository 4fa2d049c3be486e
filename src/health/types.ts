import type { HealthState } from '../upstream/types.ts';

export type { HealthState };

/** What happened: a health state change, or an admin/automatic action on a server or replica. */
export type HealthEventKind = 'state' | 'disabled' | 'enabled' | 'drain' | 'undrain';

/** One change, as the monitor emits it (SSE, alerts) and the history stores it. */
export interface HealthChange {
  kind: HealthEventKind;
  server: string;
  /** `server#n`, or null for the server as a whole. */
  replica: string | null;
  /** null for the first state seen after the server was watched. */
  from: HealthState | null;
  to: HealthState | null;
  reason: string | null;
  /** ISO 8601 */
  at: string;
}

/** A stored change (GET /api/v1/health/servers/:name/history). */
export interface HealthEventRecord extends HealthChange {
  id: number;
}

export interface LastError {
  message: string;
  /** ISO 8601 */
  at: string;
  replica: string;
}

export interface ReplicaHealth {
  id: string;
  state: HealthState;
  /** ISO 8601: when it entered this state. */
  since: string;
  reason: string | null;
  connection: 'connecting' | 'ready' | 'down' | 'closed';
  breaker: 'closed' | 'open' | 'half-open';
  in_flight: number;
  draining: boolean;
  consecutive_failures: number;
  last_error: { message: string; at: string } | null;
  latency_ms: number | null;
  last_probe_at: string | null;
}

export interface ServerHealth {
  name: string;
  /** `pending` until every replica finished its first connection attempt. */
  state: HealthState | 'pending';
  since: string | null;
  disabled: boolean;
  disabled_reason: string | null;
  last_error: LastError | null;
  /** Mean round trip of the replicas' last successful probes, ms. */
  latency_ms: number | null;
  replicas: ReplicaHealth[];
}
