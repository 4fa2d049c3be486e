import { gcraStep, type Rate } from './gcra.ts';

/** The verdict on one request across all its buckets. */
export interface Verdict {
  /** 0 when allowed (and counted in every bucket); otherwise milliseconds until it would be allowed. */
  retryAfterMs: number;
  /** Index of the bucket that refused the longest (meaningful only when refused). */
  limiting: number;
}

export const ALLOWED: Verdict = Object.freeze({ retryAfterMs: 0, limiting: -1 });

/**
 * GCRA buckets in this process's memory. A request counts in every bucket or in none: a request refused
 * by its tool limit does not use up its principal's allowance.
 */
export class LocalBuckets {
  private readonly tats = new Map<string, number>();
  /** Reused between calls: the request path allocates nothing when a request is allowed. */
  private scratch = new Float64Array(4);
  private readonly sweeper?: NodeJS.Timeout;

  constructor(
    private readonly now: () => number = () => performance.now(),
    sweepEveryMs = 60_000,
  ) {
    // A bucket whose TAT has passed is a full bucket: forgetting it changes nothing and bounds memory.
    if (sweepEveryMs > 0) {
      this.sweeper = setInterval(() => this.sweep(), sweepEveryMs);
      this.sweeper.unref();
    }
  }

  take(keys: readonly string[], rates: readonly Rate[]): Verdict {
    const now = this.now();
    if (keys.length === 1) {
      const step = gcraStep(rates[0] as Rate, this.tats.get(keys[0] as string), now);
      if (step.retryAfterMs > 0) return { retryAfterMs: step.retryAfterMs, limiting: 0 };
      this.tats.set(keys[0] as string, step.tat);
      return ALLOWED;
    }
    if (this.scratch.length < keys.length) this.scratch = new Float64Array(keys.length);
    const next = this.scratch;
    let retry = 0;
    let limiting = -1;
    for (let i = 0; i < keys.length; i++) {
      const step = gcraStep(rates[i] as Rate, this.tats.get(keys[i] as string), now);
      if (step.retryAfterMs > retry) {
        retry = step.retryAfterMs;
        limiting = i;
      }
      next[i] = step.tat;
    }
    if (retry > 0) return { retryAfterMs: retry, limiting };
    for (let i = 0; i < keys.length; i++) this.tats.set(keys[i] as string, next[i] as number);
    return ALLOWED;
  }

  /** Drops buckets that are full again. */
  sweep(): void {
    const now = this.now();
    for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
  }

  get size(): number {
    return this.tats.size;
  }

  close(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }
}
