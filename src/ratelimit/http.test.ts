import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import type { Principal } from '../auth/principal.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { rateLimitsSchema } from './config.ts';
import { restRateLimit } from './http.ts';
import { RateLimiter } from './limiter.ts';

describe('restRateLimit', () => {
  it('answers 429 with Retry-After and the error body when over the limit', async () => {
    let now = 0;
    const limiter = new RateLimiter({
      config: rateLimitsSchema.parse({
        default: { rate: 2, per: '1m' },
        roles: { admin: { rate: 100, per: '1m' } },
      }),
      logger: silentLogger,
      now: () => now,
    });
    const admin: Principal = { id: 'user:admin', roles: ['admin'], method: 'jwt' };
    const app = Fastify();
    app.addHook(
      'preHandler',
      restRateLimit(limiter, {
        principalOf: (req) => (req.headers.authorization === 'Bearer admin' ? admin : undefined),
      }),
    );
    let handled = 0;
    app.get('/api/v1/things', async () => {
      handled++;
      return { ok: true };
    });
    const get = (headers: Record<string, string> = {}) =>
      app.inject({ method: 'GET', url: '/api/v1/things', headers });

    expect((await get()).statusCode).toBe(200);
    expect((await get()).statusCode).toBe(200);
    const refused = await get();
    expect(refused.statusCode).toBe(429);
    expect(refused.headers['retry-after']).toBe('30');
    expect(refused.json()).toEqual({
      error: {
        code: 'RATE_LIMITED',
        message: 'Rate limit exceeded; retry after 30s',
        data: { retryAfterMs: 30_000 },
      },
    });
    expect(handled).toBe(2);
    // Another caller (by identity) has its own allowance.
    for (let i = 0; i < 5; i++) expect((await get({ authorization: 'Bearer admin' })).statusCode).toBe(200);
    now += 30_000;
    expect((await get()).statusCode).toBe(200);
    await app.close();
    await limiter.close();
  });
});
