import type { Logger } from '../telemetry/logger.ts';
import type { CircuitBreaker } from './breaker.ts';
import { type ConnectionOptions, JsonRpcConnection } from './connection.ts';
import type { Transport } from './transport.ts';
import type { UpstreamState } from './types.ts';

export interface BackoffOptions {
  /** First restart delay. */
  baseMs: number;
  /** Delays double up to this. */
  maxMs: number;
  /** A connection that stayed ready this long restarts from baseMs again. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, maxMs: 30_000, resetAfterMs: 60_000 };

export interface ReplicaOptions {
  name: string;
  index: number;
  /** `name#n` (n from 1). */
  id: string;
  /** Undefined when the server's breaker is disabled. */
  createBreaker: ((replica: Replica) => CircuitBreaker) | undefined;
  logger: Logger;
  createTransport: () => Transport;
  connection: Omit<ConnectionOptions, 'onDown' | 'name' | 'logger'>;
  backoff: BackoffOptions;
  onStateChange: (replica: Replica) => void;
}

function noop(): void {}

/**
 * One supervised replica: a connection that is rebuilt (new process / new session) with exponential
 * backoff whenever it fails, until closed.
 */
export class Replica {
  readonly id: string;
  readonly breaker: CircuitBreaker | undefined;
  state: UpstreamState = 'connecting';
  lastError: Error | undefined;
  conn: JsonRpcConnection | undefined;
  /** No new calls; in-flight ones finish. */
  draining = false;
  /** Last failure seen on a call or a probe (passive and active signals). */
  lastCallError: string | undefined;
  lastErrorAt: number | undefined;
  latencyMs: number | undefined;
  lastProbeAt: number | undefined;
  /** Probes failed in a row. */
  probeFailures = 0;
  /** The last probe was slower than the degraded threshold. */
  slow = false;
  /** Calls that failed in a row (timeouts, lost connections): the passive signal. */
  callFailures = 0;
  private failures = 0;
  private readySince = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: ReplicaOptions) {
    this.id = opts.id;
    this.breaker = opts.createBreaker?.(this);
  }

  get inFlight(): number {
    return this.conn?.inFlight ?? 0;
  }

  /** First attempt; on failure the replica keeps retrying in the background and this rejects. */
  start(): Promise<void> {
    return this.connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.breaker?.dispose();
    const conn = this.conn;
    this.conn = undefined;
    this.setState('closed', undefined);
    await conn?.close();
  }

  private async connect(): Promise<void> {
    const { name, index, logger } = this.opts;
    const conn = new JsonRpcConnection(this.opts.createTransport(), {
      ...this.opts.connection,
      name: this.opts.name,
      logger,
      onDown: (err) => this.onDown(conn, err),
    });
    this.conn = conn;
    try {
      await conn.start();
    } catch (err) {
      if (this.closed || this.conn !== conn) throw err;
      const error = err instanceof Error ? err : new Error(String(err));
      logger.warn({ server: name, replica: index, err: error }, 'upstream failed to start');
      this.setState('down', error);
      this.scheduleRestart();
      throw err;
    }
    if (this.closed) {
      await conn.close();
      return;
    }
    this.readySince = Date.now();
    // A new process or session: the old one's failures say nothing about it.
    this.breaker?.reset();
    this.probeFailures = 0;
    this.callFailures = 0;
    logger.info(
      { server: name, replica: index, protocolVersion: conn.info?.protocolVersion },
      'upstream ready',
    );
    this.setState('ready', undefined);
  }

  private onDown(conn: JsonRpcConnection, error: Error): void {
    if (this.closed || this.conn !== conn) return;
    this.setState('down', error);
    conn.close().catch(noop);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const { baseMs, maxMs, resetAfterMs } = this.opts.backoff;
    if (this.readySince !== 0 && Date.now() - this.readySince >= resetAfterMs) this.failures = 0;
    this.readySince = 0;
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    this.opts.logger.info(
      { server: this.opts.name, replica: this.opts.index, delayMs: delay },
      'restarting upstream',
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) this.connect().catch(noop);
    }, delay);
    this.timer.unref();
  }

  private setState(state: UpstreamState, error: Error | undefined): void {
    this.lastError = error;
    if (error !== undefined) this.noteError(error.message);
    if (this.state === state) return;
    this.state = state;
    this.opts.onStateChange(this);
  }

  noteError(message: string): void {
    this.lastCallError = message;
    this.lastErrorAt = Date.now();
  }
}
