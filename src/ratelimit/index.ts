export { type LimitConfig, type RateLimitsConfig, rateLimitsSchema } from './config.ts';
export { addressPrincipal, type RestRateLimitOptions, restRateLimit, retryAfterSeconds } from './http.ts';
export {
  DEFAULT_KEY_PREFIX,
  type RateLimitBackend,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitObserver,
  rateLimitedError,
} from './limiter.ts';
export type { LimitScope } from './plan.ts';
