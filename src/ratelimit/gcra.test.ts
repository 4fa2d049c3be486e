import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gcraStep, parseDuration, type Rate } from './gcra.ts';
import { LocalBuckets } from './local.ts';

/** Runs `count` requests at `at` against one bucket; returns how many were allowed. */
function burst(buckets: LocalBuckets, key: string, rate: Rate, count: number): number {
  let allowed = 0;
  for (let i = 0; i < count; i++) if (buckets.take([key], [rate]).retryAfterMs === 0) allowed++;
  return allowed;
}

describe('GCRA', () => {
  it('allows `capacity` requests at once, then one per interval', () => {
    let now = 1_000;
    const buckets = new LocalBuckets(() => now, 0);
    const rate: Rate = { intervalMs: 100, capacity: 5 };
    expect(burst(buckets, 'k', rate, 10)).toBe(5);
    const refused = buckets.take(['k'], [rate]);
    expect(refused.retryAfterMs).toBe(100);
    now += 99;
    expect(buckets.take(['k'], [rate]).retryAfterMs).toBe(1);
    now += 1;
    expect(buckets.take(['k'], [rate]).retryAfterMs).toBe(0);
    expect(buckets.take(['k'], [rate]).retryAfterMs).toBe(100);
    // After a long pause the bucket is full again, never fuller.
    now += 10_000;
    expect(burst(buckets, 'k', rate, 10)).toBe(5);
  });

  it('never allows more than capacity + elapsed/interval requests (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 200 }),
        (intervalMs, capacity, gaps) => {
          let now = 0;
          let tat: number | undefined;
          const rate = { intervalMs, capacity };
          let allowed = 0;
          for (const gap of gaps) {
            now += gap;
            const step = gcraStep(rate, tat, now);
            if (step.retryAfterMs === 0) {
              allowed++;
              tat = step.tat;
            } else {
              // The hint is honest: waiting exactly that long is enough, and waiting less is not.
              expect(gcraStep(rate, tat, now + step.retryAfterMs).retryAfterMs).toBe(0);
              expect(gcraStep(rate, tat, now + step.retryAfterMs - 1).retryAfterMs).toBeGreaterThan(0);
            }
          }
          expect(allowed).toBeLessThanOrEqual(capacity + Math.floor(now / intervalMs));
        },
      ),
    );
  });

  it('counts a request in every bucket or in none', () => {
    const now = 0;
    const buckets = new LocalBuckets(() => now, 0);
    const wide: Rate = { intervalMs: 1000, capacity: 10 };
    const narrow: Rate = { intervalMs: 1000, capacity: 2 };
    // Two requests fit both buckets; the third is refused by the narrow one...
    for (let i = 0; i < 2; i++) expect(buckets.take(['wide', 'narrow'], [wide, narrow]).retryAfterMs).toBe(0);
    const refused = buckets.take(['wide', 'narrow'], [wide, narrow]);
    expect(refused).toEqual({ retryAfterMs: 1000, limiting: 1 });
    // ...and did not use up the wide bucket: 8 more fit it alone.
    expect(burst(buckets, 'wide', wide, 20)).toBe(8);
  });

  it('forgets full buckets when sweeping', () => {
    let now = 0;
    const buckets = new LocalBuckets(() => now, 0);
    buckets.take(['a'], [{ intervalMs: 10, capacity: 1 }]);
    buckets.take(['b'], [{ intervalMs: 1000, capacity: 1 }]);
    now = 500;
    buckets.sweep();
    expect(buckets.size).toBe(1);
  });

  it('parses durations with a unit only', () => {
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('10')).toBeUndefined();
    expect(parseDuration('1 week')).toBeUndefined();
    expect(parseDuration('-1s')).toBeUndefined();
  });
});
