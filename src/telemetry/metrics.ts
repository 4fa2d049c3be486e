import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { RateLimitObserver } from '../ratelimit/limiter.ts';
import type { LimitScope } from '../ratelimit/plan.ts';

/** The policy's say on a request; `none` for requests no rule looks at (lists, ping, initialize). */
export type DecisionLabel = 'allow' | 'deny' | 'none';
export type HealthState = 'healthy' | 'degraded' | 'down';
export type BreakerState = 'closed' | 'open' | 'half_open';

const HEALTH_STATES: readonly HealthState[] = ['healthy', 'degraded', 'down'];
const BREAKER_STATES: readonly BreakerState[] = ['closed', 'open', 'half_open'];

/** Seconds: from sub-millisecond hub-only answers to calls that run into the 30 s range. */
export const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
] as const;

type Labels = Record<string, string>;
interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

/**
 * A counter whose series are looked up by one string key and bumped as a plain number: the request path
 * pays a Map lookup, not prom-client's label hashing and validation. Rendered by prom-client's registry.
 */
class KeyedCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly all = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** The series for `key`, created with `labels` the first time. */
  series(key: string, labels: Labels | undefined): { value: number } | undefined {
    const found = this.all.get(key);
    if (found || !labels) return found;
    const created = { labels, value: 0 };
    this.all.set(key, created);
    return created;
  }

  get() {
    const values: MetricValue[] = [];
    for (const s of this.all.values()) values.push({ labels: s.labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.all.clear();
  }
}

interface HistogramSeries {
  labels: Labels;
  counts: Float64Array;
  sum: number;
}

class KeyedHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly all = new Map<string, HistogramSeries>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** The series for `key`, created with `labels` the first time. */
  series(key: string, labels: Labels | undefined): HistogramSeries | undefined {
    const found = this.all.get(key);
    if (found || !labels) return found;
    const created = { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0 };
    this.all.set(key, created);
    return created;
  }

  observe(s: HistogramSeries, value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i++;
    s.counts[i] = (s.counts[i] as number) + 1;
    s.sum += value;
  }

  get() {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.all.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ labels: { ...s.labels, le: String(le) }, value: cumulative, metricName: bucket });
      });
      cumulative += s.counts[this.bounds.length] as number;
      values.push({ labels: { ...s.labels, le: '+Inf' }, value: cumulative, metricName: bucket });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: cumulative, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  reset(): void {
    this.all.clear();
  }
}

export interface HubMetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC, handles); default on. */
  defaultMetrics?: boolean;
}

/**
 * The hub's Prometheus metrics, in a registry of its own. Request-path calls are cheap (a string key
 * and a Map lookup); gauges that mirror other parts (sessions, audit queue) are read at scrape time.
 */
export class HubMetrics implements RateLimitObserver {
  readonly registry = new Registry();
  private readonly requests = new KeyedCounter(
    'omnihub_mcp_requests_total',
    'MCP requests by method, server, tool, policy decision and outcome',
  );
  private readonly latency = new KeyedHistogram(
    'omnihub_mcp_request_duration_seconds',
    'MCP request latency through the hub, by method, server and tool',
    LATENCY_BUCKETS,
  );
  private readonly upstreamHealth: Gauge<'server' | 'replica' | 'state'>;
  private readonly breaker: Gauge<'server' | 'replica' | 'state'>;
  private readonly limited: Counter<'scope'>;
  private readonly fallbacks: Counter;
  private readonly sharedGauge: Gauge;
  private readonly drainingGauge: Gauge;
  private inFlight = 0;
  private auditDepth?: () => number;
  private sessionCount?: () => number;

  constructor(options: HubMetricsOptions = {}) {
    const registers = [this.registry];
    this.registry.registerMetric(this.requests as never);
    this.registry.registerMetric(this.latency as never);
    const self = this;
    new Gauge({
      name: 'omnihub_mcp_requests_in_flight',
      help: 'MCP requests being handled right now',
      registers,
      collect() {
        this.set(self.inFlight);
      },
    });
    this.upstreamHealth = new Gauge({
      name: 'omnihub_upstream_health',
      help: 'Health of each upstream replica: 1 for its current state, 0 for the others',
      labelNames: ['server', 'replica', 'state'],
      registers,
    });
    this.breaker = new Gauge({
      name: 'omnihub_upstream_circuit_breaker',
      help: 'Circuit breaker of each upstream replica: 1 for its current state, 0 for the others',
      labelNames: ['server', 'replica', 'state'],
      registers,
    });
    new Gauge({
      name: 'omnihub_audit_queue_depth',
      help: 'Audit events waiting to be written',
      registers,
      collect() {
        if (self.auditDepth) this.set(self.auditDepth());
      },
    });
    new Gauge({
      name: 'omnihub_mcp_sessions',
      help: 'Open MCP sessions',
      registers,
      collect() {
        if (self.sessionCount) this.set(self.sessionCount());
      },
    });
    this.limited = new Counter({
      name: 'omnihub_rate_limited_total',
      help: 'Requests refused by a rate limit, by the limit that refused them',
      labelNames: ['scope'],
      registers,
    });
    this.fallbacks = new Counter({
      name: 'omnihub_rate_limit_local_fallback_total',
      help: 'Rate limit checks decided by local buckets because Redis was unreachable',
      registers,
    });
    this.sharedGauge = new Gauge({
      name: 'omnihub_rate_limit_redis_up',
      help: '1 when rate limits are shared through Redis, 0 when Redis is configured but unreachable',
      registers,
    });
    this.drainingGauge = new Gauge({
      name: 'omnihub_draining',
      help: '1 while the hub is shutting down and finishing in-flight requests',
      registers,
    });
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  // ---- request path ----------------------------------------------------------------------------

  requestStarted(): void {
    this.inFlight++;
  }

  requestFinished(): void {
    this.inFlight--;
  }

  /** One finished MCP request. `tool` is the tool or prompt name ('' when none); outcome as audited. */
  observeRequest(
    method: string,
    server: string,
    tool: string,
    decision: DecisionLabel,
    outcome: string,
    seconds: number,
  ): void {
    const seriesKey = `${method}\0${server}\0${tool}`;
    const countKey = `${seriesKey}\0${decision}\0${outcome}`;
    const count =
      this.requests.series(countKey, undefined) ??
      (this.requests.series(countKey, { method, server, tool, decision, outcome }) as { value: number });
    count.value++;
    const latency =
      this.latency.series(seriesKey, undefined) ??
      (this.latency.series(seriesKey, { method, server, tool }) as HistogramSeries);
    this.latency.observe(latency, seconds);
  }

  // ---- state set by other parts ----------------------------------------------------------------

  setUpstreamHealth(server: string, replica: string, state: HealthState): void {
    for (const s of HEALTH_STATES)
      this.upstreamHealth.set({ server, replica, state: s }, s === state ? 1 : 0);
  }

  setBreakerState(server: string, replica: string, state: BreakerState): void {
    for (const s of BREAKER_STATES) this.breaker.set({ server, replica, state: s }, s === state ? 1 : 0);
  }

  /** Drops a replica's series (server removed or replica count lowered). */
  forgetReplica(server: string, replica: string): void {
    for (const state of HEALTH_STATES) this.upstreamHealth.remove({ server, replica, state });
    for (const state of BREAKER_STATES) this.breaker.remove({ server, replica, state });
  }

  /** Read at scrape time. */
  setAuditQueueDepth(source: () => number): void {
    this.auditDepth = source;
  }

  /** Read at scrape time. */
  setSessionCount(source: () => number): void {
    this.sessionCount = source;
  }

  setDraining(draining: boolean): void {
    this.drainingGauge.set(draining ? 1 : 0);
  }

  // ---- RateLimitObserver -----------------------------------------------------------------------

  rateLimited(scope: LimitScope): void {
    this.limited.inc({ scope });
  }

  rateLimitShared(shared: boolean): void {
    this.sharedGauge.set(shared ? 1 : 0);
  }

  rateLimitFallback(): void {
    this.fallbacks.inc();
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export interface MetricsRouteOptions {
  /** When set, `GET /metrics` needs `Authorization: Bearer <token>` (env OMNIHUB_METRICS_TOKEN). */
  token?: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/** `GET /metrics` in the Prometheus text format, optionally behind a bearer token. */
export function metricsRoute(metrics: HubMetrics, options: MetricsRouteOptions = {}) {
  const expected = options.token ? digest(`Bearer ${options.token}`) : undefined;
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/metrics', async (req, reply) => {
      if (expected) {
        const given = digest(req.headers.authorization ?? '');
        if (!timingSafeEqual(given, expected)) {
          return reply
            .code(401)
            .header('www-authenticate', 'Bearer realm="metrics"')
            .send({ error: { code: 'UNAUTHENTICATED', message: 'Unauthorized' } });
        }
      }
      return reply
        .header('content-type', metrics.contentType)
        .header('cache-control', 'no-store')
        .send(await metrics.render());
    });
  };
}
