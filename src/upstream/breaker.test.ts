import { afterEach, expect, it } from 'vitest';
import { type BreakerState, CircuitBreaker } from './breaker.ts';

const made: CircuitBreaker[] = [];
afterEach(() => {
  for (const b of made.splice(0)) b.dispose();
});

function breaker(openMs = 60_000) {
  const seen: BreakerState[] = [];
  const b = new CircuitBreaker({
    failureThreshold: 3,
    openMs,
    halfOpenMaxCalls: 2,
    onTransition: (s) => seen.push(s),
  });
  made.push(b);
  return { b, seen };
}

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

it('opens after the threshold of consecutive failures; a success in between resets the count', () => {
  const { b, seen } = breaker();
  b.failure();
  b.failure();
  b.success();
  b.failure();
  b.failure();
  expect(b.state).toBe('closed');
  expect(b.allows()).toBe(true);
  b.failure();
  expect(b.state).toBe('open');
  expect(b.allows()).toBe(false);
  expect(seen).toEqual(['open']);
});

it('half-opens after open_ms, admits a limited number of trials, closes on success', async () => {
  const { b, seen } = breaker(30);
  for (let i = 0; i < 3; i++) b.failure();
  await until(() => b.state === 'half-open');
  expect(b.allows()).toBe(true);
  b.acquire();
  expect(b.allows()).toBe(true);
  b.acquire();
  expect(b.allows()).toBe(false); // two trials in flight: the third waits
  b.release(); // one trial was cancelled by its client: its slot is free again
  expect(b.allows()).toBe(true);
  b.success();
  expect(b.state).toBe('closed');
  expect(b.trips).toBe(0);
  expect(seen).toEqual(['open', 'half-open', 'closed']);
});

it('a failed trial opens it again and counts another trip', async () => {
  const { b, seen } = breaker(30);
  for (let i = 0; i < 3; i++) b.failure();
  await until(() => b.state === 'half-open');
  b.acquire();
  b.failure();
  expect(b.state).toBe('open');
  expect(b.trips).toBe(2);
  await until(() => b.state === 'half-open');
  expect(seen).toEqual(['open', 'half-open', 'open', 'half-open']);
});

it('reset closes it and forgets failures', () => {
  const { b } = breaker();
  for (let i = 0; i < 3; i++) b.failure();
  b.reset();
  expect(b.state).toBe('closed');
  expect(b.consecutiveFailures).toBe(0);
});
