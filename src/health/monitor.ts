import type { HealthCheckConfig } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { ReplicaStatus, ResilientUpstream } from '../upstream/types.ts';
import type { HealthHistory, HistoryQuery } from './history.ts';
import type {
  HealthChange,
  HealthEventKind,
  HealthEventRecord,
  HealthState,
  LastError,
  ReplicaHealth,
  ServerHealth,
} from './types.ts';

export interface HealthMonitorOptions {
  logger: Logger;
  /** Where changes are kept; without it the monitor works in memory only (history() answers []). */
  history?: HealthHistory;
}

const DEFAULT_CHECK = { enabled: true, interval_ms: 15_000, timeout_ms: 5_000 } as const;

interface Tracked {
  state: HealthState;
  since: number;
}

interface Watched {
  upstream: ResilientUpstream;
  check: { enabled: boolean; interval_ms: number; timeout_ms: number };
  timer: NodeJS.Timeout | undefined;
  off: () => void;
  probing: boolean;
  server: Tracked | undefined;
  replicas: Map<string, Tracked>;
  draining: Set<string>;
  disabled: string | undefined;
}

/**
 * Watches every server's replicas: active probes (MCP ping on an interval) and the passive signals the
 * upstream layer reports (failed calls, breakers, lost connections). Turns them into healthy / degraded
 * / down per replica and per server, records every change in the history and emits it.
 */
export class HealthMonitor {
  private readonly watched = new Map<string, Watched>();
  private readonly handlers = new Set<(change: HealthChange) => void>();
  private readonly logger: Logger;
  private readonly historyStore: HealthHistory | undefined;

  constructor(options: HealthMonitorOptions) {
    this.logger = options.logger;
    this.historyStore = options.history;
  }

  /**
   * Starts watching a server (replacing an earlier watch of the same name, e.g. after a config change).
   * The watch ends by itself when the upstream is closed, or with unwatch().
   */
  watch(name: string, upstream: ResilientUpstream, check?: HealthCheckConfig): void {
    const previous = this.watched.get(name);
    if (previous !== undefined) this.stop(previous);
    const w: Watched = {
      upstream,
      check: { ...DEFAULT_CHECK, ...check },
      timer: undefined,
      off: () => {},
      probing: false,
      // A replaced upstream continues the server's story: its first state is a change, not a start.
      server: previous?.server,
      replicas: new Map(),
      draining: new Set(),
      disabled: undefined,
    };
    this.watched.set(name, w);
    w.off = upstream.onReplicaChange(() => this.evaluate(name, w));
    if (w.check.enabled) {
      w.timer = setInterval(() => void this.probeAll(name, w), w.check.interval_ms);
      w.timer.unref();
    }
    this.evaluate(name, w);
  }

  unwatch(name: string): void {
    const w = this.watched.get(name);
    if (w === undefined) return;
    this.stop(w);
    this.watched.delete(name);
  }

  /** Current health of every watched server. */
  snapshot(): ServerHealth[] {
    return [...this.watched.keys()].sort().map((name) => this.describe(name, this.watched.get(name)!));
  }

  server(name: string): ServerHealth | undefined {
    const w = this.watched.get(name);
    return w === undefined ? undefined : this.describe(name, w);
  }

  has(name: string): boolean {
    return this.watched.has(name);
  }

  /** Subscribes to changes (state changes, disable/enable, drain/undrain). Returns unsubscribe. */
  onChange(handler: (change: HealthChange) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  history(name: string, query?: HistoryQuery): Promise<HealthEventRecord[]> {
    return this.historyStore?.list(name, query) ?? Promise.resolve([]);
  }

  /** Probes every replica of a server now (also what the interval does). */
  async probeNow(name: string): Promise<void> {
    const w = this.watched.get(name);
    if (w !== undefined) await this.probeAll(name, w, true);
  }

  // ---- admin actions (the admin API calls these) -------------------------------------------------

  /** Re-enables a server that was disabled (automatically or by an admin). */
  enable(name: string): void {
    this.upstreamOf(name).enable();
  }

  disable(name: string, reason = 'disabled by an administrator'): void {
    this.upstreamOf(name).disable(reason);
  }

  /** Takes a replica (`server#n`) out of rotation; resolves when its in-flight calls are done. */
  drain(name: string, replica: string, timeoutMs?: number): Promise<void> {
    return this.upstreamOf(name).drain(replica, timeoutMs);
  }

  undrain(name: string, replica: string): void {
    this.upstreamOf(name).undrain(replica);
  }

  /** Stops probing and writes the remaining history. */
  async close(): Promise<void> {
    for (const w of this.watched.values()) this.stop(w);
    this.watched.clear();
    await this.historyStore?.flush();
  }

  // ---- internals ---------------------------------------------------------------------------------

  private upstreamOf(name: string): ResilientUpstream {
    const w = this.watched.get(name);
    if (w === undefined) throw new HubError('NOT_FOUND', `Unknown server: ${name}`);
    return w.upstream;
  }

  private stop(w: Watched): void {
    if (w.timer !== undefined) clearInterval(w.timer);
    w.timer = undefined;
    w.off();
  }

  private async probeAll(name: string, w: Watched, force = false): Promise<void> {
    if (w.probing && !force) return; // a slow round is still running: skip this tick
    if (w.upstream.disabled) return;
    w.probing = true;
    try {
      await Promise.all(
        w.upstream
          .replicaStatus()
          .filter((r) => r.connection === 'ready')
          .map((r) =>
            w.upstream.probe(r.id, w.check.timeout_ms).catch((err: unknown) => {
              this.logger.debug({ server: name, replica: r.id, err }, 'probe error');
            }),
          ),
      );
    } finally {
      w.probing = false;
    }
    if (this.watched.get(name) === w) this.evaluate(name, w);
  }

  /** Compares the upstream's current view with what was last recorded; records and emits differences. */
  private evaluate(name: string, w: Watched): void {
    if (this.watched.get(name) !== w) return;
    const statuses = w.upstream.replicaStatus();
    if (statuses.every((r) => r.connection === 'closed')) {
      // The upstream was closed (server removed or hub stopping): nothing left to watch.
      this.unwatch(name);
      return;
    }
    const now = Date.now();
    const disabled = w.upstream.disabledReason;
    if (disabled !== w.disabled) {
      this.emit(
        disabled !== undefined
          ? change('disabled', name, null, null, null, disabled, now)
          : change('enabled', name, null, null, null, w.disabled ?? null, now),
      );
      w.disabled = disabled;
    }
    let pending = false;
    for (const r of statuses) {
      if (r.draining !== w.draining.has(r.id)) {
        if (r.draining) w.draining.add(r.id);
        else w.draining.delete(r.id);
        this.emit(change(r.draining ? 'drain' : 'undrain', name, r.id, null, null, null, now));
      }
      // Still on its first connection attempt: nothing to say about it yet.
      if (r.connection === 'connecting') {
        pending = true;
        continue;
      }
      const known = w.replicas.get(r.id);
      if (known?.state === r.health) continue;
      w.replicas.set(r.id, { state: r.health, since: now });
      this.emit(change('state', name, r.id, known?.state ?? null, r.health, r.reason ?? null, now));
    }
    if (pending) return;
    const state = serverState(statuses, disabled !== undefined);
    if (w.server?.state === state) return;
    const from = w.server?.state ?? null;
    w.server = { state, since: now };
    this.emit(change('state', name, null, from, state, serverReason(statuses, disabled), now));
  }

  private emit(c: HealthChange): void {
    if (c.kind === 'state' && c.replica === null) {
      const level = c.to === 'healthy' ? 'info' : 'warn';
      this.logger[level]({ server: c.server, from: c.from, to: c.to, reason: c.reason }, 'server health');
    }
    this.historyStore?.record(c);
    for (const handler of this.handlers) {
      try {
        handler(c);
      } catch (err) {
        this.logger.error({ err }, 'health change handler failed');
      }
    }
  }

  private describe(name: string, w: Watched): ServerHealth {
    const statuses = w.upstream.replicaStatus();
    let lastError: LastError | null = null;
    let latencySum = 0;
    let latencyCount = 0;
    const replicas: ReplicaHealth[] = statuses.map((r) => {
      if (r.lastError !== undefined && r.lastErrorAt !== undefined) {
        if (lastError === null || Date.parse(lastError.at) < r.lastErrorAt) {
          lastError = { message: r.lastError, at: iso(r.lastErrorAt), replica: r.id };
        }
      }
      if (r.latencyMs !== undefined && r.connection === 'ready') {
        latencySum += r.latencyMs;
        latencyCount++;
      }
      return replicaHealth(r, w.replicas.get(r.id));
    });
    return {
      name,
      state: w.server?.state ?? 'pending',
      since: w.server === undefined ? null : iso(w.server.since),
      disabled: w.upstream.disabled,
      disabled_reason: w.upstream.disabledReason ?? null,
      last_error: lastError,
      latency_ms: latencyCount === 0 ? null : Math.round((latencySum / latencyCount) * 100) / 100,
      replicas,
    };
  }
}

/** All replicas healthy → healthy; none usable (or disabled) → down; anything in between → degraded. */
export function serverState(replicas: readonly ReplicaStatus[], disabled: boolean): HealthState {
  if (disabled || replicas.every((r) => r.health === 'down')) return 'down';
  return replicas.every((r) => r.health === 'healthy') ? 'healthy' : 'degraded';
}

function serverReason(replicas: readonly ReplicaStatus[], disabled: string | undefined): string | null {
  if (disabled !== undefined) return `disabled: ${disabled}`;
  const bad = replicas.filter((r) => r.health !== 'healthy');
  if (bad.length === 0) return null;
  return bad.map((r) => `${r.id} ${r.health}${r.reason ? ` (${r.reason})` : ''}`).join('; ');
}

function replicaHealth(r: ReplicaStatus, tracked: Tracked | undefined): ReplicaHealth {
  return {
    id: r.id,
    state: r.health,
    since: iso(tracked?.since ?? Date.now()),
    reason: r.reason ?? null,
    connection: r.connection,
    breaker: r.breaker,
    in_flight: r.inFlight,
    draining: r.draining,
    consecutive_failures: r.consecutiveFailures,
    last_error:
      r.lastError !== undefined && r.lastErrorAt !== undefined
        ? { message: r.lastError, at: iso(r.lastErrorAt) }
        : null,
    latency_ms: r.latencyMs ?? null,
    last_probe_at: r.lastProbeAt === undefined ? null : iso(r.lastProbeAt),
  };
}

function change(
  kind: HealthEventKind,
  server: string,
  replica: string | null,
  from: HealthState | null,
  to: HealthState | null,
  reason: string | null,
  at: number,
): HealthChange {
  return { kind, server, replica, from, to, reason, at: iso(at) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
