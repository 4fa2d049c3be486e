/**
 * GCRA (generic cell rate algorithm): a token bucket stored as one number per key, the theoretical
 * arrival time (TAT) of the next request. A bucket allows `capacity` requests at once and refills one
 * request every `intervalMs`. The same arithmetic runs in memory and, as a Lua script, inside Redis.
 */

/** One limit in its runtime form. */
export interface Rate {
  /** Milliseconds between two requests at the sustained rate (`per / rate`). */
  readonly intervalMs: number;
  /** Requests allowed at once when the bucket is full (the burst). */
  readonly capacity: number;
}

/** What one bucket says about a request at `now`: the TAT to store, or how long to wait. */
export interface GcraStep {
  /** The bucket's new TAT if the request is allowed. */
  readonly tat: number;
  /** 0 when allowed; otherwise milliseconds until this bucket would allow it. */
  readonly retryAfterMs: number;
}

/** Rounding noise of fractional intervals, far below any meaningful wait. */
const EPSILON_MS = 1e-6;

/** Applies one request to a bucket whose stored TAT is `storedTat` (undefined: a fresh, full bucket). */
export function gcraStep(rate: Rate, storedTat: number | undefined, now: number): GcraStep {
  const base = storedTat === undefined || storedTat < now ? now : storedTat;
  // (base - now) is how far the bucket is behind; it may run `capacity - 1` intervals behind and
  // still take one more. Written this way a fresh bucket gives exactly 0, free of rounding.
  const wait = base - now - (rate.capacity - 1) * rate.intervalMs;
  return { tat: base + rate.intervalMs, retryAfterMs: wait > EPSILON_MS ? wait : 0 };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `1s`, `1.5s`, `5m`, `1h`, `1d` into milliseconds; undefined when it is not one. */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * (UNITS[match[2] as string] as number);
}
