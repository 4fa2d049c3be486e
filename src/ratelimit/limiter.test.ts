import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.ts';
import { HubError } from '../server/errors.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { type RateLimitsConfig, rateLimitsSchema } from './config.ts';
import { RateLimiter, type RateLimitObserver } from './limiter.ts';
import type { LimitScope } from './plan.ts';
import { startRedis, stopAllRedis, stopRedis } from './testing/redis.ts';

const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

const alice: Principal = { id: 'user:alice', roles: ['developer'], method: 'jwt' };
const bob: Principal = { id: 'user:bob', roles: ['analyst'], method: 'jwt' };
const both: Principal = { id: 'user:carol', roles: ['analyst', 'developer'], method: 'jwt' };

function config(raw: unknown): RateLimitsConfig {
  return rateLimitsSchema.parse(raw);
}

/** Counts what the limiter reports, as the metrics would. */
class Recorder implements RateLimitObserver {
  limited: LimitScope[] = [];
  sharedStates: boolean[] = [];
  fallbacks = 0;
  rateLimited(scope: LimitScope) {
    this.limited.push(scope);
  }
  rateLimitShared(shared: boolean) {
    this.sharedStates.push(shared);
  }
  rateLimitFallback() {
    this.fallbacks++;
  }
}

async function allowedOf(limiter: RateLimiter, p: Principal, n: number, server?: string, tool?: string) {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await limiter.check(p, server, tool)) === 0) allowed++;
  return allowed;
}

const limiters: RateLimiter[] = [];
function track(l: RateLimiter): RateLimiter {
  limiters.push(l);
  return l;
}
afterEach(async () => {
  await Promise.all(limiters.splice(0).map((l) => l.close()));
});

describe('rate limit config', () => {
  it('refuses bad limits with the field named', () => {
    expect(() => config({ default: { rate: 0, per: '1s' } })).toThrow(/rate/);
    expect(() => config({ default: { rate: 5, per: '5' } })).toThrow(/duration/);
    expect(() => config({ default: { rate: 5, per: '2d' } })).toThrow(/at most 1d/);
    expect(() => config({ servers: { db: { rate: 5 } } })).toThrow(/both `rate` and `per`/);
    expect(() => config({ default: { rate: 5, per: '1s', brust: 2 } })).toThrow(/brust/);
  });
});

describe('RateLimiter in memory', () => {
  const clock = { now: 0 };
  const make = (raw: unknown, observer?: RateLimitObserver) =>
    track(new RateLimiter({ config: config(raw), logger: silentLogger, now: () => clock.now, observer }));

  it('limits each principal on its own, and answers synchronously', () => {
    const limiter = make({ default: { rate: 3, per: '1s' } });
    const first = limiter.check(alice);
    expect(first).toBe(0);
    expect(limiter.check(alice)).toBe(0);
    expect(limiter.check(alice)).toBe(0);
    expect(limiter.check(alice)).toBeCloseTo(1000 / 3, 5);
    expect(limiter.check(bob)).toBe(0);
    expect(limiter.backend).toBe('memory');
  });

  it('gives a principal the most generous of its roles, else the default', async () => {
    const limiter = make({
      default: { rate: 1, per: '1s' },
      roles: { developer: { rate: 5, per: '1s' }, analyst: { rate: 2, per: '1s' } },
    });
    expect(await allowedOf(limiter, alice, 10)).toBe(5);
    expect(await allowedOf(limiter, bob, 10)).toBe(2);
    expect(await allowedOf(limiter, both, 10)).toBe(5);
    expect(await allowedOf(limiter, { id: 'anonymous', roles: [], method: 'none' }, 10)).toBe(1);
  });

  it('limits per server and per tool on top of the principal limit', async () => {
    const observer = new Recorder();
    const limiter = make(
      {
        default: { rate: 100, per: '1s' },
        servers: { database: { rate: 4, per: '1s', tools: { analyze_sql: { rate: 2, per: '1s' } } } },
      },
      observer,
    );
    expect(await allowedOf(limiter, alice, 5, 'database', 'analyze_sql')).toBe(2);
    expect(observer.limited).toContain('tool');
    // The refused tool calls did not use up the server allowance: two other tools still fit.
    expect(await allowedOf(limiter, alice, 5, 'database', 'compare_plans')).toBe(2);
    expect(observer.limited.at(-1)).toBe('server');
    // Other servers only see the principal limit.
    expect(await allowedOf(limiter, alice, 10, 'code', 'run_tests')).toBe(10);
    // Another principal has its own server and tool buckets.
    expect(await allowedOf(limiter, bob, 5, 'database', 'analyze_sql')).toBe(2);
  });

  it('shares a user\u2019s buckets across its API keys unless per_key is set', async () => {
    const key1: Principal = { ...alice, keyId: 'k1', method: 'api_key' };
    const key2: Principal = { ...alice, keyId: 'k2', method: 'api_key' };
    const byUser = make({ default: { rate: 2, per: '1m' } });
    expect((await allowedOf(byUser, key1, 5)) + (await allowedOf(byUser, key2, 5))).toBe(2);
    const byKey = make({ default: { rate: 2, per: '1m' }, per_key: true });
    expect((await allowedOf(byKey, key1, 5)) + (await allowedOf(byKey, key2, 5))).toBe(4);
  });

  it('refills with time and hints how long to wait', () => {
    clock.now = 10_000;
    const limiter = make({ default: { rate: 1, per: '1m', burst: 1 } });
    expect(limiter.check(alice)).toBe(0);
    expect(limiter.check(alice)).toBe(60_000);
    clock.now += 30_000;
    expect(limiter.check(alice)).toBe(30_000);
    clock.now += 30_000;
    expect(limiter.check(alice)).toBe(0);
  });

  it('throws RATE_LIMITED with the retry hint from enforce()', () => {
    const limiter = make({ default: { rate: 1, per: '10s' } });
    expect(limiter.enforce(alice)).toBeUndefined();
    let error: unknown;
    try {
      limiter.enforce(alice);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe('RATE_LIMITED');
    expect((error as HubError).status).toBe(429);
    expect((error as HubError).data).toEqual({ retryAfterMs: 10_000 });
  });

  it('limits nothing when disabled or unconfigured, and follows a new config', () => {
    const off = make({ enabled: false, default: { rate: 1, per: '1h' } });
    for (let i = 0; i < 5; i++) expect(off.check(alice)).toBe(0);
    expect(off.backend).toBe('off');
    const none = track(new RateLimiter({ logger: silentLogger }));
    for (let i = 0; i < 5; i++) expect(none.check(alice, 'database', 'analyze_sql')).toBe(0);
    none.setConfig(config({ default: { rate: 1, per: '1h' } }));
    expect(none.check(alice)).toBe(0);
    expect(none.check(alice)).toBeGreaterThan(0);
  });
});

describe('RateLimiter shared through Redis', () => {
  it('two instances enforce one combined limit', async () => {
    const prefix = `omnihub:rl:test:${randomUUID()}:`;
    const raw = {
      default: { rate: 10, per: '1m' },
      servers: { db: { tools: { q: { rate: 4, per: '1m' } } } },
    };
    const a = track(
      new RateLimiter({ config: config(raw), logger: silentLogger, redis: SHARED_REDIS, keyPrefix: prefix }),
    );
    const b = track(
      new RateLimiter({ config: config(raw), logger: silentLogger, redis: SHARED_REDIS, keyPrefix: prefix }),
    );
    await waitFor(() => a.backend === 'redis' && b.backend === 'redis');
    expect(a.check(alice)).toBeInstanceOf(Promise);
    // One request already counted above; 9 more fit the principal limit across both instances.
    let allowed = 1;
    for (let i = 0; i < 10; i++) {
      if ((await a.check(alice)) === 0) allowed++;
      if ((await b.check(alice)) === 0) allowed++;
    }
    expect(allowed).toBe(10);
    const waitMs = await b.check(alice);
    expect(waitMs).toBeGreaterThan(0);
    expect(waitMs).toBeLessThanOrEqual(6_000);
    // A tool limit is shared too, and bob is untouched by alice.
    let tool = 0;
    for (let i = 0; i < 3; i++) {
      if ((await a.check(bob, 'db', 'q')) === 0) tool++;
      if ((await b.check(bob, 'db', 'q')) === 0) tool++;
    }
    expect(tool).toBe(4);
    // Keys carry the prefix and expire on their own.
    const redis = new Redis(SHARED_REDIS);
    try {
      const keys = await redis.keys(`${prefix}*`);
      expect(keys.sort()).toEqual([
        `${prefix}{user:alice}:p`,
        `${prefix}{user:bob}:p`,
        `${prefix}{user:bob}:t:db:q`,
      ]);
      for (const key of keys) expect(await redis.pttl(key)).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });

  describe('when Redis goes away', () => {
    // Whatever happened in the test (a failed expectation, a timeout mid-start): no server is left behind.
    afterAll(stopAllRedis);

    it('keeps serving with local limits, says so, and shares again when it is back', async () => {
      const server = await startRedis();
      const observer = new Recorder();
      const limiter = track(
        new RateLimiter({
          config: config({ default: { rate: 3, per: '1h' } }),
          logger: silentLogger,
          redis: server.url,
          keyPrefix: `omnihub:rl:test:${randomUUID()}:`,
          observer,
        }),
      );
      await waitFor(() => limiter.backend === 'redis');
      expect(await allowedOf(limiter, alice, 2)).toBe(2);

      await stopRedis(server.child);
      await waitFor(() => limiter.backend === 'redis-unavailable');
      expect(observer.sharedStates).toEqual([true, false]);
      // Still limiting, from this instance's own buckets (which start full), synchronously.
      const local = limiter.check(alice);
      expect(local).toBe(0);
      expect(await allowedOf(limiter, alice, 5)).toBe(2);
      expect(observer.fallbacks).toBeGreaterThanOrEqual(6);

      // Redis is back (empty: it keeps nothing on disk): shared buckets again.
      await startRedis(server.port);
      await waitFor(() => limiter.backend === 'redis', 15_000);
      expect(observer.sharedStates).toEqual([true, false, true]);
      expect(limiter.check(alice)).toBeInstanceOf(Promise);
      expect(await allowedOf(limiter, alice, 5)).toBe(2);
    }, 30_000);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
