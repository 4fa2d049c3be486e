import { Redis } from 'ioredis';
import type { Principal } from '../auth/principal.ts';
import { HubError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { RateLimitsConfig } from './config.ts';
import { LocalBuckets, type Verdict } from './local.ts';
import { type Buckets, LimitPlan, type LimitScope } from './plan.ts';
import { RedisBuckets } from './redis.ts';

/** What the limiter reports (HubMetrics implements it). */
export interface RateLimitObserver {
  rateLimited(scope: LimitScope): void;
  /** true: buckets shared through Redis; false: Redis configured but unreachable (local fallback). */
  rateLimitShared(shared: boolean): void;
  /** A check that should have gone to Redis was decided locally. */
  rateLimitFallback(): void;
}

export interface RateLimiterOptions {
  config?: RateLimitsConfig;
  logger: Logger;
  /** `redis://…` (the limiter owns the connection) or a connection to share (the caller closes it). */
  redis?: string | Redis;
  /** Prefix of every Redis key (default `omnihub:rl:`); instances enforcing one limit use the same one. */
  keyPrefix?: string;
  /** A Redis check slower than this is decided locally instead (default 250 ms). */
  redisTimeoutMs?: number;
  observer?: RateLimitObserver;
  /** Milliseconds on a monotonic clock, for the local buckets (tests pass a fake clock). */
  now?: () => number;
}

/** Where the buckets live right now. */
export type RateLimitBackend = 'off' | 'memory' | 'redis' | 'redis-unavailable';

/** The error an over-limit request gets: JSON-RPC -32006 with `data.retryAfterMs`; HTTP 429. */
export function rateLimitedError(retryAfterMs: number): HubError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new HubError('RATE_LIMITED', `Rate limit exceeded; retry after ${Math.ceil(ms / 1000)}s`, {
    data: { retryAfterMs: ms },
  });
}

export const DEFAULT_KEY_PREFIX = 'omnihub:rl:';

/**
 * Rate limits per principal, per role, per server and per tool (GCRA). In memory by default; with Redis
 * every instance shares the buckets. When Redis is unreachable each instance enforces the same limits
 * locally until it is back, and says so in its logs and metrics.
 */
export class RateLimiter {
  private plan: LimitPlan;
  private readonly local: LocalBuckets;
  private readonly shared?: RedisBuckets;
  private readonly ownsRedis: boolean;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly observer?: RateLimitObserver;
  /** Whether Redis was usable at the last transition (undefined until the first one). */
  private sharedUp?: boolean;

  constructor(options: RateLimiterOptions) {
    this.log = options.logger;
    this.observer = options.observer;
    this.plan = new LimitPlan(options.config);
    this.local = new LocalBuckets(options.now);
    this.prefix = options.keyPrefix ?? DEFAULT_KEY_PREFIX;
    this.timeoutMs = options.redisTimeoutMs ?? 250;
    this.ownsRedis = typeof options.redis === 'string';
    if (options.redis !== undefined) {
      const redis =
        typeof options.redis === 'string' ? connect(options.redis, this.timeoutMs) : options.redis;
      this.shared = new RedisBuckets(redis);
      redis.on('ready', () => this.setShared(true));
      redis.on('close', () => this.setShared(false));
      redis.on('error', (err: Error) => {
        this.log.debug({ err: err.message }, 'rate limit Redis error');
        if (redis.status !== 'ready') this.setShared(false);
      });
      if (redis.status === 'ready') this.setShared(true);
    }
  }

  get backend(): RateLimitBackend {
    if (!this.plan.enabled) return 'off';
    if (!this.shared) return 'memory';
    return this.shared.ready ? 'redis' : 'redis-unavailable';
  }

  /** Replaces the limits (config reload); buckets already filled keep their state. */
  setConfig(config: RateLimitsConfig | undefined): void {
    this.plan = new LimitPlan(config);
  }

  /**
   * Counts one request against every bucket that applies: 0 when allowed, else milliseconds to wait.
   * Synchronous unless the buckets are in Redis and Redis is reachable; never rejects.
   */
  check(principal: Principal, server?: string, tool?: string): number | Promise<number> {
    const buckets = this.plan.bucketsFor(this.prefix, principal, server, tool);
    if (!buckets) return 0;
    if (this.shared?.ready) return this.checkShared(buckets);
    if (this.shared) this.observer?.rateLimitFallback();
    return this.decide(this.local.take(buckets.keys, buckets.rates), buckets);
  }

  /** Like `check`, but throws (or rejects with) RATE_LIMITED when over a limit. */
  enforce(principal: Principal, server?: string, tool?: string): void | Promise<void> {
    const wait = this.check(principal, server, tool);
    if (typeof wait === 'number') {
      if (wait > 0) throw rateLimitedError(wait);
      return;
    }
    return wait.then((ms) => {
      if (ms > 0) throw rateLimitedError(ms);
    });
  }

  async close(): Promise<void> {
    this.local.close();
    if (this.shared && this.ownsRedis) {
      this.shared.redis.disconnect();
    }
  }

  private async checkShared(buckets: Buckets): Promise<number> {
    try {
      return this.decide(await this.shared!.take(buckets.keys, buckets.rates), buckets);
    } catch (err) {
      // Fail open to the local limits, never to "no limits" and never to an error for the caller.
      this.log.debug({ err: (err as Error).message }, 'rate limit check fell back to local buckets');
      this.observer?.rateLimitFallback();
      return this.decide(this.local.take(buckets.keys, buckets.rates), buckets);
    }
  }

  private decide(verdict: Verdict, buckets: Buckets): number {
    if (verdict.retryAfterMs === 0) return 0;
    this.observer?.rateLimited(buckets.scopes[verdict.limiting] ?? 'principal');
    return verdict.retryAfterMs;
  }

  private setShared(up: boolean): void {
    if (this.sharedUp === up) return;
    const first = this.sharedUp === undefined;
    this.sharedUp = up;
    this.observer?.rateLimitShared(up);
    if (up)
      this.log.info(first ? 'rate limits shared through Redis' : 'Redis is back: rate limits shared again');
    else
      this.log.warn(
        'Redis is unreachable: rate limits are enforced by each instance locally until it is back',
      );
  }
}

/** A connection that fails fast: a check never waits for Redis to come back, it goes local instead. */
function connect(url: string, timeoutMs: number): Redis {
  return new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1000, timeoutMs * 4),
    retryStrategy: (times) => Math.min(100 * times, 2000),
    // Rate-limit scripts only; no need for the client to probe server info first.
    enableReadyCheck: false,
    lazyConnect: false,
  });
}
