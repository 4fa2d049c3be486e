export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before it lets trial calls through. */
  openMs: number;
  /** Trial calls allowed at once while half-open. */
  halfOpenMaxCalls: number;
  /** Called on every state change (rare: never per call). */
  onTransition: (state: BreakerState) => void;
}

/**
 * A circuit breaker for one replica. Closed: every call passes and consecutive failures are counted.
 * Open: no call passes until `openMs` has elapsed, then half-open. Half-open: at most
 * `halfOpenMaxCalls` trial calls at once; one success closes it, one failure opens it again.
 *
 * The hot path costs a few field reads and writes per call: no allocation, no clock read while closed.
 */
export class CircuitBreaker {
  private _state: BreakerState = 'closed';
  private failures = 0;
  private trials = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Times the breaker opened since it was last closed by a success (for auto-disable and status). */
  trips = 0;

  constructor(private readonly opts: BreakerOptions) {}

  get state(): BreakerState {
    return this._state;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** May a call go through now? Non-mutating: pair a true answer with acquire(). */
  allows(): boolean {
    if (this._state === 'closed') return true;
    return this._state === 'half-open' && this.trials < this.opts.halfOpenMaxCalls;
  }

  /** The picked replica takes the call: while half-open it holds one of the trial slots. */
  acquire(): void {
    if (this._state === 'half-open') this.trials++;
  }

  /** The upstream answered (a result or a JSON-RPC error: either way it is alive). */
  success(): void {
    if (this._state === 'half-open') this.trials = Math.max(0, this.trials - 1);
    this.failures = 0;
    if (this._state !== 'closed') {
      this.trips = 0;
      this.transition('closed');
    }
  }

  /** Timeout, lost connection, transport error. */
  failure(): void {
    this.failures++;
    if (this._state === 'half-open') {
      this.trials = Math.max(0, this.trials - 1);
      this.open();
    } else if (this._state === 'closed' && this.failures >= this.opts.failureThreshold) {
      this.open();
    }
  }

  /** The call ended without a verdict (the client cancelled it): free its trial slot. */
  release(): void {
    if (this._state === 'half-open') this.trials = Math.max(0, this.trials - 1);
  }

  /** Forget everything (a new connection replaced the old one). */
  reset(): void {
    this.failures = 0;
    this.trials = 0;
    if (this._state !== 'closed') this.transition('closed');
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private open(): void {
    this.trips++;
    this.trials = 0;
    this.transition('open');
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this._state === 'open') this.transition('half-open');
    }, this.opts.openMs);
    this.timer.unref();
  }

  private transition(state: BreakerState): void {
    if (state === 'closed' && this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this._state = state;
    this.opts.onTransition(state);
  }
}
