/**
 * The one registry of typed errors. Each error has a stable code, an HTTP status and a JSON-RPC code.
 * The message is safe to show a client; internal causes travel in `cause` and are only logged.
 */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined server errors (-32000..-32099). */
  ServerError: -32000,
  RequestTimeout: -32001,
  ResourceNotFound: -32002,
  ConnectionClosed: -32003,
  UpstreamUnavailable: -32004,
  AccessDenied: -32005,
  RateLimited: -32006,
  Unauthenticated: -32007,
} as const;

interface ErrorSpec {
  status: number;
  rpcCode: number;
}

const registry = {
  BAD_REQUEST: { status: 400, rpcCode: JsonRpcCode.InvalidRequest },
  PARSE_ERROR: { status: 400, rpcCode: JsonRpcCode.ParseError },
  INVALID_PARAMS: { status: 400, rpcCode: JsonRpcCode.InvalidParams },
  METHOD_NOT_FOUND: { status: 404, rpcCode: JsonRpcCode.MethodNotFound },
  NOT_FOUND: { status: 404, rpcCode: JsonRpcCode.InvalidParams },
  RESOURCE_NOT_FOUND: { status: 404, rpcCode: JsonRpcCode.ResourceNotFound },
  SESSION_NOT_FOUND: { status: 404, rpcCode: JsonRpcCode.ServerError },
  SESSION_REQUIRED: { status: 400, rpcCode: JsonRpcCode.ServerError },
  UNSUPPORTED_PROTOCOL_VERSION: { status: 400, rpcCode: JsonRpcCode.ServerError },
  NOT_ACCEPTABLE: { status: 406, rpcCode: JsonRpcCode.ServerError },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, rpcCode: JsonRpcCode.ServerError },
  PAYLOAD_TOO_LARGE: { status: 413, rpcCode: JsonRpcCode.InvalidRequest },
  FORBIDDEN_ORIGIN: { status: 403, rpcCode: JsonRpcCode.ServerError },
  TOO_MANY_SESSIONS: { status: 503, rpcCode: JsonRpcCode.ServerError },
  METHOD_NOT_ALLOWED: { status: 405, rpcCode: JsonRpcCode.ServerError },
  CONFLICT: { status: 409, rpcCode: JsonRpcCode.ServerError },
  UNAUTHENTICATED: { status: 401, rpcCode: JsonRpcCode.Unauthenticated },
  ACCESS_DENIED: { status: 403, rpcCode: JsonRpcCode.AccessDenied },
  RATE_LIMITED: { status: 429, rpcCode: JsonRpcCode.RateLimited },
  UPSTREAM_UNAVAILABLE: { status: 502, rpcCode: JsonRpcCode.UpstreamUnavailable },
  UPSTREAM_TIMEOUT: { status: 504, rpcCode: JsonRpcCode.RequestTimeout },
  UPSTREAM_ERROR: { status: 502, rpcCode: JsonRpcCode.InternalError },
  CANCELLED: { status: 499, rpcCode: JsonRpcCode.ServerError },
  CONFIG_INVALID: { status: 400, rpcCode: JsonRpcCode.InvalidParams },
  STORE_UNAVAILABLE: { status: 503, rpcCode: JsonRpcCode.InternalError },
  INTERNAL: { status: 500, rpcCode: JsonRpcCode.InternalError },
} as const satisfies Record<string, ErrorSpec>;

export type HubErrorCode = keyof typeof registry;

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly status: number;
  readonly rpcCode: number;
  /** Extra data safe to send to the client (JSON-RPC `error.data`). */
  readonly data: unknown;

  constructor(code: HubErrorCode, message: string, options: { cause?: unknown; data?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.status = registry[code].status;
    this.rpcCode = registry[code].rpcCode;
    this.data = options.data;
  }
}

/** An error returned by an upstream MCP server as a JSON-RPC error: passed through as is. */
export class RpcError extends Error {
  readonly rpcCode: number;
  readonly data: unknown;
  constructor(rpcCode: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.rpcCode = rpcCode;
    this.data = data;
  }
}

export function isHubError(err: unknown): err is HubError {
  return err instanceof HubError;
}

/** The JSON-RPC error object a client may see: never an internal message. */
export function toRpcError(err: unknown): { code: number; message: string; data?: unknown } {
  if (err instanceof HubError || err instanceof RpcError) {
    return err.data === undefined
      ? { code: err.rpcCode, message: err.message }
      : { code: err.rpcCode, message: err.message, data: err.data };
  }
  return { code: JsonRpcCode.InternalError, message: 'Internal error' };
}
