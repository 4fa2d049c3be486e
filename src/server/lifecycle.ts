import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from '../telemetry/logger.ts';

/**
 * Graceful shutdown. On SIGTERM/SIGINT the hub drains: `/ready` answers 503 so load balancers stop
 * sending traffic, no new connection is accepted and new requests on open connections get 503 with
 * `Connection: close`, while requests already running finish (bounded by a timeout). Then the closers
 * run in order (HTTP and upstreams, audit flush, store) and the process exits 0.
 */

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Paths that keep answering while draining: liveness stays true until the process exits. */
const ALWAYS_SERVED = new Set(['/health']);

/** A long-lived event stream (MCP GET): not an in-flight request, closed with the sessions instead. */
function isEventStream(req: IncomingMessage): boolean {
  return req.method === 'GET' && (req.headers.accept ?? '').includes('text/event-stream');
}

/** The answer to a request that arrives while draining, in the protocol its path speaks. */
function refuse(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const body =
    path === '/ready'
      ? { status: 'draining' }
      : path === '/mcp' || path.startsWith('/mcp/')
        ? { jsonrpc: '2.0', id: null, error: { code: -32000, message: 'The hub is shutting down; retry' } }
        : { error: { code: 'SHUTTING_DOWN', message: 'The hub is shutting down; retry' } };
  res.writeHead(503, { 'content-type': 'application/json', connection: 'close', 'retry-after': '1' });
  res.end(JSON.stringify(body));
}

/**
 * Sits in front of the HTTP server's request handler: counts requests in flight and, once draining,
 * refuses new ones. Works below the framework, so it also covers `/ready` without a route change.
 */
export class DrainGate {
  /** `/ready` answers 503 (load balancers stop sending) while everything else is still served. */
  private notReady = false;
  /** New requests are refused; in-flight ones finish. */
  private draining = false;
  private active = 0;
  private readonly waiters = new Set<() => void>();

  constructor(server: Server) {
    const listeners = server.listeners('request') as RequestListener[];
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (this.notReady) {
        const path = (req.url ?? '/').split('?')[0] ?? '/';
        if (this.draining ? !ALWAYS_SERVED.has(path) : path === '/ready') {
          refuse(req, res);
          return;
        }
      }
      if (!isEventStream(req)) {
        this.active++;
        res.once('close', () => this.finished());
      }
      for (const listener of listeners) listener.call(server, req, res);
    });
  }

  /** True from the first signal on: what `/ready` reports. */
  get isDraining(): boolean {
    return this.notReady;
  }

  /** Requests being answered now (event streams excluded). */
  get inFlight(): number {
    return this.active;
  }

  /** Step 1: report not ready, keep serving. */
  markNotReady(): void {
    this.notReady = true;
  }

  /** Step 2: refuse new requests (in-flight ones go on). */
  start(): void {
    this.notReady = true;
    this.draining = true;
  }

  /** Resolves when no request is in flight, or after `timeoutMs` (false then). */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (drained: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(onIdle);
        resolve(drained);
      };
      const onIdle = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(onIdle);
    });
  }

  private finished(): void {
    this.active--;
    if (this.active === 0) for (const waiter of [...this.waiters]) waiter();
  }
}

/** One thing to close after the drain, in order: HTTP + upstreams, the audit flush, the store. */
export interface Closer {
  name: string;
  close(): Promise<void> | void;
}

export interface ShutdownOptions {
  server: Server;
  gate: DrainGate;
  logger: Logger;
  /** Longest wait for in-flight requests (OMNIHUB_SHUTDOWN_TIMEOUT_MS). */
  timeoutMs: number;
  /**
   * How long to keep serving with `/ready` at 503 before refusing new requests, so load balancers
   * notice first (OMNIHUB_SHUTDOWN_DELAY_MS, default 0).
   */
  delayMs?: number;
  closers: Closer[];
  /** Told when draining starts (the `omnihub_draining` gauge). */
  onDraining?: () => void;
}

export interface ShutdownReport {
  /** Every in-flight request finished before the timeout. */
  drained: boolean;
  /** Requests still running when the timeout hit (cut off by the closers). */
  abandoned: number;
  /** Closers that threw. */
  failed: string[];
}

/** Drains, then runs the closers in order; never throws. */
export async function gracefulShutdown(options: ShutdownOptions): Promise<ShutdownReport> {
  const { server, gate, logger } = options;
  gate.markNotReady();
  options.onDraining?.();
  if (options.delayMs) {
    logger.info({ delayMs: options.delayMs }, 'not ready: waiting for load balancers to notice');
    await new Promise((resolve) => setTimeout(resolve, options.delayMs));
  }
  gate.start();
  logger.info(
    { inFlight: gate.inFlight, timeoutMs: options.timeoutMs },
    'draining: finishing in-flight requests',
  );
  // No new connections from here; idle keep-alive connections are closed now and as they become idle.
  server.close();
  server.closeIdleConnections();
  const sweeper = setInterval(() => server.closeIdleConnections(), 100);
  const drained = await gate.idle(options.timeoutMs);
  clearInterval(sweeper);
  const abandoned = gate.inFlight;
  if (drained) logger.info('drained: no request in flight');
  else logger.warn({ abandoned }, 'shutdown timeout reached with requests still in flight');
  const failed: string[] = [];
  for (const closer of options.closers) {
    try {
      await closer.close();
    } catch (err) {
      failed.push(closer.name);
      logger.error({ err, step: closer.name }, 'shutdown step failed');
    }
  }
  server.closeAllConnections();
  return { drained, abandoned, failed };
}

/** What `installSignalHandlers` needs of a running hub. */
export interface Stoppable {
  app: { server: Server };
  stop(): Promise<void>;
}

export interface SignalOptions {
  timeoutMs: number;
  delayMs?: number;
  /** Run after the drain, in order; default: the hub's own `stop()` (HTTP, sessions, upstreams, store). */
  closers?: Closer[];
  onDraining?: () => void;
  /** Extra time after the drain timeout for the closers before the process is forced out. */
  closeGraceMs?: number;
  exit?: (code: number) => void;
  /** The gate, when the caller created it earlier (to count requests from the start). */
  gate?: DrainGate;
}

/**
 * SIGTERM/SIGINT: drain and close, then exit 0 (1 if a closer failed). A second signal, or the closers
 * overrunning their grace period, exits 1 at once. Returns the gate (for `/ready` and tests) and an
 * uninstall function.
 */
export function installSignalHandlers(
  hub: Stoppable,
  logger: Logger,
  options: SignalOptions,
): { gate: DrainGate; uninstall: () => void } {
  const gate = options.gate ?? new DrainGate(hub.app.server);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let shuttingDown = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      logger.warn({ signal }, 'second signal: exiting now');
      exit(1);
      return;
    }
    shuttingDown = true;
    logger.info({ signal }, 'shutting down gracefully');
    const deadline = setTimeout(
      () => {
        logger.error('shutdown did not finish in time: exiting');
        exit(1);
      },
      options.timeoutMs + (options.closeGraceMs ?? 15_000),
    );
    deadline.unref();
    void gracefulShutdown({
      server: hub.app.server,
      gate,
      logger,
      timeoutMs: options.timeoutMs,
      delayMs: options.delayMs,
      closers: options.closers ?? [{ name: 'hub', close: () => hub.stop() }],
      onDraining: options.onDraining,
    }).then((report) => {
      clearTimeout(deadline);
      logger.info({ ...report }, 'stopped');
      exit(report.failed.length > 0 ? 1 : 0);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    gate,
    uninstall: () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}
