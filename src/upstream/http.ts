import { Pool } from 'undici';
import type { JsonRpcId, JsonRpcMessage } from '../mcp/jsonrpc.ts';
import { HubError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { Cancellation } from './cancellation.ts';
import { parseMessages, readSse, type StreamCursor, sleep } from './sse-reader.ts';
import { isConnectError, NotSentError, SessionExpiredError, type Transport } from './transport.ts';

export interface HttpOptions {
  /** Server name, for logs. */
  name: string;
  url: string;
  /** Static headers (the upstream's own credentials); sent on every request. */
  headers: Record<string, string>;
  logger: Logger;
  /** Keep-alive sockets to the origin. */
  connections?: number;
}

type Body = AsyncIterable<Uint8Array> & { dump(): Promise<void>; text(): Promise<string> };

/** MCP-Session-Id must be visible ASCII (spec, streamable HTTP §session management). */
const SESSION_ID = /^[\x21-\x7e]+$/;
const MAX_RESUMES = 5;
const MAX_ERROR_BODY = 64 * 1024;

/**
 * Streamable HTTP client (spec 2025-03-26+): every message is a POST; a request's answer comes back as
 * JSON or as an SSE stream that also carries the messages belonging to that request. Messages that
 * belong to no request arrive on the standalone GET stream.
 */
export class HttpTransport implements Transport {
  readonly associatesRequests = true;
  readonly abortable = true;
  onmessage?: Transport['onmessage'];
  onclose?: Transport['onclose'];

  private readonly pool: Pool;
  private readonly path: string;
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  /** Rebuilt only when the session changes: the hot path reuses one object. */
  private postHeaders: Record<string, string>;
  private streamAbort: AbortController | undefined;
  private closed = false;
  /** The upstream stopped listening: no more sends; the owner reconnects with a new transport. */
  private down = false;

  constructor(private readonly opts: HttpOptions) {
    const url = new URL(opts.url);
    this.path = url.pathname + url.search;
    this.pool = new Pool(url.origin, {
      connections: opts.connections ?? 64,
      pipelining: 1,
      // Our own per-request timeouts apply; SSE streams may be silent for a long time.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.postHeaders = this.buildHeaders('POST');
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
    this.postHeaders = this.buildHeaders('POST');
  }

  initialized(): void {
    this.openStandaloneStream();
  }

  resetSession(): void {
    this.streamAbort?.abort();
    this.streamAbort = undefined;
    this.sessionId = undefined;
    this.protocolVersion = undefined;
    this.postHeaders = this.buildHeaders('POST');
  }

  async send(message: JsonRpcMessage, cancellation?: Cancellation): Promise<void> {
    if (this.closed || this.down) throw new NotSentError('upstream transport is closed');
    const requestId = 'method' in message && 'id' in message ? message.id : undefined;
    const session = this.sessionId;
    let res: Awaited<ReturnType<Pool['request']>>;
    try {
      res = await this.pool.request({
        path: this.path,
        method: 'POST',
        headers: this.postHeaders,
        body: JSON.stringify(message),
        // undici takes the cancellation as its signal (an EventEmitter-style one): no AbortSignal per call.
        signal: cancellation,
      });
    } catch (err) {
      throw this.requestFailed(err);
    }
    const status = res.statusCode;
    const body = res.body as unknown as Body;
    if (requestId !== undefined && 'method' in message && message.method === 'initialize') {
      this.takeSession(res.headers['mcp-session-id']);
    }
    if (status === 404 && session !== undefined) {
      await body.dump();
      throw new SessionExpiredError(session);
    }
    if (status >= 300) return this.onHttpError(status, body, requestId);
    if (requestId === undefined || status === 202 || status === 204) {
      await body.dump();
      return;
    }
    const type = header(res.headers['content-type']);
    if (type.startsWith('text/event-stream')) {
      return this.readRequestStream(body, requestId, cancellation?.signal);
    }
    for (const m of parseMessages(await body.text())) this.onmessage?.(m, requestId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.streamAbort?.abort();
    if (this.sessionId !== undefined) {
      // Tell the upstream we are done (it MAY answer 405); never wait long for it.
      try {
        const res = await this.pool.request({
          path: this.path,
          method: 'DELETE',
          headers: this.buildHeaders('DELETE'),
          signal: AbortSignal.timeout(2000),
        });
        await res.body.dump();
      } catch {
        // the upstream is gone or slow: nothing to clean up there
      }
    }
    const grace = sleep(1000);
    await Promise.race([this.pool.close(), grace]);
    await this.pool.destroy().catch(() => {});
  }

  private buildHeaders(method: 'POST' | 'GET' | 'DELETE'): Record<string, string> {
    const h: Record<string, string> = { ...this.opts.headers };
    if (method === 'POST') {
      h.accept = 'application/json, text/event-stream';
      h['content-type'] = 'application/json';
    } else if (method === 'GET') {
      h.accept = 'text/event-stream';
    }
    if (this.sessionId !== undefined) h['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion !== undefined) h['mcp-protocol-version'] = this.protocolVersion;
    return h;
  }

  private takeSession(value: string | string[] | undefined): void {
    const id = header(value);
    if (id === '') return;
    if (!SESSION_ID.test(id)) {
      this.opts.logger.warn({ server: this.opts.name }, 'upstream sent an invalid session id; ignored');
      return;
    }
    this.sessionId = id;
    this.postHeaders = this.buildHeaders('POST');
  }

  private requestFailed(err: unknown): Error {
    if (isConnectError(err)) {
      // Nobody listens there any more: the session is gone with the process; let the owner reconnect.
      // After this request's own rejection, so it is reported as not sent (and may fail over).
      if ((err as { code?: string }).code === 'ECONNREFUSED') setImmediate(() => this.lost(err as Error));
      return new NotSentError(`cannot reach upstream ${this.opts.name}`, err);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private lost(error: Error): void {
    if (this.closed || this.down) return;
    this.down = true;
    this.streamAbort?.abort();
    this.onclose?.(error);
  }

  /** A JSON-RPC error in an error response is the upstream's answer; anything else is a transport error. */
  private async onHttpError(status: number, body: Body, requestId: JsonRpcId | undefined): Promise<void> {
    const text = await body.text().catch(() => '');
    if (requestId !== undefined && text.length <= MAX_ERROR_BODY) {
      const [m] = parseMessages(text);
      if (m !== undefined && 'error' in m && typeof m.error === 'object' && m.error !== null) {
        this.onmessage?.({ jsonrpc: '2.0', id: requestId, error: m.error }, requestId);
        return;
      }
    }
    throw new HubError('UPSTREAM_ERROR', `upstream ${this.opts.name} answered HTTP ${status}`);
  }

  /**
   * A request's SSE stream: everything on it belongs to that request; the response ends it. If the
   * server closes it early (2025-11-25 polling) we resume with GET + Last-Event-ID after `retry`.
   */
  private async readRequestStream(first: Body, requestId: JsonRpcId, signal?: AbortSignal): Promise<void> {
    const cursor: StreamCursor = { lastEventId: undefined, retryMs: undefined };
    const state = { answered: false };
    const onEvent = this.eventHandler(requestId, state);
    await readSse(first, cursor, onEvent);
    for (let resumes = 0; !state.answered; resumes++) {
      if (signal?.aborted || this.closed) return;
      if (cursor.lastEventId === undefined || resumes >= MAX_RESUMES) {
        throw new HubError(
          'UPSTREAM_UNAVAILABLE',
          `upstream ${this.opts.name} ended the stream without an answer`,
        );
      }
      await sleep(cursor.retryMs ?? 1000, signal);
      const res = await this.pool.request({
        path: this.path,
        method: 'GET',
        headers: { ...this.buildHeaders('GET'), 'last-event-id': cursor.lastEventId },
        signal,
      });
      const body = res.body as unknown as Body;
      if (res.statusCode !== 200) {
        await body.dump();
        throw new HubError('UPSTREAM_UNAVAILABLE', `upstream ${this.opts.name} refused to resume the stream`);
      }
      await readSse(body, cursor, onEvent);
    }
  }

  private eventHandler(related: JsonRpcId | undefined, state: { answered: boolean }) {
    return (event: { event?: string | undefined; data: string }): void => {
      if ((event.event !== undefined && event.event !== 'message') || event.data === '') return; // priming
      for (const m of parseMessages(event.data)) {
        if (related !== undefined && 'id' in m && !('method' in m) && Number(m.id) === Number(related)) {
          state.answered = true;
        }
        this.onmessage?.(m, related);
      }
    };
  }

  /** The standalone GET stream: unrelated notifications and requests. 405 means the server has none. */
  private openStandaloneStream(): void {
    this.streamAbort?.abort();
    const ac = new AbortController();
    this.streamAbort = ac;
    this.runStandaloneStream(ac.signal).catch((err: unknown) => {
      this.opts.logger.debug({ server: this.opts.name, err }, 'standalone stream stopped');
    });
  }

  private async runStandaloneStream(signal: AbortSignal): Promise<void> {
    const cursor: StreamCursor = { lastEventId: undefined, retryMs: undefined };
    const onEvent = this.eventHandler(undefined, { answered: false });
    let failures = 0;
    while (!signal.aborted && !this.closed && !this.down) {
      try {
        const headers = this.buildHeaders('GET');
        if (cursor.lastEventId !== undefined) headers['last-event-id'] = cursor.lastEventId;
        const res = await this.pool.request({ path: this.path, method: 'GET', headers, signal });
        const body = res.body as unknown as Body;
        if (res.statusCode === 405) {
          await body.dump();
          return;
        }
        if (res.statusCode === 200 && header(res.headers['content-type']).startsWith('text/event-stream')) {
          failures = 0;
          await readSse(body, cursor, onEvent);
        } else {
          await body.dump();
          // 404: the session is gone; the next request notices and re-initializes, which reopens this.
          if (res.statusCode === 404) return;
          failures++;
        }
      } catch (err) {
        if (signal.aborted || this.closed) return;
        if (isConnectError(err) && (err as { code?: string }).code === 'ECONNREFUSED') {
          this.lost(err as Error);
          return;
        }
        failures++;
      }
      // Honour the server's retry: when it gave one, else back off up to 30 s.
      await sleep(cursor.retryMs ?? Math.min(30_000, 500 * 2 ** Math.min(failures, 6)), signal);
    }
  }
}

function header(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? (value[0] ?? '') : value;
}
