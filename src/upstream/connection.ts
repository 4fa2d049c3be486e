import { createRequire } from 'node:module';
import type {
  JsonRpcId,
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
  Params,
} from '../mcp/jsonrpc.ts';
import { HubError, JsonRpcCode, RpcError, toRpcError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import { Cancellation } from './cancellation.ts';
import { isConnectError, NotSentError, SessionExpiredError, type Transport } from './transport.ts';
import type {
  CallContext,
  NotificationHandler,
  UnrelatedRequestHandler,
  UpstreamConnection,
  UpstreamInfo,
  UpstreamState,
} from './types.ts';

/** Versions we accept from an upstream, newest first; we always offer the newest. */
export const KNOWN_PROTOCOL_VERSIONS: readonly string[] = [
  '2025-11-25',
  '2025-06-18',
  '2025-03-26',
  '2024-11-05',
];

/** What the hub can relay to downstream clients (spec 2025-11-25 §client features). */
export const HUB_CLIENT_CAPABILITIES = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
} as const;

const HUB_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string })
  .version;

/** Session-wide facts: never attributed to a request, the catalog needs them. */
const ALWAYS_UNRELATED = new Set([
  'notifications/tools/list_changed',
  'notifications/prompts/list_changed',
  'notifications/resources/list_changed',
  'notifications/resources/updated',
]);

export interface ConnectionOptions {
  /** Server name (logs, error messages). */
  name: string;
  logger: Logger;
  /** Default per-request timeout (the server's timeout_ms). */
  timeoutMs: number;
  /** May a request be sent again after the upstream lost its session (HTTP 404)? Default: no. */
  isRetrySafe?: (method: string, params: Params | undefined) => boolean;
  /** Notifications that belong to no in-flight request. */
  onNotification?: NotificationHandler;
  /** Server→client requests that belong to no in-flight request. */
  onUnrelatedRequest?: UnrelatedRequestHandler;
  /** The connection was ready and is now lost (not called for a failed start or for close()). */
  onDown?: (error: Error) => void;
}

type ProgressToken = string | number;

/** One request in flight: a class so every entry has the same shape (the hot path allocates one each). */
class Pending {
  timer: NodeJS.Timeout | undefined;
  /** Ends the HTTP exchange of this request (abortable transports). */
  abort: Cancellation | undefined;
  onAbort: (() => void) | undefined;
  generation = 0;
  retried = false;
  constructor(
    readonly id: number,
    readonly message: JsonRpcRequest,
    readonly ctx: CallContext | undefined,
    readonly originalToken: ProgressToken | undefined,
    readonly timeoutMs: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: Error) => void,
  ) {}
}

function onTimeout(conn: JsonRpcConnection, p: Pending): void {
  conn.cancelPending(p, 'UPSTREAM_TIMEOUT');
}

function noop(): void {}

/**
 * An initialized JSON-RPC session with one upstream over any transport, shared by every downstream
 * client: it assigns its own request ids, remaps progress tokens and routes what the upstream sends
 * back to the request that caused it.
 *
 * Attribution of server→client messages: on streamable HTTP the wire says which request a message
 * belongs to (it travels on that request's SSE stream). stdio and legacy SSE carry no such link, so a
 * request or notification is given to the single in-flight request that has hooks (onRequest /
 * onNotification) when there is exactly one; otherwise requests go to the unrelated-request handler
 * and notifications to the notification handler. Progress is always exact (remapped tokens).
 */
export class JsonRpcConnection implements UpstreamConnection {
  private _state: UpstreamState = 'connecting';
  private _info: UpstreamInfo | undefined;
  private lastId = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly hooked = new Set<Pending>();
  private readonly inbound = new Map<JsonRpcId, AbortController>();
  private generation = 0;
  private reinit: Promise<void> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly opts: ConnectionOptions,
  ) {}

  get state(): UpstreamState {
    return this._state;
  }
  get info(): UpstreamInfo | undefined {
    return this._info;
  }
  get inFlight(): number {
    return this.pending.size;
  }

  async start(): Promise<void> {
    this.transport.onmessage = (message, related) => this.dispatch(message, related);
    this.transport.onclose = (error) => this.fail(error ?? new Error('upstream closed the connection'));
    try {
      await this.transport.start();
      await this.handshake();
    } catch (err) {
      if (this._state !== 'closed') this._state = 'down';
      this.rejectAll(err);
      await this.transport.close().catch(noop);
      throw toHubError(err, `cannot connect to upstream ${this.opts.name}`);
    }
    if (this._state !== 'connecting')
      throw new HubError('UPSTREAM_UNAVAILABLE', 'upstream closed during start');
    this._state = 'ready';
  }

  request(method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown> {
    if (this._state !== 'ready') {
      return Promise.reject(new NotSentError(`upstream ${this.opts.name} is ${this._state}`));
    }
    return this.call(method, params, ctx, ctx?.timeoutMs ?? this.opts.timeoutMs, false);
  }

  notify(method: string, params?: Params): Promise<void> {
    if (this._state !== 'ready') {
      return Promise.reject(new NotSentError(`upstream ${this.opts.name} is ${this._state}`));
    }
    const message: JsonRpcNotification =
      params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params };
    return this.transport.send(message);
  }

  async close(): Promise<void> {
    if (this._state === 'closed') return;
    this._state = 'closed';
    this.rejectAll(new HubError('UPSTREAM_UNAVAILABLE', 'upstream connection closed'));
    await this.transport.close();
  }

  /** Timeout or downstream abort: tell the upstream (by its id) and give up on the answer. */
  cancelPending(p: Pending, code: 'CANCELLED' | 'UPSTREAM_TIMEOUT'): void {
    if (this.pending.get(p.id) !== p) return;
    this.settle(p);
    const reason = code === 'CANCELLED' ? 'cancelled by the client' : `timed out after ${p.timeoutMs} ms`;
    // initialize MUST NOT be cancelled (spec, cancellation); the transport is dropped instead.
    if (p.message.method !== 'initialize' && this._state === 'ready') {
      this.transport
        .send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: p.id, reason } })
        .catch(noop);
    }
    p.abort?.cancel();
    p.reject(
      new HubError(code, code === 'CANCELLED' ? 'request cancelled' : `upstream ${this.opts.name} ${reason}`),
    );
  }

  private call(
    method: string,
    params: Params | undefined,
    ctx: CallContext | undefined,
    timeoutMs: number,
    handshake: boolean,
  ): Promise<unknown> {
    const cancellation = ctx?.cancellation;
    if (cancellation?.cancelled) return Promise.reject(new HubError('CANCELLED', 'request cancelled'));
    const id = ++this.lastId;
    let sendParams = params;
    let originalToken: ProgressToken | undefined;
    const meta = params?._meta;
    if (typeof meta === 'object' && meta !== null) {
      const token = (meta as Record<string, unknown>).progressToken;
      if (typeof token === 'string' || typeof token === 'number') {
        // Downstream tokens collide across clients; our request id is unique on this connection.
        originalToken = token;
        sendParams = { ...params, _meta: { ...meta, progressToken: id } };
      }
    }
    const message: JsonRpcRequest =
      sendParams === undefined
        ? { jsonrpc: '2.0', id, method }
        : { jsonrpc: '2.0', id, method, params: sendParams };
    return new Promise((resolve, reject) => {
      const p = new Pending(id, message, ctx, originalToken, timeoutMs, resolve, reject);
      this.pending.set(id, p);
      if (ctx !== undefined && (ctx.onNotification !== undefined || ctx.onRequest !== undefined)) {
        this.hooked.add(p);
      }
      p.timer = setTimeout(onTimeout, timeoutMs, this, p);
      if (cancellation !== undefined) {
        p.onAbort = () => this.cancelPending(p, 'CANCELLED');
        cancellation.onCancel(p.onAbort);
      }
      this.transmit(p, handshake);
    });
  }

  private transmit(p: Pending, handshake: boolean): void {
    if (this.reinit !== undefined && !handshake) {
      // The upstream session is being re-established: send on the new one.
      this.reinit.then(() => this.transmit(p, false), noop);
      return;
    }
    if (this.pending.get(p.id) !== p) return;
    p.generation = this.generation;
    if (this.transport.abortable) p.abort = new Cancellation();
    this.transport.send(p.message, p.abort).then(undefined, (err: unknown) => this.onSendFailed(p, err));
  }

  private onSendFailed(p: Pending, err: unknown): void {
    if (this.pending.get(p.id) !== p) return;
    if (err instanceof SessionExpiredError && p.message.method !== 'initialize') {
      this.recoverSession(p);
      return;
    }
    this.settle(p);
    p.reject(toHubError(err, `upstream ${this.opts.name} request failed`));
  }

  /** The upstream forgot our session: initialize again (once for all requests) and resend if safe. */
  private recoverSession(p: Pending): void {
    const ready = p.generation !== this.generation ? Promise.resolve() : this.reinitialize();
    ready.then(
      () => {
        if (this.pending.get(p.id) !== p) return;
        const safe = this.opts.isRetrySafe?.(p.message.method, p.message.params) ?? false;
        if (p.retried || !safe) {
          this.settle(p);
          p.reject(
            new HubError('UPSTREAM_UNAVAILABLE', 'upstream session expired; the request was not retried'),
          );
          return;
        }
        p.retried = true;
        this.transmit(p, false);
      },
      (err: unknown) => {
        if (this.pending.get(p.id) !== p) return;
        this.settle(p);
        p.reject(toHubError(err, 'upstream session expired'));
      },
    );
  }

  private reinitialize(): Promise<void> {
    if (this.reinit !== undefined) return this.reinit;
    this.opts.logger.info({ server: this.opts.name }, 'upstream session expired; initializing again');
    this.transport.resetSession?.();
    const attempt = this.handshake().then(
      () => {
        this.generation++;
        this.reinit = undefined;
      },
      (err: unknown) => {
        this.reinit = undefined;
        this.fail(err instanceof Error ? err : new Error(String(err)));
        throw err;
      },
    );
    this.reinit = attempt;
    return attempt;
  }

  private async handshake(): Promise<void> {
    const result = await this.call(
      'initialize',
      {
        protocolVersion: KNOWN_PROTOCOL_VERSIONS[0],
        capabilities: HUB_CLIENT_CAPABILITIES,
        clientInfo: { name: 'omnihub', version: HUB_VERSION },
      },
      undefined,
      Math.min(this.opts.timeoutMs, 30_000),
      true,
    );
    this._info = parseInitializeResult(result);
    this.transport.setProtocolVersion?.(this._info.protocolVersion);
    await this.transport.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    this.transport.initialized?.();
  }

  private dispatch(message: JsonRpcMessage, related: JsonRpcId | undefined): void {
    if (typeof message !== 'object' || message === null) return;
    if ('method' in message && typeof message.method === 'string') {
      if ('id' in message && message.id !== undefined && message.id !== null) {
        this.onRequest(message as JsonRpcRequest, related);
      } else {
        this.onNotification(message, related);
      }
    } else if ('id' in message) {
      this.onResponse(message as JsonRpcResponse);
    }
  }

  private onResponse(message: JsonRpcResponse): void {
    const id = typeof message.id === 'number' ? message.id : Number(message.id);
    const p = this.pending.get(id);
    if (p === undefined) return; // late answer to a cancelled or timed-out request
    this.settle(p);
    if ('error' in message) {
      const e = message.error;
      const valid = typeof e === 'object' && e !== null && typeof e.code === 'number';
      p.reject(
        valid
          ? new RpcError(e.code, typeof e.message === 'string' ? e.message : 'upstream error', e.data)
          : new RpcError(JsonRpcCode.InternalError, 'malformed error from upstream'),
      );
    } else {
      p.resolve(message.result);
    }
  }

  private onNotification(message: JsonRpcNotification, related: JsonRpcId | undefined): void {
    const method = message.method;
    const params = message.params;
    if (method === 'notifications/progress') {
      const token = params?.progressToken;
      const p = this.pending.get(typeof token === 'number' ? token : Number(token));
      if (p?.originalToken !== undefined && p.ctx?.onNotification !== undefined) {
        p.ctx.onNotification({
          jsonrpc: '2.0',
          method,
          params: { ...params, progressToken: p.originalToken },
        });
      }
      return; // progress for an unknown token has nowhere to go
    }
    if (method === 'notifications/cancelled') {
      const requestId = params?.requestId;
      if (typeof requestId === 'string' || typeof requestId === 'number') {
        this.inbound.get(requestId)?.abort();
        this.inbound.delete(requestId);
      }
      return;
    }
    if (!ALWAYS_UNRELATED.has(method)) {
      const owner = this.ownerOf(related);
      if (owner?.ctx?.onNotification !== undefined) {
        owner.ctx.onNotification(message);
        return;
      }
    }
    this.opts.onNotification?.(message);
  }

  private onRequest(message: JsonRpcRequest, related: JsonRpcId | undefined): void {
    const { id, method, params } = message;
    if (method === 'ping') {
      this.reply(id, {});
      return;
    }
    const owner = this.ownerOf(related);
    const ac = new AbortController();
    this.inbound.set(id, ac);
    let answer: Promise<unknown>;
    try {
      const hook = owner?.ctx?.onRequest;
      if (hook !== undefined) answer = hook(method, params, ac.signal);
      else if (this.opts.onUnrelatedRequest !== undefined)
        answer = this.opts.onUnrelatedRequest(method, params);
      else answer = Promise.reject(new RpcError(JsonRpcCode.MethodNotFound, `Method not found: ${method}`));
    } catch (err) {
      answer = Promise.reject(err);
    }
    answer.then(
      (result) => {
        if (this.inbound.get(id) !== ac || ac.signal.aborted) return;
        this.inbound.delete(id);
        this.reply(id, result ?? {});
      },
      (err: unknown) => {
        if (this.inbound.get(id) !== ac || ac.signal.aborted) return;
        this.inbound.delete(id);
        if (!(err instanceof HubError || err instanceof RpcError)) {
          this.opts.logger.warn(
            { server: this.opts.name, method, err },
            'server→client request handler failed',
          );
        }
        this.send({ jsonrpc: '2.0', id, error: toRpcError(err) });
      },
    );
  }

  /** Which in-flight request a server→client message belongs to (see the class comment). */
  private ownerOf(related: JsonRpcId | undefined): Pending | undefined {
    if (related !== undefined)
      return this.pending.get(typeof related === 'number' ? related : Number(related));
    if (this.transport.associatesRequests || this.hooked.size !== 1) return undefined;
    for (const p of this.hooked) return p;
    return undefined;
  }

  private reply(id: JsonRpcId, result: unknown): void {
    this.send({ jsonrpc: '2.0', id, result });
  }

  private send(message: JsonRpcMessage): void {
    this.transport.send(message).catch((err: unknown) => {
      this.opts.logger.debug({ server: this.opts.name, err }, 'could not answer upstream');
    });
  }

  private settle(p: Pending): void {
    this.pending.delete(p.id);
    this.hooked.delete(p);
    if (p.timer !== undefined) clearTimeout(p.timer);
    if (p.onAbort !== undefined) p.ctx?.cancellation?.offCancel(p.onAbort);
  }

  private rejectAll(err: unknown): void {
    const error = toHubError(err, `upstream ${this.opts.name} connection lost`);
    for (const p of this.pending.values()) {
      this.settle(p);
      p.abort?.cancel();
      p.reject(error);
    }
    for (const ac of this.inbound.values()) ac.abort();
    this.inbound.clear();
  }

  /** The transport is gone: everything in flight fails, the owner decides about restarting. */
  private fail(error: Error): void {
    const wasReady = this._state === 'ready';
    if (this._state === 'closed' || this._state === 'down') return;
    this._state = 'down';
    this.opts.logger.warn({ server: this.opts.name, err: error }, 'upstream connection lost');
    this.rejectAll(
      new HubError('UPSTREAM_UNAVAILABLE', `upstream ${this.opts.name} connection lost`, { cause: error }),
    );
    this.transport.close().catch(noop);
    if (wasReady) this.opts.onDown?.(error);
  }
}

function toHubError(err: unknown, message: string): HubError | RpcError {
  if (err instanceof HubError || err instanceof RpcError) return err;
  if (isConnectError(err)) return new NotSentError(message, err);
  return new HubError('UPSTREAM_UNAVAILABLE', message, { cause: err });
}

function parseInitializeResult(result: unknown): UpstreamInfo {
  if (typeof result !== 'object' || result === null) {
    throw new HubError('UPSTREAM_ERROR', 'upstream sent an invalid initialize result');
  }
  const r = result as Record<string, unknown>;
  const version = r.protocolVersion;
  if (typeof version !== 'string' || !KNOWN_PROTOCOL_VERSIONS.includes(version)) {
    throw new HubError(
      'UPSTREAM_ERROR',
      `upstream chose an unsupported protocol version: ${String(version)}`,
    );
  }
  const serverInfo = r.serverInfo;
  const info: UpstreamInfo = {
    protocolVersion: version,
    capabilities:
      typeof r.capabilities === 'object' && r.capabilities !== null
        ? (r.capabilities as Record<string, unknown>)
        : {},
    serverInfo:
      typeof serverInfo === 'object' &&
      serverInfo !== null &&
      typeof (serverInfo as { name?: unknown }).name === 'string'
        ? (serverInfo as UpstreamInfo['serverInfo'])
        : { name: 'unknown', version: '0' },
  };
  if (typeof r.instructions === 'string') info.instructions = r.instructions;
  return info;
}
