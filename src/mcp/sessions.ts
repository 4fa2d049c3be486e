import { randomBytes } from 'node:crypto';
import type { Principal } from '../auth/principal.ts';
import { HubError } from '../server/errors.ts';
import type { Cancellation } from '../upstream/cancellation.ts';
import type { EventStream } from './channel.ts';
import type { JsonRpcErrorObject, JsonRpcId } from './jsonrpc.ts';

export type LogLevel = 'debug' | 'info' | 'notice' | 'warning' | 'error' | 'critical' | 'alert' | 'emergency';
export const LOG_LEVELS: readonly LogLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

/** A server→client request the hub relayed and whose answer it awaits. */
interface PendingClientRequest {
  resolve: (result: unknown) => void;
  reject: (error: JsonRpcErrorObject) => void;
}

export interface ClientInfo {
  name?: string;
  version?: string;
}

/** One downstream MCP session: what the client negotiated and what is in flight for it. */
export class Session {
  readonly id: string;
  /** The server this session is bound to (`/mcp/{server}`), or null for the aggregated `/mcp`. */
  readonly scope: string | null;
  /** Who opened the session: later requests must come from the same principal. */
  readonly owner: string;
  protocolVersion: string;
  clientInfo: ClientInfo = {};
  clientCapabilities: Record<string, unknown> = {};
  initialized = false;
  lastSeen = Date.now();
  stream: EventStream | null = null;
  /** Minimum level of notifications/message this client asked for; null = none asked. */
  logLevel: LogLevel | null = null;
  /** Who made the latest request (roles can change between requests; notifications are filtered by it). */
  principal: Principal;
  /** Lists filtered for `principal`, valid while `key` (catalog, policy and roles versions) holds. */
  listCache: { key: string; lists: Partial<Record<string, Record<string, unknown>[]>> } | undefined;
  /** Exposed resource URIs this session subscribed to. */
  readonly subscriptions = new Set<string>();
  /** Downstream request id → its cancellation, for notifications/cancelled. */
  readonly inFlight = new Map<JsonRpcId, Cancellation>();
  private readonly pending = new Map<string, PendingClientRequest>();
  private nextClientRequestId = 0;

  constructor(id: string, scope: string | null, principal: Principal, protocolVersion: string) {
    this.id = id;
    this.scope = scope;
    this.owner = principal.id;
    this.principal = principal;
    this.protocolVersion = protocolVersion;
  }

  get busy(): boolean {
    return this.inFlight.size > 0 || this.pending.size > 0 || (this.stream !== null && !this.stream.closed);
  }

  /** Registers a server→client request; returns the id to send it with and a promise of the answer. */
  expectClientResponse(): { id: string; answer: Promise<unknown> } {
    const id = `omnihub-${++this.nextClientRequestId}`;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    return { id, answer };
  }

  /** Settles a relayed request with the client's answer; false when no such request is pending. */
  settleClientResponse(id: JsonRpcId, result: unknown, error: JsonRpcErrorObject | undefined): boolean {
    const key = String(id);
    const entry = this.pending.get(key);
    if (!entry) return false;
    this.pending.delete(key);
    if (error) entry.reject(error);
    else entry.resolve(result);
    return true;
  }

  dropClientRequest(id: string): void {
    this.pending.delete(id);
  }

  /** Ends everything the session holds. */
  close(): void {
    for (const cancellation of this.inFlight.values()) cancellation.cancel();
    this.inFlight.clear();
    for (const entry of this.pending.values()) entry.reject({ code: -32000, message: 'Session closed' });
    this.pending.clear();
    this.stream?.close();
    this.stream = null;
  }
}

export interface SessionOptions {
  maxSessions: number;
  idleMs: number;
  onClose?: (session: Session) => void;
}

/**
 * Holds live sessions. Ids are 192 random bits. Idle sessions are evicted; at the cap the least recently
 * used idle session makes room, and when every session is busy a new one is refused.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: SessionOptions) {
    this.sweeper = setInterval(() => this.evictIdle(), Math.min(options.idleMs, 30_000));
    this.sweeper.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  create(scope: string | null, principal: Principal, protocolVersion: string): Session {
    if (this.sessions.size >= this.options.maxSessions && !this.evictLeastRecentlyUsed()) {
      throw new HubError('TOO_MANY_SESSIONS', 'Too many open sessions: try again later');
    }
    const session = new Session(randomBytes(24).toString('base64url'), scope, principal, protocolVersion);
    this.sessions.set(session.id, session);
    return session;
  }

  /** Finds a session and marks it used. Maps (not the session) keep insertion order = LRU order. */
  get(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session) {
      session.lastSeen = Date.now();
      this.sessions.delete(id);
      this.sessions.set(id, session);
    }
    return session;
  }

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  delete(id: string): boolean {
    const session = this.sessions.get(id);
    if (!session) return false;
    this.sessions.delete(id);
    session.close();
    this.options.onClose?.(session);
    return true;
  }

  private evictLeastRecentlyUsed(): boolean {
    for (const session of this.sessions.values()) {
      if (!session.busy) return this.delete(session.id);
    }
    return false;
  }

  evictIdle(now = Date.now()): void {
    for (const session of [...this.sessions.values()]) {
      if (now - session.lastSeen > this.options.idleMs && !session.busy) this.delete(session.id);
    }
  }

  closeAll(): void {
    clearInterval(this.sweeper);
    for (const id of [...this.sessions.keys()]) this.delete(id);
  }
}
