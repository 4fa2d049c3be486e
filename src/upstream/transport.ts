import type { JsonRpcId, JsonRpcMessage } from '../mcp/jsonrpc.ts';
import { HubError } from '../server/errors.ts';
import type { Cancellation } from './cancellation.ts';

/**
 * A low-level message pipe to one upstream process or endpoint. It knows nothing about MCP methods:
 * the connection on top does ids, initialize, progress and cancellation.
 */
export interface Transport {
  /**
   * True when the wire format ties server→client messages to the request that caused them
   * (streamable HTTP: the request's own SSE stream). stdio and legacy SSE cannot.
   */
  readonly associatesRequests: boolean;
  /** True when an in-flight request holds resources that an AbortSignal can free (an HTTP exchange). */
  readonly abortable: boolean;
  /** Receives every message; `related` is the id of the request whose stream carried it, if known. */
  onmessage?: (message: JsonRpcMessage, related?: JsonRpcId) => void;
  /** Called once when the pipe is gone for good (child exited, stream lost). */
  onclose?: (error?: Error) => void;
  start(): Promise<void>;
  /**
   * Sends one message. For a request on HTTP the promise settles when its exchange ends; rejections
   * never carry the request's answer (that comes through onmessage).
   */
  send(message: JsonRpcMessage, cancellation?: Cancellation): Promise<void>;
  /** The protocol version negotiated with this upstream (sent as MCP-Protocol-Version on HTTP). */
  setProtocolVersion?(version: string): void;
  /** The handshake is complete (notifications/initialized sent): e.g. open the standalone GET stream. */
  initialized?(): void;
  /** Forgets the upstream session (before re-initializing after the upstream said it expired). */
  resetSession?(): void;
  close(): Promise<void>;
}

/**
 * The message never left the hub (connection refused, process not running): safe to send elsewhere,
 * whatever the method.
 */
export class NotSentError extends HubError {
  readonly notSent = true;
  constructor(message: string, cause?: unknown) {
    super('UPSTREAM_UNAVAILABLE', message, { cause });
    this.name = 'NotSentError';
  }
}

/** The upstream answered 404 to a request that carried a session id: its session is gone. */
export class SessionExpiredError extends HubError {
  readonly sessionId: string;
  constructor(sessionId: string) {
    super('UPSTREAM_UNAVAILABLE', 'upstream session expired');
    this.name = 'SessionExpiredError';
    this.sessionId = sessionId;
  }
}

export function isNotSent(err: unknown): boolean {
  return err instanceof NotSentError;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);

/** Errors raised before a single byte of the request reached the upstream. */
export function isConnectError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && CONNECT_CODES.has(code);
}
