import type { ServerConfig } from '../config/schema.ts';
import type { JsonRpcNotification, Params } from '../mcp/jsonrpc.ts';
import { HubError, JsonRpcCode, RpcError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import { type BreakerState, CircuitBreaker } from './breaker.ts';
import { HttpTransport } from './http.ts';
import { type BackoffOptions, DEFAULT_BACKOFF, Replica } from './replica.ts';
import { type RetryPolicy, retryPolicy } from './retry-policy.ts';
import { SseTransport } from './sse.ts';
import { StdioTransport } from './stdio.ts';
import { isNotSent, type Transport } from './transport.ts';
import type {
  BreakerChangeHandler,
  CallContext,
  HealthState,
  NotificationHandler,
  ReplicaStatus,
  ResilientUpstream,
  UnrelatedRequestHandler,
  UpstreamInfo,
  UpstreamState,
} from './types.ts';

export interface ServerUpstreamOptions {
  backoff?: Partial<BackoffOptions>;
  /** list_changed notifications from all replicas within this window are delivered once. */
  listChangedWindowMs?: number;
}

/** Builds one transport per replica: stdio copies of the command, or one per URL. */
export function transportFactories(name: string, config: ServerConfig, logger: Logger): (() => Transport)[] {
  if (config.transport === 'stdio') {
    const { command, args, env, cwd } = config;
    return Array.from(
      { length: config.replicas },
      () => () => new StdioTransport({ name, command, args, env, cwd, logger }),
    );
  }
  const urls = config.urls ?? (config.url !== undefined ? [config.url] : []);
  const headers = config.headers;
  return urls.map((url) =>
    config.transport === 'http'
      ? () => new HttpTransport({ name, url, headers, logger })
      : () => new SseTransport({ name, url, headers, logger }),
  );
}

/** Probes that must fail in a row before a replica counts as down (one failure: degraded). */
const PROBE_FAILURES_DOWN = 2;

/**
 * A configured server: its replicas behind one face. Requests go to the ready replica with the fewest
 * requests in flight whose circuit breaker lets them through and that is not draining. A request that
 * never left the hub fails over to another replica; one that may have arrived is sent again only when
 * it is safe (retry-policy.ts). Breakers, probes and failure counts feed the health monitor.
 */
export class ServerUpstreamImpl implements ResilientUpstream {
  readonly name: string;
  private readonly replicas: Replica[];
  private readonly retrySafe: RetryPolicy;
  private readonly notificationHandlers = new Set<NotificationHandler>();
  private readonly stateHandlers = new Set<(state: UpstreamState, error?: Error) => void>();
  private readonly replicaHandlers = new Set<() => void>();
  private readonly breakerHandlers = new Set<BreakerChangeHandler>();
  private unrelated: UnrelatedRequestHandler | undefined;
  private readonly listChangedTimers = new Map<string, NodeJS.Timeout>();
  private readonly listChangedWindowMs: number;
  private readonly degradedLatencyMs: number | undefined;
  private readonly autoDisableMax: number;
  private readonly autoDisableWindowMs: number;
  /** When replicas failed recently (connection lost, breaker opened): for auto-disable. */
  private failureTimes: number[] = [];
  private _state: UpstreamState = 'connecting';
  private _disabled: string | undefined;
  private lastInfo: UpstreamInfo | undefined;

  constructor(
    name: string,
    config: ServerConfig,
    private readonly logger: Logger,
    options: ServerUpstreamOptions = {},
  ) {
    this.name = name;
    this.retrySafe = retryPolicy(config.idempotent_tools);
    this.listChangedWindowMs = options.listChangedWindowMs ?? 200;
    // Configs stored before these fields existed have none: the schema defaults apply.
    this.degradedLatencyMs = config.health_check?.degraded_latency_ms;
    this.autoDisableMax = config.auto_disable?.max_failures ?? 0;
    this.autoDisableWindowMs = config.auto_disable?.window_ms ?? 300_000;
    const cb = config.circuit_breaker;
    const createBreaker =
      cb?.enabled === false
        ? undefined
        : (replica: Replica) =>
            new CircuitBreaker({
              failureThreshold: cb?.failure_threshold ?? 5,
              openMs: cb?.open_ms ?? 30_000,
              halfOpenMaxCalls: cb?.half_open_max_calls ?? 1,
              onTransition: (state) => this.onBreakerTransition(replica, state),
            });
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const factories = transportFactories(name, config, logger);
    if (factories.length === 0) throw new HubError('CONFIG_INVALID', `server ${name} has no url`);
    this.replicas = factories.map(
      (createTransport, index) =>
        new Replica({
          name,
          index,
          id: `${name}#${index + 1}`,
          logger,
          createTransport,
          createBreaker,
          backoff,
          connection: {
            timeoutMs: config.timeout_ms,
            isRetrySafe: this.retrySafe,
            onNotification: (n) => this.onUpstreamNotification(n),
            onUnrelatedRequest: (method, params) => this.onUnrelatedRequest(method, params),
          },
          onStateChange: (replica) => this.onReplicaState(replica),
        }),
    );
  }

  get state(): UpstreamState {
    return this._state;
  }

  get info(): UpstreamInfo | undefined {
    for (const r of this.replicas) {
      if (r.state === 'ready' && r.conn?.info !== undefined) return r.conn.info;
    }
    return this.lastInfo;
  }

  get disabled(): boolean {
    return this._disabled !== undefined;
  }

  get disabledReason(): string | undefined {
    return this._disabled;
  }

  /** Resolves once any replica is ready; rejects when every replica's first attempt failed (they keep retrying). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let failed = 0;
      for (const r of this.replicas) {
        r.start().then(resolve, (err: unknown) => {
          if (++failed === this.replicas.length) reject(err);
        });
      }
    });
  }

  async request(method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown> {
    if (this._disabled !== undefined) throw this.disabledError();
    let tried: Replica[] | undefined;
    let lastError: unknown;
    for (;;) {
      const replica = this.pick(tried);
      if (replica === undefined) throw lastError ?? this.unavailable();
      const breaker = replica.breaker;
      breaker?.acquire();
      if (ctx !== undefined) ctx.replica = replica.id;
      try {
        const result = await replica.conn!.request(method, params, ctx);
        // Steady state: two field reads. Only a recovering replica does more.
        if (replica.callFailures !== 0 || (breaker !== undefined && breaker.state !== 'closed')) {
          this.recovered(replica);
        }
        return result;
      } catch (err) {
        this.onCallError(replica, err);
        if (ctx?.cancellation?.cancelled || !this.mayRetry(err, method, params)) throw err;
        tried = tried === undefined ? [replica] : [...tried, replica];
        lastError = err;
      }
    }
  }

  async notify(method: string, params?: Params): Promise<void> {
    const ready = this.replicas.filter((r) => r.state === 'ready' && r.conn !== undefined);
    if (ready.length === 0) throw new HubError('UPSTREAM_UNAVAILABLE', `server ${this.name} is unavailable`);
    // Every replica holds its own session: all of them need to hear it (e.g. roots/list_changed).
    await Promise.all(ready.map((r) => r.conn!.notify(method, params)));
  }

  async close(): Promise<void> {
    for (const timer of this.listChangedTimers.values()) clearTimeout(timer);
    this.listChangedTimers.clear();
    await Promise.all(this.replicas.map((r) => r.close()));
    this.updateState();
  }

  onNotification(handler: NotificationHandler): () => void {
    this.notificationHandlers.add(handler);
    return () => this.notificationHandlers.delete(handler);
  }

  onStateChange(handler: (state: UpstreamState, error?: Error) => void): () => void {
    this.stateHandlers.add(handler);
    return () => this.stateHandlers.delete(handler);
  }

  onReplicaChange(handler: () => void): () => void {
    this.replicaHandlers.add(handler);
    return () => this.replicaHandlers.delete(handler);
  }

  onBreakerChange(handler: BreakerChangeHandler): () => void {
    this.breakerHandlers.add(handler);
    return () => this.breakerHandlers.delete(handler);
  }

  setUnrelatedRequestHandler(handler: UnrelatedRequestHandler): void {
    this.unrelated = handler;
  }

  // ---- health and admin ------------------------------------------------------------------------

  replicaStatus(): ReplicaStatus[] {
    return this.replicas.map((r) => {
      const [health, reason] = this.healthOf(r);
      return {
        id: r.id,
        connection: r.state,
        breaker: r.breaker?.state ?? 'closed',
        health,
        reason,
        inFlight: r.inFlight,
        draining: r.draining,
        consecutiveFailures: r.callFailures,
        lastError: r.lastCallError,
        lastErrorAt: r.lastErrorAt,
        latencyMs: r.latencyMs,
        lastProbeAt: r.lastProbeAt,
      };
    });
  }

  async probe(replicaId: string, timeoutMs: number): Promise<void> {
    const r = this.replica(replicaId);
    const conn = r.conn;
    if (r.state !== 'ready' || conn === undefined) return; // the supervisor is already on it
    const started = performance.now();
    let failure: string | undefined;
    let unreachable = false;
    try {
      await conn.request('ping', undefined, { timeoutMs });
    } catch (err) {
      // A JSON-RPC error is an answer: the replica is alive.
      if (!(err instanceof RpcError)) failure = err instanceof Error ? err.message : String(err);
      unreachable = isNotSent(err);
    }
    if (r.conn !== conn) return; // replaced meanwhile: this result is about the old connection
    r.lastProbeAt = Date.now();
    const before = this.healthOf(r)[0];
    if (failure === undefined) {
      r.latencyMs = Math.round((performance.now() - started) * 100) / 100;
      r.probeFailures = 0;
      r.slow = this.degradedLatencyMs !== undefined && r.latencyMs > this.degradedLatencyMs;
    } else {
      // Not even sent (connection refused): unreachable, down now rather than after more probes.
      r.probeFailures = unreachable
        ? Math.max(PROBE_FAILURES_DOWN, r.probeFailures + 1)
        : r.probeFailures + 1;
      r.noteError(`probe failed: ${failure}`);
      r.breaker?.failure();
    }
    if (this.healthOf(r)[0] !== before) this.changed();
  }

  disable(reason: string): void {
    if (this._disabled !== undefined) return;
    this._disabled = reason;
    this.logger.warn({ server: this.name, reason }, 'server disabled');
    this.updateState();
    this.changed();
  }

  enable(): void {
    if (this._disabled === undefined) return;
    this._disabled = undefined;
    this.failureTimes = [];
    for (const r of this.replicas) {
      r.callFailures = 0;
      r.breaker?.reset();
    }
    this.logger.info({ server: this.name }, 'server enabled');
    this.updateState();
    this.changed();
  }

  async drain(replicaId: string, timeoutMs = 30_000): Promise<void> {
    const r = this.replica(replicaId);
    if (!r.draining) {
      r.draining = true;
      this.logger.info({ server: this.name, replica: r.id }, 'draining replica');
      this.changed();
    }
    const deadline = Date.now() + timeoutMs;
    while (r.draining && r.inFlight > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  undrain(replicaId: string): void {
    const r = this.replica(replicaId);
    if (!r.draining) return;
    r.draining = false;
    this.logger.info({ server: this.name, replica: r.id }, 'replica back in rotation');
    this.changed();
  }

  private replica(id: string): Replica {
    const r = this.replicas.find((x) => x.id === id);
    if (r === undefined) throw new HubError('NOT_FOUND', `server ${this.name} has no replica ${id}`);
    return r;
  }

  private healthOf(r: Replica): [HealthState, string | undefined] {
    if (r.state !== 'ready') {
      return ['down', r.state === 'closed' ? 'closed' : (r.lastError?.message ?? `connection ${r.state}`)];
    }
    if (this._disabled !== undefined) return ['down', `server disabled: ${this._disabled}`];
    const breaker = r.breaker?.state;
    if (breaker === 'open') return ['down', 'circuit breaker open'];
    if (r.probeFailures >= PROBE_FAILURES_DOWN) return ['down', `${r.probeFailures} probes failed`];
    if (breaker === 'half-open') return ['degraded', 'circuit breaker half-open'];
    if (r.probeFailures > 0) return ['degraded', 'last probe failed'];
    if (r.callFailures > 0) return ['degraded', `${r.callFailures} failed calls in a row`];
    if (r.slow) return ['degraded', `probe slower than ${this.degradedLatencyMs} ms`];
    return ['healthy', undefined];
  }

  /** Ready replica with the fewest requests in flight, whose breaker admits a call, not draining. */
  private pick(exclude: Replica[] | undefined): Replica | undefined {
    let best: Replica | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const r of this.replicas) {
      if (r.state !== 'ready' || r.conn === undefined || r.draining) continue;
      if (r.breaker !== undefined && !r.breaker.allows()) continue;
      if (exclude?.includes(r)) continue;
      const load = r.conn.inFlight;
      if (load < bestLoad) {
        best = r;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Why no replica could take a call (only built on the failure path). */
  private unavailable(): HubError {
    const usable = this.replicas.filter((r) => r.state === 'ready' && r.conn !== undefined);
    let why = 'no replica is connected';
    if (usable.length > 0) {
      why = usable.every((r) => r.draining)
        ? 'every replica is draining'
        : 'every replica is failing (circuit breaker open)';
    }
    return new HubError('UPSTREAM_UNAVAILABLE', `server ${this.name} is unavailable: ${why}`);
  }

  private disabledError(): HubError {
    return new HubError(
      'UPSTREAM_UNAVAILABLE',
      `server ${this.name} is disabled (${this._disabled}); an administrator can enable it again`,
    );
  }

  /** Passive signal: what a failed call says about the replica that served it. */
  private onCallError(replica: Replica, err: unknown): void {
    const breaker = replica.breaker;
    if (err instanceof RpcError) {
      // The upstream answered with an error: it is alive and well.
      if (replica.callFailures !== 0 || (breaker !== undefined && breaker.state !== 'closed')) {
        this.recovered(replica);
      }
      return;
    }
    if (!(err instanceof HubError) || err.code === 'CANCELLED' || !err.code.startsWith('UPSTREAM_')) {
      breaker?.release();
      return;
    }
    replica.noteError(err.message);
    replica.callFailures++;
    breaker?.failure();
    if (replica.callFailures === 1) this.changed();
  }

  private recovered(replica: Replica): void {
    replica.callFailures = 0;
    replica.breaker?.success();
    this.changed();
  }

  /** Not sent at all → any method may go elsewhere. Lost or timed out → only if sending twice is safe. */
  private mayRetry(err: unknown, method: string, params: Params | undefined): boolean {
    if (isNotSent(err)) return true;
    if (!(err instanceof HubError)) return false;
    const lost =
      err.code === 'UPSTREAM_UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT' || err.code === 'UPSTREAM_ERROR';
    return lost && this.retrySafe(method, params);
  }

  private onBreakerTransition(replica: Replica, state: BreakerState): void {
    const log = state === 'open' ? this.logger.warn : this.logger.info;
    log.call(this.logger, { server: this.name, replica: replica.id, breaker: state }, 'circuit breaker');
    if (state === 'open') this.noteFailure();
    for (const handler of this.breakerHandlers) {
      try {
        handler(replica.id, state);
      } catch (err) {
        this.logger.error({ server: this.name, err }, 'breaker change handler failed');
      }
    }
    this.changed();
  }

  private onReplicaState(replica: Replica): void {
    if (replica.state === 'down') this.noteFailure();
    this.updateState();
    this.changed();
  }

  /** Counts replica failures; too many within the window disables the server (when configured). */
  private noteFailure(): void {
    if (this.autoDisableMax === 0 || this._disabled !== undefined) return;
    const now = Date.now();
    this.failureTimes = this.failureTimes.filter((t) => now - t < this.autoDisableWindowMs);
    this.failureTimes.push(now);
    if (this.failureTimes.length >= this.autoDisableMax) {
      // Deferred: the breaker or replica that reported the failure finishes its own transition first.
      queueMicrotask(() =>
        this.disable(`${this.failureTimes.length} failures within ${this.autoDisableWindowMs} ms`),
      );
    }
  }

  private changed(): void {
    for (const handler of this.replicaHandlers) {
      try {
        handler();
      } catch (err) {
        this.logger.error({ server: this.name, err }, 'replica change handler failed');
      }
    }
  }

  private onUpstreamNotification(n: JsonRpcNotification): void {
    if (n.method.endsWith('/list_changed')) {
      // Replicas restart and change together: deliver one notice per burst, not one per replica.
      if (this.listChangedTimers.has(n.method)) return;
      const timer = setTimeout(() => {
        this.listChangedTimers.delete(n.method);
        this.emit(n);
      }, this.listChangedWindowMs);
      timer.unref();
      this.listChangedTimers.set(n.method, timer);
      return;
    }
    this.emit(n);
  }

  private emit(n: JsonRpcNotification): void {
    for (const handler of this.notificationHandlers) {
      try {
        handler(n);
      } catch (err) {
        this.logger.error({ server: this.name, err }, 'notification handler failed');
      }
    }
  }

  private onUnrelatedRequest(method: string, params: Params | undefined): Promise<unknown> {
    if (this.unrelated === undefined) {
      return Promise.reject(new RpcError(JsonRpcCode.MethodNotFound, `Method not found: ${method}`));
    }
    return this.unrelated(method, params);
  }

  private updateState(): void {
    let next: UpstreamState;
    let error: Error | undefined;
    const states = this.replicas.map((r) => r.state);
    if (states.every((s) => s === 'closed')) next = 'closed';
    else if (this._disabled !== undefined) {
      next = 'down';
      error = this.disabledError();
    } else if (states.includes('ready')) next = 'ready';
    else if (states.includes('connecting')) next = 'connecting';
    else {
      next = 'down';
      error = this.replicas.find((r) => r.lastError !== undefined)?.lastError;
    }
    const info = this.info;
    if (info !== undefined) this.lastInfo = info;
    if (next === this._state) return;
    this._state = next;
    for (const handler of this.stateHandlers) {
      try {
        handler(next, error);
      } catch (err) {
        this.logger.error({ server: this.name, err }, 'state handler failed');
      }
    }
  }
}
