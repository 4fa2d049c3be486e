import { z } from 'zod';
import { parseDuration, type Rate } from './gcra.ts';

/** `per` of a limit: a duration with a unit, from 1ms to one day. */
const duration = z
  .string()
  .min(2)
  .refine((v) => {
    const ms = parseDuration(v);
    return ms !== undefined && ms >= 1 && ms <= 86_400_000;
  }, 'must be a duration such as 500ms, 1s, 1m, 1h or 1d (at most 1d)');

const limitFields = {
  /** Requests allowed per `per`, sustained. */
  rate: z.number().int().min(1).max(1_000_000),
  per: duration,
  /** Requests allowed at once when the bucket is full (default: `rate`). */
  burst: z.number().int().min(1).max(1_000_000).optional(),
};

export const limitSchema = z.object(limitFields).strict();

/** A server's own limit (optional) and its tools' limits, all counted per principal. */
const serverLimitsSchema = z
  .object({
    rate: limitFields.rate.optional(),
    per: duration.optional(),
    burst: limitFields.burst,
    tools: z.record(z.string().min(1), limitSchema).default({}),
  })
  .strict()
  .refine((s) => (s.rate === undefined) === (s.per === undefined), {
    message: 'a server limit needs both `rate` and `per` (or neither, to limit only its tools)',
    path: ['rate'],
  });

/**
 * `rate_limits` in the config file. Every bucket belongs to one principal (a user, an identity-provider
 * subject, or with `per_key` an API key); a request must fit every bucket that applies to it.
 */
export const rateLimitsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Each API key gets its own buckets instead of sharing its user's. */
    per_key: z.boolean().default(false),
    /** Every MCP request of a principal (and REST calls where the hook is installed). */
    default: limitSchema.optional(),
    /** Replaces `default` for principals holding the role; with several roles the most generous wins. */
    roles: z.record(z.string().min(1), limitSchema).default({}),
    /** Per principal and server, and per principal and tool; server names as in `servers`. */
    servers: z.record(z.string().min(1), serverLimitsSchema).default({}),
  })
  .strict();

export type LimitConfig = z.infer<typeof limitSchema>;
export type RateLimitsConfig = z.infer<typeof rateLimitsSchema>;

/** The runtime form of a configured limit. */
export function toRate(limit: { rate: number; per: string; burst?: number }): Rate {
  const perMs = parseDuration(limit.per);
  if (perMs === undefined) throw new Error(`invalid duration: ${limit.per}`);
  return { intervalMs: perMs / limit.rate, capacity: limit.burst ?? limit.rate };
}

/** Requests per second a rate sustains (to compare "most generous"). */
export function sustained(rate: Rate): number {
  return 1000 / rate.intervalMs;
}
