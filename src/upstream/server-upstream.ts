import type { ServerConfig } from '../config/schema.ts';
import type { JsonRpcNotification, Params } from '../mcp/jsonrpc.ts';
import { HubError, JsonRpcCode, RpcError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import { HttpTransport } from './http.ts';
import { type BackoffOptions, DEFAULT_BACKOFF, Replica } from './replica.ts';
import { type RetryPolicy, retryPolicy } from './retry-policy.ts';
import { SseTransport } from './sse.ts';
import { StdioTransport } from './stdio.ts';
import { isNotSent, type Transport } from './transport.ts';
import type {
  CallContext,
  NotificationHandler,
  ServerUpstream,
  UnrelatedRequestHandler,
  UpstreamInfo,
  UpstreamState,
} from './types.ts';

export interface ServerUpstreamOptions {
  backoff?: Partial<BackoffOptions>;
  /** list_changed notifications from all replicas within this window are delivered once. */
  listChangedWindowMs?: number;
}

/** Builds one transport per replica: stdio copies of the command, or one per URL. */
export function transportFactories(name: string, config: ServerConfig, logger: Logger): (() => Transport)[] {
  if (config.transport === 'stdio') {
    const { command, args, env, cwd } = config;
    return Array.from(
      { length: config.replicas },
      () => () => new StdioTransport({ name, command, args, env, cwd, logger }),
    );
  }
  const urls = config.urls ?? (config.url !== undefined ? [config.url] : []);
  const headers = config.headers;
  return urls.map((url) =>
    config.transport === 'http'
      ? () => new HttpTransport({ name, url, headers, logger })
      : () => new SseTransport({ name, url, headers, logger }),
  );
}

/**
 * A configured server: its replicas behind one face. Requests go to the ready replica with the fewest
 * requests in flight; a request that never left the hub fails over to another replica, and one that
 * may have arrived is sent again only when it is safe (retry-policy.ts).
 */
export class ServerUpstreamImpl implements ServerUpstream {
  readonly name: string;
  private readonly replicas: Replica[];
  private readonly retrySafe: RetryPolicy;
  private readonly notificationHandlers = new Set<NotificationHandler>();
  private readonly stateHandlers = new Set<(state: UpstreamState, error?: Error) => void>();
  private unrelated: UnrelatedRequestHandler | undefined;
  private readonly listChangedTimers = new Map<string, NodeJS.Timeout>();
  private readonly listChangedWindowMs: number;
  private _state: UpstreamState = 'connecting';
  private lastInfo: UpstreamInfo | undefined;

  constructor(
    name: string,
    config: ServerConfig,
    private readonly logger: Logger,
    options: ServerUpstreamOptions = {},
  ) {
    this.name = name;
    this.retrySafe = retryPolicy(config.idempotent_tools);
    this.listChangedWindowMs = options.listChangedWindowMs ?? 200;
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const factories = transportFactories(name, config, logger);
    if (factories.length === 0) throw new HubError('CONFIG_INVALID', `server ${name} has no url`);
    this.replicas = factories.map(
      (createTransport, index) =>
        new Replica({
          name,
          index,
          logger,
          createTransport,
          backoff,
          connection: {
            timeoutMs: config.timeout_ms,
            isRetrySafe: this.retrySafe,
            onNotification: (n) => this.onUpstreamNotification(n),
            onUnrelatedRequest: (method, params) => this.onUnrelatedRequest(method, params),
          },
          onStateChange: () => this.updateState(),
        }),
    );
  }

  get state(): UpstreamState {
    return this._state;
  }

  get info(): UpstreamInfo | undefined {
    for (const r of this.replicas) {
      if (r.state === 'ready' && r.conn?.info !== undefined) return r.conn.info;
    }
    return this.lastInfo;
  }

  /** Resolves once any replica is ready; rejects when every replica's first attempt failed (they keep retrying). */
  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      let failed = 0;
      for (const r of this.replicas) {
        r.start().then(resolve, (err: unknown) => {
          if (++failed === this.replicas.length) reject(err);
        });
      }
    });
  }

  async request(method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown> {
    let tried: Replica[] | undefined;
    let lastError: unknown;
    for (;;) {
      const replica = this.pick(tried);
      if (replica === undefined) {
        throw lastError ?? new HubError('UPSTREAM_UNAVAILABLE', `server ${this.name} is unavailable`);
      }
      try {
        return await replica.conn!.request(method, params, ctx);
      } catch (err) {
        if (ctx?.signal?.aborted || !this.mayRetry(err, method, params)) throw err;
        tried = tried === undefined ? [replica] : [...tried, replica];
        lastError = err;
      }
    }
  }

  async notify(method: string, params?: Params): Promise<void> {
    const ready = this.replicas.filter((r) => r.state === 'ready' && r.conn !== undefined);
    if (ready.length === 0) throw new HubError('UPSTREAM_UNAVAILABLE', `server ${this.name} is unavailable`);
    // Every replica holds its own session: all of them need to hear it (e.g. roots/list_changed).
    await Promise.all(ready.map((r) => r.conn!.notify(method, params)));
  }

  async close(): Promise<void> {
    for (const timer of this.listChangedTimers.values()) clearTimeout(timer);
    this.listChangedTimers.clear();
    await Promise.all(this.replicas.map((r) => r.close()));
    this.updateState();
  }

  onNotification(handler: NotificationHandler): () => void {
    this.notificationHandlers.add(handler);
    return () => this.notificationHandlers.delete(handler);
  }

  onStateChange(handler: (state: UpstreamState, error?: Error) => void): () => void {
    this.stateHandlers.add(handler);
    return () => this.stateHandlers.delete(handler);
  }

  setUnrelatedRequestHandler(handler: UnrelatedRequestHandler): void {
    this.unrelated = handler;
  }

  /** Ready replica with the fewest requests in flight, skipping those already tried. */
  private pick(exclude: Replica[] | undefined): Replica | undefined {
    let best: Replica | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const r of this.replicas) {
      if (r.state !== 'ready' || r.conn === undefined || exclude?.includes(r)) continue;
      const load = r.conn.inFlight;
      if (load < bestLoad) {
        best = r;
        bestLoad = load;
      }
    }
    return best;
  }

  /** Not sent at all → any method may go elsewhere. Lost mid-flight → only if sending twice is safe. */
  private mayRetry(err: unknown, method: string, params: Params | undefined): boolean {
    if (isNotSent(err)) return true;
    return err instanceof HubError && err.code === 'UPSTREAM_UNAVAILABLE' && this.retrySafe(method, params);
  }

  private onUpstreamNotification(n: JsonRpcNotification): void {
    if (n.method.endsWith('/list_changed')) {
      // Replicas restart and change together: deliver one notice per burst, not one per replica.
      if (this.listChangedTimers.has(n.method)) return;
      const timer = setTimeout(() => {
        this.listChangedTimers.delete(n.method);
        this.emit(n);
      }, this.listChangedWindowMs);
      timer.unref();
      this.listChangedTimers.set(n.method, timer);
      return;
    }
    this.emit(n);
  }

  private emit(n: JsonRpcNotification): void {
    for (const handler of this.notificationHandlers) {
      try {
        handler(n);
      } catch (err) {
        this.logger.error({ server: this.name, err }, 'notification handler failed');
      }
    }
  }

  private onUnrelatedRequest(method: string, params: Params | undefined): Promise<unknown> {
    if (this.unrelated === undefined) {
      return Promise.reject(new RpcError(JsonRpcCode.MethodNotFound, `Method not found: ${method}`));
    }
    return this.unrelated(method, params);
  }

  private updateState(): void {
    let next: UpstreamState;
    let error: Error | undefined;
    const states = this.replicas.map((r) => r.state);
    if (states.includes('ready')) next = 'ready';
    else if (states.every((s) => s === 'closed')) next = 'closed';
    else if (states.includes('connecting')) next = 'connecting';
    else {
      next = 'down';
      error = this.replicas.find((r) => r.lastError !== undefined)?.lastError;
    }
    const info = this.info;
    if (info !== undefined) this.lastInfo = info;
    if (next === this._state) return;
    this._state = next;
    for (const handler of this.stateHandlers) {
      try {
        handler(next, error);
      } catch (err) {
        this.logger.error({ server: this.name, err }, 'state handler failed');
      }
    }
  }
}
