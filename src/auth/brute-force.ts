/**
 * Sign-in failure limits: a sliding window log per key (an account, a client address). In memory,
 * per instance (a hub behind a load balancer multiplies the budget by the number of instances).
 * Blocking depends only on the key, never on whether the account exists.
 */

export interface FailureRule {
  /** Failures allowed within the window; the next attempt is refused. */
  max: number;
  windowMs: number;
}

export class FailureLimiter {
  readonly #rule: FailureRule;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** Failure times per key, oldest first, at most `max` of them. */
  readonly #failures = new Map<string, number[]>();

  constructor(rule: FailureRule, options: { maxKeys?: number; now?: () => number } = {}) {
    this.#rule = rule;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** 0 when `key` may try now; otherwise how long (ms) until it may. */
  retryAfterMs(key: string): number {
    const times = this.#live(key);
    if (!times || times.length < this.#rule.max) return 0;
    return Math.max(1, (times[0] ?? 0) + this.#rule.windowMs - this.#now());
  }

  fail(key: string): void {
    const times = this.#live(key) ?? [];
    times.push(this.#now());
    while (times.length > this.#rule.max) times.shift();
    // Re-insert: Map order is then least recently failed first, which is what gets evicted.
    this.#failures.delete(key);
    this.#failures.set(key, times);
    if (this.#failures.size > this.#maxKeys) this.#evict();
  }

  reset(key: string): void {
    this.#failures.delete(key);
  }

  get size(): number {
    return this.#failures.size;
  }

  #live(key: string): number[] | undefined {
    const times = this.#failures.get(key);
    if (!times) return undefined;
    const horizon = this.#now() - this.#rule.windowMs;
    while (times.length > 0 && (times[0] ?? 0) <= horizon) times.shift();
    if (times.length === 0) {
      this.#failures.delete(key);
      return undefined;
    }
    return times;
  }

  #evict(): void {
    const horizon = this.#now() - this.#rule.windowMs;
    for (const [key, times] of this.#failures) {
      if ((times.at(-1) ?? 0) <= horizon) this.#failures.delete(key);
    }
    // Still too many (a flood of distinct keys): drop the least recently failed.
    for (const key of this.#failures.keys()) {
      if (this.#failures.size <= this.#maxKeys) break;
      this.#failures.delete(key);
    }
  }
}
