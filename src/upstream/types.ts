import type { JsonRpcNotification, Params } from '../mcp/jsonrpc.ts';
import type { BreakerState } from './breaker.ts';
import type { Cancellation } from './cancellation.ts';

/** What an upstream said about itself when it was initialized. */
export interface UpstreamInfo {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: { name: string; version: string; [k: string]: unknown };
  instructions?: string;
}

export type UpstreamState = 'connecting' | 'ready' | 'down' | 'closed';

/**
 * Hooks for messages an upstream sends while one request is in flight. The upstream layer remaps ids
 * and progress tokens: the hooks see the downstream's original progress token again.
 */
export interface CallContext {
  /** Notifications tied to this request: notifications/progress (original token restored), notifications/message. */
  onNotification?: (n: JsonRpcNotification) => void;
  /**
   * Server→client requests caused by this request (sampling/createMessage, elicitation/create, roots/list).
   * Resolve with the result, or throw a HubError/RpcError to send an error back upstream.
   */
  onRequest?: (method: string, params: Params | undefined, signal: AbortSignal) => Promise<unknown>;
  /** Cancelling sends notifications/cancelled upstream (with the upstream's id) and rejects with CANCELLED. */
  cancellation?: Cancellation;
  /** Overrides the server's timeout_ms for this call; on expiry the call is cancelled upstream. */
  timeoutMs?: number;
  /** Set by the upstream layer: the replica that served the call (e.g. `database#1`), for audit. */
  replica?: string;
}

/** Messages that belong to no in-flight request (list_changed, resources/updated, unrelated logs). */
export type NotificationHandler = (n: JsonRpcNotification) => void;
/** Server→client requests that belong to no in-flight request (e.g. roots/list after roots changed). */
export type UnrelatedRequestHandler = (method: string, params: Params | undefined) => Promise<unknown>;

/**
 * One connection to one MCP server replica, already initialized, shared by every downstream client.
 * Requests are multiplexed: the connection assigns its own JSON-RPC ids.
 */
export interface UpstreamConnection {
  readonly state: UpstreamState;
  readonly info: UpstreamInfo | undefined;
  /** Requests currently in flight (for least-in-flight balancing). */
  readonly inFlight: number;
  /** Connects and initializes (with the hub's client capabilities); resolves when ready. */
  start(): Promise<void>;
  /** Sends a request; resolves with `result`, rejects with RpcError (upstream error) or HubError. */
  request(method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown>;
  notify(method: string, params?: Params): Promise<void>;
  close(): Promise<void>;
}

/** Events from a server's upstream (all replicas together), for the catalog and the router. */
export interface UpstreamEvents {
  onNotification(handler: NotificationHandler): () => void;
  onStateChange(handler: (state: UpstreamState, error?: Error) => void): () => void;
  setUnrelatedRequestHandler(handler: UnrelatedRequestHandler): void;
}

/** Everything the hub talks to for one configured server: its replicas behind one face. */
export interface ServerUpstream extends UpstreamEvents {
  readonly name: string;
  readonly state: UpstreamState;
  readonly info: UpstreamInfo | undefined;
  start(): Promise<void>;
  request(method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown>;
  notify(method: string, params?: Params): Promise<void>;
  close(): Promise<void>;
}

/** Health of one replica or of a whole server (docs/health.md). */
export type HealthState = 'healthy' | 'degraded' | 'down';

export type { BreakerState };

export type BreakerChangeHandler = (replicaId: string, state: BreakerState) => void;

/** What the upstream layer knows about one replica right now (cheap to build; not on the hot path). */
export interface ReplicaStatus {
  /** `server#n`, n from 1: the name used in logs, audit (`CallContext.replica`) and the admin API. */
  readonly id: string;
  readonly connection: UpstreamState;
  readonly breaker: BreakerState;
  readonly health: HealthState;
  /** Why the replica is not healthy (undefined when it is). */
  readonly reason: string | undefined;
  readonly inFlight: number;
  readonly draining: boolean;
  readonly consecutiveFailures: number;
  readonly lastError: string | undefined;
  /** epoch ms */
  readonly lastErrorAt: number | undefined;
  /** Round trip of the last successful probe, ms. */
  readonly latencyMs: number | undefined;
  /** epoch ms */
  readonly lastProbeAt: number | undefined;
}

/**
 * A ServerUpstream with replicas, breakers and admin controls: what `createServerUpstream` returns.
 * The health monitor and the admin API use it; the MCP hot path only needs ServerUpstream.
 */
export interface ResilientUpstream extends ServerUpstream {
  /** True after auto-disable or disable(): every call is refused until enable(). */
  readonly disabled: boolean;
  readonly disabledReason: string | undefined;
  replicaStatus(): ReplicaStatus[];
  /** Sends MCP ping to one replica (bypassing its breaker) and records the outcome. */
  probe(replicaId: string, timeoutMs: number): Promise<void>;
  /** Called when any replica's status may have changed (connection, breaker, failures, probe, drain). */
  onReplicaChange(handler: () => void): () => void;
  /** Called on each circuit breaker transition of a replica (`server#n`); rare, never per call. */
  onBreakerChange(handler: BreakerChangeHandler): () => void;
  disable(reason: string): void;
  enable(): void;
  /** Stops sending new calls to a replica; resolves when its in-flight calls finished (or after timeoutMs). */
  drain(replicaId: string, timeoutMs?: number): Promise<void>;
  /** Takes a drained replica back into rotation. */
  undrain(replicaId: string): void;
}

export function isResilientUpstream(u: ServerUpstream): u is ResilientUpstream {
  return typeof (u as Partial<ResilientUpstream>).replicaStatus === 'function';
}
