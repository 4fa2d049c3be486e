import type { JsonRpcNotification, Params } from '../mcp/jsonrpc.ts';

/** What an upstream said about itself when it was initialized. */
export interface UpstreamInfo {
  protocolVersion: string;
  capabilities: Record<string, unknown>;
  serverInfo: { name: string; version: string; [k: string]: unknown };
  instructions?: string;
}

export type UpstreamState = 'connecting' | 'ready' | 'down' | 'closed';

/**
 * Hooks for messages an upstream sends while one request is in flight. The upstream layer remaps ids
 * and progress tokens: the hooks see the downstream's original progress token again.
 */
export interface CallContext {
  /** Notifications tied to this request: notifications/progress (original token restored), notifications/message. */
  onNotification?: (n: JsonRpcNotification) => void;
  /**
   * Server→client requests caused by this request (sampling/createMessage, elicitation/create, roots/list).
   * Resolve with the result, or throw a HubError/RpcError to send an error back upstream.
   */
  onRequest?: (method: string, params: Params | undefined, signal: AbortSignal) => Promise<unknown>;
  /** Aborting sends notifications/cancelled upstream (with the upstream's id) and rejects with CANCELLED. */
  signal?: AbortSignal;
  /** Overrides the server's timeout_ms for this call; on expiry the call is cancelled upstream. */
  timeoutMs?: number;
}

/** Messages that belong to no in-flight request (list_changed, resources/updated, unrelated logs). */
export type NotificationHandler = (n: JsonRpcNotification) => void;
/** Server→client requests that belong to no in-flight request (e.g. roots/list after roots changed). */
export type UnrelatedRequestHandler = (method: string, params: Params | undefined) => Promise<unknown>;

/**
 * One connection to one MCP server replica, already initialized, shared by every downstream client.
 * Requests are multiplexed: the connection assigns its own JSON-RPC ids.
 */
export interface UpstreamConnection {
  readonly state: UpstreamState;
  readonly info: UpstreamInfo | undefined;
  /** Requests currently in flight (for least-in-flight balancing). */
  readonly inFlight: number;
  /** Connects and initializes (with the hub's client capabilities); resolves when ready. */
  start(): Promise<void>;
  /** Sends a request; resolves with `result`, rejects with RpcError (upstream error) or HubError. */
  request(method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown>;
  notify(method: string, params?: Params): Promise<void>;
  close(): Promise<void>;
}

/** Events from a server's upstream (all replicas together), for the catalog and the router. */
export interface UpstreamEvents {
  onNotification(handler: NotificationHandler): () => void;
  onStateChange(handler: (state: UpstreamState, error?: Error) => void): () => void;
  setUnrelatedRequestHandler(handler: UnrelatedRequestHandler): void;
}

/** Everything the hub talks to for one configured server: its replicas behind one face. */
export interface ServerUpstream extends UpstreamEvents {
  readonly name: string;
  readonly state: UpstreamState;
  readonly info: UpstreamInfo | undefined;
  start(): Promise<void>;
  request(method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown>;
  notify(method: string, params?: Params): Promise<void>;
  close(): Promise<void>;
}
