import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import { type RateLimiter, rateLimitedError } from './limiter.ts';

export interface RestRateLimitOptions {
  /**
   * The caller, when the route knows it before its handler runs. Without one (or when it returns
   * undefined) the caller is its client address, so unauthenticated routes such as login are limited too.
   */
  principalOf?: (req: FastifyRequest) => Principal | undefined | Promise<Principal | undefined>;
  /** Counts these routes as this "server" too, so `rate_limits.servers.<name>` applies (e.g. `rest`). */
  server?: string;
}

/** `Retry-After` is whole seconds (RFC 9110); never 0 for a refused request. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

/** The principal that stands for an unauthenticated caller: its address. */
export function addressPrincipal(ip: string): Principal {
  return { id: `ip:${ip}`, roles: [], method: 'none' };
}

/**
 * A Fastify `preHandler` that counts each request against the caller's buckets and answers 429 with
 * `Retry-After` and the API's error body when over the limit.
 */
export function restRateLimit(limiter: RateLimiter, options: RestRateLimitOptions = {}) {
  return async function rateLimitHook(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const principal = (await options.principalOf?.(req)) ?? addressPrincipal(req.ip);
    const wait = await limiter.check(principal, options.server);
    if (wait === 0) return;
    const err = rateLimitedError(wait);
    await reply
      .code(err.status)
      .header('retry-after', String(retryAfterSeconds(wait)))
      .send({ error: { code: err.code, message: err.message, data: err.data } });
  };
}
