import { Pool } from 'undici';
import type { JsonRpcMessage } from '../mcp/jsonrpc.ts';
import { HubError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import { parseMessages, readSse, type StreamCursor } from './sse-reader.ts';
import { isConnectError, NotSentError, type Transport } from './transport.ts';

export interface SseOptions {
  /** Server name, for logs. */
  name: string;
  /** The SSE URL (GET). */
  url: string;
  headers: Record<string, string>;
  logger: Logger;
  /** How long to wait for the `endpoint` event. */
  endpointTimeoutMs?: number;
  connections?: number;
}

type Body = AsyncIterable<Uint8Array> & { dump(): Promise<void>; text(): Promise<string> };

/**
 * Legacy HTTP+SSE transport (protocol 2024-11-05): one long GET stream carries everything the server
 * sends; the first event (`endpoint`) names the URL to POST our messages to.
 */
export class SseTransport implements Transport {
  readonly associatesRequests = false;
  readonly abortable = false;
  onmessage?: Transport['onmessage'];
  onclose?: Transport['onclose'];

  private readonly pool: Pool;
  private readonly sseUrl: URL;
  private readonly postHeaders: Record<string, string>;
  private endpointPath: string | undefined;
  private readonly streamAbort = new AbortController();
  private closed = false;
  private down = false;

  constructor(private readonly opts: SseOptions) {
    this.sseUrl = new URL(opts.url);
    this.pool = new Pool(this.sseUrl.origin, {
      connections: opts.connections ?? 64,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.postHeaders = { ...opts.headers, 'content-type': 'application/json' };
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new HubError('UPSTREAM_UNAVAILABLE', `upstream ${this.opts.name} sent no endpoint event`));
        this.streamAbort.abort();
      }, this.opts.endpointTimeoutMs ?? 15_000);
      const settle = (err?: Error) => {
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      this.run(settle).then(
        () => this.lost(new Error('upstream closed the SSE stream')),
        (err: unknown) => {
          const error = isConnectError(err)
            ? new NotSentError(`cannot reach upstream ${this.opts.name}`, err)
            : err instanceof Error
              ? err
              : new Error(String(err));
          settle(error);
          this.lost(error);
        },
      );
    });
  }

  async send(message: JsonRpcMessage): Promise<void> {
    if (this.closed || this.down || this.endpointPath === undefined) {
      throw new NotSentError('upstream transport is not connected');
    }
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({
        path: this.endpointPath,
        method: 'POST',
        headers: this.postHeaders,
        body: JSON.stringify(message),
      });
    } catch (err) {
      if (isConnectError(err)) throw new NotSentError(`cannot reach upstream ${this.opts.name}`, err);
      throw err;
    }
    await (res.body as unknown as Body).dump();
    if (res.statusCode >= 300) {
      throw new HubError('UPSTREAM_ERROR', `upstream ${this.opts.name} answered HTTP ${res.statusCode}`);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.streamAbort.abort();
    await this.pool.destroy().catch(() => {});
  }

  private async run(settle: (err?: Error) => void): Promise<void> {
    const res = await this.pool.request({
      path: this.sseUrl.pathname + this.sseUrl.search,
      method: 'GET',
      headers: { ...this.opts.headers, accept: 'text/event-stream' },
      signal: this.streamAbort.signal,
    });
    const body = res.body as unknown as Body;
    if (res.statusCode !== 200) {
      await body.dump();
      throw new HubError(
        'UPSTREAM_UNAVAILABLE',
        `upstream ${this.opts.name} answered HTTP ${res.statusCode}`,
      );
    }
    const cursor: StreamCursor = { lastEventId: undefined, retryMs: undefined };
    await readSse(body, cursor, (event) => {
      if (event.event === 'endpoint') {
        const endpoint = new URL(event.data.trim(), this.sseUrl);
        // The endpoint comes from the upstream: never let it point our messages (and headers) elsewhere.
        if (endpoint.origin !== this.sseUrl.origin) {
          const err = new HubError('UPSTREAM_ERROR', `upstream ${this.opts.name} named a foreign endpoint`);
          settle(err);
          this.lost(err);
          return;
        }
        this.endpointPath = endpoint.pathname + endpoint.search;
        settle();
        return;
      }
      if (event.event !== undefined && event.event !== 'message') return;
      for (const m of parseMessages(event.data)) this.onmessage?.(m);
    });
  }

  private lost(error: Error): void {
    if (this.closed || this.down) return;
    this.down = true;
    this.streamAbort.abort();
    this.onclose?.(error);
  }
}
