import { request } from 'undici';
import type { AlertsConfig } from '../config/schema.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { HealthChange, HealthState } from './types.ts';

type Webhook = AlertsConfig['webhooks'][number];

export interface AlertNotifierOptions {
  config: AlertsConfig;
  logger: Logger;
  /** First retry delay; doubles per attempt (default 1000 ms). */
  retryBaseMs?: number;
  /** Per attempt (default 10 s). */
  attemptTimeoutMs?: number;
}

/** What a `json` webhook receives. */
export interface AlertPayload {
  type: 'omnihub.health';
  server: string;
  state: HealthState;
  /** The state of the previous alert for this server (changes inside a cooldown are coalesced). */
  previous: HealthState;
  reason: string | null;
  /** ISO 8601: when the state changed. */
  at: string;
}

interface ServerAlerts {
  /** The state the last alert announced (the baseline before any alert: healthy). */
  alerted: HealthState;
  lastSentAt: number;
  latest: HealthChange | undefined;
  timer: NodeJS.Timeout | undefined;
}

const EMOJI: Record<HealthState, string> = {
  healthy: ':large_green_circle:',
  degraded: ':large_yellow_circle:',
  down: ':red_circle:',
};

/**
 * Turns server health changes into webhook calls. One alert per real change: a change waits
 * `settle_ms` and is announced with the state current then (healthy → degraded → down in quick
 * succession is one `down` alert; a flap back to the announced state is none), and after an alert the
 * same server's later changes wait for the cooldown and are coalesced the same way. Delivery runs in
 * the background with retries and backoff; nothing waits for it.
 */
export class AlertNotifier {
  private readonly servers = new Map<string, ServerAlerts>();
  private readonly deliveries = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly retryBaseMs: number;
  private readonly attemptTimeoutMs: number;

  constructor(private readonly opts: AlertNotifierOptions) {
    this.retryBaseMs = opts.retryBaseMs ?? 1000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 10_000;
  }

  /** Feed it the monitor's changes: `monitor.onChange((c) => notifier.handle(c))`. */
  handle(change: HealthChange): void {
    if (change.kind !== 'state' || change.replica !== null || change.to === null) return;
    if (this.abort.signal.aborted) return;
    let s = this.servers.get(change.server);
    if (s === undefined) {
      // Nothing announced yet: a server that starts healthy is no news; one that starts down is.
      s = { alerted: change.from ?? 'healthy', lastSentAt: 0, latest: undefined, timer: undefined };
      this.servers.set(change.server, s);
    }
    s.latest = change;
    if (change.to === s.alerted) {
      // Back where the last alert left it before anything was sent: a flap, not news.
      if (s.timer !== undefined) clearTimeout(s.timer);
      s.timer = undefined;
      return;
    }
    if (s.timer !== undefined) return; // already waiting: the timer sends whatever is current then
    const { settle_ms, cooldown_ms } = this.opts.config;
    const wait = Math.max(settle_ms ?? 0, s.lastSentAt + cooldown_ms - Date.now());
    if (wait <= 0) {
      this.send(s, change);
      return;
    }
    const entry = s;
    s.timer = setTimeout(() => {
      entry.timer = undefined;
      const latest = entry.latest;
      if (latest !== undefined && latest.to !== null && latest.to !== entry.alerted) this.send(entry, latest);
    }, wait);
    s.timer.unref();
  }

  /** Cancels pending alerts and waits (bounded) for deliveries under way. */
  async close(timeoutMs = 5_000): Promise<void> {
    for (const s of this.servers.values()) if (s.timer !== undefined) clearTimeout(s.timer);
    const pending = Promise.all(this.deliveries);
    const timer = setTimeout(() => this.abort.abort(), timeoutMs);
    await pending;
    clearTimeout(timer);
    this.abort.abort();
  }

  private send(s: ServerAlerts, change: HealthChange): void {
    const state = change.to as HealthState;
    const payload: AlertPayload = {
      type: 'omnihub.health',
      server: change.server,
      state,
      previous: s.alerted,
      reason: change.reason,
      at: change.at,
    };
    s.alerted = state;
    s.lastSentAt = Date.now();
    for (const hook of this.opts.config.webhooks) {
      if (hook.events !== undefined && !hook.events.includes(state)) continue;
      const delivery = this.deliver(hook, payload).finally(() => this.deliveries.delete(delivery));
      this.deliveries.add(delivery);
    }
  }

  private async deliver(hook: Webhook, payload: AlertPayload): Promise<void> {
    const body = JSON.stringify(hook.format === 'slack' ? { text: slackText(payload) } : payload);
    const headers = { ...hook.headers, 'content-type': 'application/json' };
    // Webhook URLs often carry a secret in the path (Slack): log the origin only.
    const target = new URL(hook.url).origin;
    const attempts = this.opts.config.retries + 1;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (this.abort.signal.aborted) return;
      let problem: string;
      try {
        const res = await request(hook.url, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.attemptTimeoutMs)]),
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) return;
        problem = `HTTP ${res.statusCode}`;
        // A client error other than throttling will not go away by retrying.
        if (res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 429) attempt = attempts;
      } catch (err) {
        problem = (err as Error).message;
      }
      if (attempt >= attempts) {
        this.opts.logger.warn(
          { webhook: target, server: payload.server, state: payload.state, problem },
          'health alert not delivered',
        );
        return;
      }
      await sleep(this.retryBaseMs * 2 ** (attempt - 1), this.abort.signal);
    }
  }
}

export function slackText(p: AlertPayload): string {
  const reason = p.reason ? `: ${p.reason}` : '';
  return `${EMOJI[p.state]} omnihub: server *${p.server}* is ${p.state.toUpperCase()} (was ${p.previous})${reason}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
