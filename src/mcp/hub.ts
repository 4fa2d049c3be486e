import type { AuditOutcome, AuditSink } from '../audit/types.ts';
import type { ClientInfo, Principal } from '../auth/principal.ts';
import type { RoleConfig, ServerConfig } from '../config/schema.ts';
import type { RateLimiter } from '../ratelimit/index.ts';
import { HubError, RpcError, toRpcError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { HubMetrics } from '../telemetry/metrics.ts';
import { traceUpstream } from '../telemetry/tracing.ts';
import { Cancellation } from '../upstream/cancellation.ts';
import type { CallContext, ServerUpstream, UpstreamState } from '../upstream/types.ts';
import { AccessControl } from './access.ts';
import { Catalog, fetchAll, type ListKind, type ServerLists, type Target } from './catalog.ts';
import type { ResponseChannel } from './channel.ts';
import type { JsonRpcNotification, JsonRpcRequest, Params } from './jsonrpc.ts';
import { type MethodHost, methods, type RequestNote } from './methods.ts';
import { LOG_LEVELS, type LogLevel, type Session, SessionStore } from './sessions.ts';

export type UpstreamFactory = (name: string, config: ServerConfig, logger: Logger) => ServerUpstream;

export interface HubOptions {
  logger: Logger;
  createUpstream: UpstreamFactory;
  version: string;
  pageSize?: number;
  maxSessions?: number;
  sessionIdleMs?: number;
  roles?: Readonly<Record<string, RoleConfig>>;
  audit?: AuditSink;
  limiter?: RateLimiter;
  metrics?: HubMetrics;
}

/** Methods that reach one server: limited per server (and tool) by `admit` in the method itself. */
const ROUTED = new Set([
  'tools/call',
  'prompts/get',
  'resources/read',
  'resources/subscribe',
  'completion/complete',
]);

/** Who sent a request and from where: resolved by the endpoint before the hub sees it. */
export interface RequestOrigin {
  principal: Principal;
  client: ClientInfo;
}

let requestCounter = 0;
const requestPrefix = `${process.pid.toString(36)}-${Date.now().toString(36)}`;

interface Managed {
  config: ServerConfig;
  upstream: ServerUpstream;
  unsubscribe: (() => void)[];
  /** Serializes catalog refreshes of this server. */
  refreshing: Promise<void>;
}

const LIST_CHANGED: Record<ListKind, string> = {
  tools: 'notifications/tools/list_changed',
  prompts: 'notifications/prompts/list_changed',
  resources: 'notifications/resources/list_changed',
  resourceTemplates: 'notifications/resources/list_changed',
};

const AGGREGATED_CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

/**
 * The MCP side of the hub: the upstream servers, their catalog, the downstream sessions, and the
 * routing of every message between them.
 */
export class McpHub implements MethodHost {
  readonly catalog = new Catalog();
  readonly access: AccessControl;
  readonly sessions: SessionStore;
  readonly pageSize: number;
  readonly version: string;
  private readonly servers = new Map<string, Managed>();
  /** `server\nuri` → ids of the sessions subscribed to it. */
  private readonly subscribers = new Map<string, Set<string>>();
  private readonly log: Logger;

  constructor(private readonly options: HubOptions) {
    this.log = options.logger;
    this.version = options.version;
    this.pageSize = options.pageSize ?? 500;
    this.access = new AccessControl(options.roles);
    this.sessions = new SessionStore({
      maxSessions: options.maxSessions ?? 10_000,
      idleMs: options.sessionIdleMs ?? 30 * 60_000,
      onClose: (session) => this.releaseSubscriptions(session),
    });
  }

  // ---- servers ---------------------------------------------------------------------------------

  serverNames(): string[] {
    return [...this.servers.keys()];
  }

  hasServer(name: string): boolean {
    return this.servers.has(name);
  }

  serverState(name: string): UpstreamState | undefined {
    return this.servers.get(name)?.upstream.state;
  }

  /** Brings the running servers in line with the config: starts new ones, replaces changed, stops removed. */
  async applyServers(configs: Record<string, ServerConfig>): Promise<void> {
    const wanted = Object.entries(configs).filter(([, c]) => c.enabled);
    const wantedNames = new Set(wanted.map(([n]) => n));
    const stops: Promise<void>[] = [];
    for (const name of [...this.servers.keys()]) {
      if (!wantedNames.has(name)) stops.push(this.removeServer(name));
    }
    for (const [name, config] of wanted) {
      const current = this.servers.get(name);
      if (current && JSON.stringify(current.config) === JSON.stringify(config)) continue;
      if (current) stops.push(this.removeServer(name, true));
      this.addServer(name, config);
    }
    await Promise.all(stops);
  }

  private addServer(name: string, config: ServerConfig): void {
    const upstream = this.options.createUpstream(name, config, this.log.child({ server: name }));
    const managed: Managed = { config, upstream, unsubscribe: [], refreshing: Promise.resolve() };
    this.servers.set(name, managed);
    if (!this.catalog.has(name))
      this.catalog.set(name, { tools: [], prompts: [], resources: [], resourceTemplates: [] });
    managed.unsubscribe.push(
      upstream.onNotification((n) => this.onUpstreamNotification(name, n)),
      upstream.onStateChange((state, error) => this.onUpstreamState(name, state, error)),
    );
    upstream.setUnrelatedRequestHandler(async (method) => {
      if (method === 'roots/list') return { roots: [] };
      if (method === 'ping') return {};
      throw new HubError('METHOD_NOT_FOUND', `No client to relay ${method} to`);
    });
    upstream.start().then(
      () => this.refresh(name),
      (err: Error) => this.log.warn({ server: name, err: err.message }, 'upstream not ready yet; retrying'),
    );
  }

  private async removeServer(name: string, replacing = false): Promise<void> {
    const managed = this.servers.get(name);
    if (!managed) return;
    this.servers.delete(name);
    for (const off of managed.unsubscribe) off();
    if (!replacing) {
      this.broadcastListChanged(name, this.catalog.clear(name, false));
      for (const session of [...this.sessions.all()])
        if (session.scope === name) this.sessions.delete(session.id);
    }
    await managed.upstream
      .close()
      .catch((err: Error) => this.log.warn({ server: name, err: err.message }, 'close failed'));
  }

  /** Re-reads a server's lists; notifies the sessions that can see what changed. */
  refresh(name: string): Promise<void> {
    const managed = this.servers.get(name);
    if (!managed) return Promise.resolve();
    managed.refreshing = managed.refreshing.then(async () => {
      if (this.servers.get(name) !== managed || managed.upstream.state !== 'ready') return;
      const lists = await this.fetchLists(managed.upstream);
      if (this.servers.get(name) !== managed) return;
      this.broadcastListChanged(name, this.catalog.set(name, lists));
    });
    return managed.refreshing.catch((err: Error) => {
      this.log.warn({ server: name, err: err.message }, 'could not read the server lists');
    });
  }

  private async fetchLists(upstream: ServerUpstream): Promise<ServerLists> {
    const caps = upstream.info?.capabilities ?? {};
    const request = (method: string, params: Params | undefined) => upstream.request(method, params);
    const [tools, prompts, resources, resourceTemplates] = await Promise.all([
      caps.tools ? fetchAll(request, 'tools/list', 'tools') : [],
      caps.prompts ? fetchAll(request, 'prompts/list', 'prompts') : [],
      caps.resources ? fetchAll(request, 'resources/list', 'resources') : [],
      caps.resources
        ? fetchAll(request, 'resources/templates/list', 'resourceTemplates').catch(() => [])
        : [],
    ]);
    return { tools, prompts, resources, resourceTemplates };
  }

  private onUpstreamState(name: string, state: UpstreamState, error?: Error): void {
    this.log.info({ server: name, state, err: error?.message }, 'upstream state');
    if (state === 'ready') void this.refresh(name);
    else if (state === 'down' && this.servers.has(name))
      this.broadcastListChanged(name, this.catalog.clear(name));
  }

  private onUpstreamNotification(server: string, n: JsonRpcNotification): void {
    switch (n.method) {
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        void this.refresh(server);
        return;
      case 'notifications/resources/updated':
        this.forwardResourceUpdate(server, n);
        return;
      case 'notifications/message':
        this.forwardLog(server, n);
        return;
      default:
        this.log.debug({ server, method: n.method }, 'unrouted upstream notification');
    }
  }

  private broadcastListChanged(server: string, kinds: ListKind[]): void {
    if (kinds.length === 0) return;
    const methods = new Set(kinds.map((k) => LIST_CHANGED[k]));
    for (const session of this.sessions.all()) {
      if (!session.stream || (session.scope !== null && session.scope !== server)) continue;
      for (const method of methods) session.stream.send({ jsonrpc: '2.0', method });
    }
  }

  private forwardResourceUpdate(server: string, n: JsonRpcNotification): void {
    const uri = n.params?.uri;
    if (typeof uri !== 'string') return;
    for (const id of this.subscribers.get(`${server}\n${uri}`) ?? []) {
      const session = this.sessions.get(id);
      const exposed = session && this.catalog.exposedUri(session.scope, server, uri);
      session?.stream?.send({ ...n, params: { ...n.params, uri: exposed } });
    }
  }

  private forwardLog(server: string, n: JsonRpcNotification): void {
    const rank = LOG_LEVELS.indexOf(n.params?.level as LogLevel);
    for (const session of this.sessions.all()) {
      if (!session.stream || session.logLevel === null) continue;
      if (session.scope !== null && session.scope !== server) continue;
      if (rank < LOG_LEVELS.indexOf(session.logLevel)) continue;
      if (this.access.canUseServer(session.principal, server)) session.stream.send(n);
    }
  }

  // ---- MethodHost ------------------------------------------------------------------------------

  capabilities(scope: string | null): Record<string, unknown> {
    if (scope === null) return AGGREGATED_CAPABILITIES;
    const upstream = this.servers.get(scope)?.upstream.info?.capabilities;
    if (!upstream) return AGGREGATED_CAPABILITIES;
    const caps: Record<string, unknown> = {};
    if (upstream.tools) caps.tools = { listChanged: true };
    if (upstream.prompts) caps.prompts = { listChanged: true };
    if (upstream.resources) {
      const subscribe = Boolean((upstream.resources as Record<string, unknown>).subscribe);
      caps.resources = { subscribe, listChanged: true };
    }
    if (upstream.logging) caps.logging = {};
    if (upstream.completions) caps.completions = {};
    return caps;
  }

  resourceArgument(server: string): string | undefined {
    return this.servers.get(server)?.config.resource_argument;
  }

  instructions(scope: string | null): string | undefined {
    return scope === null ? undefined : this.servers.get(scope)?.upstream.info?.instructions;
  }

  forward(server: string, method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown> {
    const managed = this.servers.get(server);
    if (!managed) {
      return Promise.reject(new HubError('UPSTREAM_UNAVAILABLE', `Server ${server} is unavailable`));
    }
    // The upstream says best why it cannot serve (down, disabled, breaker open).
    return traceUpstream(
      method,
      server,
      () => managed.upstream.request(method, params, ctx),
      () => ctx?.replica,
    );
  }

  /** Rate limits: resolves (or returns) when the principal may go on, rejects with RATE_LIMITED. */
  admit(principal: Principal, server?: string, tool?: string): void | Promise<void> {
    return this.options.limiter?.enforce(principal, server, tool);
  }

  async subscribe(session: Session, target: Target, exposedUri: string): Promise<void> {
    const key = `${target.server}\n${target.name}`;
    let set = this.subscribers.get(key);
    if (!set) {
      await this.forward(target.server, 'resources/subscribe', { uri: target.name });
      set = this.subscribers.get(key) ?? new Set();
      this.subscribers.set(key, set);
    }
    set.add(session.id);
    session.subscriptions.add(exposedUri);
  }

  async unsubscribe(session: Session, exposedUri: string): Promise<void> {
    const target = this.catalog.resolveUri(session.scope, exposedUri);
    session.subscriptions.delete(exposedUri);
    if (target) await this.dropSubscriber(session.id, target);
  }

  private async dropSubscriber(sessionId: string, target: Target): Promise<void> {
    const key = `${target.server}\n${target.name}`;
    const set = this.subscribers.get(key);
    if (!set?.delete(sessionId) || set.size > 0) return;
    this.subscribers.delete(key);
    await this.forward(target.server, 'resources/unsubscribe', { uri: target.name }).catch(() => undefined);
  }

  private releaseSubscriptions(session: Session): void {
    for (const uri of session.subscriptions) {
      const target = this.catalog.resolveUri(session.scope, uri);
      if (target) void this.dropSubscriber(session.id, target);
    }
  }

  async setLogLevel(session: Session, level: LogLevel): Promise<void> {
    session.logLevel = level;
    // Upstream connections are shared: forward the level, then filter per session on the way back.
    const targets = session.scope === null ? this.serverNames() : [session.scope];
    await Promise.all(
      targets
        .filter((s) => this.servers.get(s)?.upstream.info?.capabilities.logging)
        .map((s) => this.forward(s, 'logging/setLevel', { level }).catch(() => undefined)),
    );
  }

  // ---- dispatch --------------------------------------------------------------------------------

  /** Runs one downstream request and answers it on its channel; never throws. */
  async handleRequest(
    session: Session,
    request: JsonRpcRequest,
    channel: ResponseChannel,
    origin: RequestOrigin,
  ): Promise<void> {
    const started = performance.now();
    const requestId = `${requestPrefix}-${++requestCounter}`;
    const { metrics } = this.options;
    const handler = Object.hasOwn(methods, request.method) ? methods[request.method] : undefined;
    session.principal = origin.principal;
    if (!handler) {
      channel.finish({
        jsonrpc: '2.0',
        id: request.id,
        error: { code: -32601, message: `Method not found: ${request.method}` },
      });
      return;
    }
    const cancellation = new Cancellation();
    const note: RequestNote = {};
    session.inFlight.set(request.id, cancellation);
    metrics?.requestStarted();
    let outcome: AuditOutcome = 'ok';
    let error: string | undefined;
    try {
      if (!ROUTED.has(request.method)) {
        const admitted = this.admit(origin.principal);
        if (admitted) await admitted;
      }
      const result = await handler({
        host: this,
        session,
        principal: origin.principal,
        params: request.params ?? {},
        channel,
        cancellation,
        note,
      });
      if ((result as { isError?: unknown } | undefined)?.isError === true) outcome = 'tool_error';
      channel.finish({ jsonrpc: '2.0', id: request.id, result });
    } catch (err) {
      outcome = note.decision?.allow === false ? 'denied' : outcomeOf(err);
      if (outcome === 'error' && !(err instanceof HubError)) {
        this.log.error({ err, method: request.method, requestId }, 'request failed');
      }
      const rpcError = toRpcError(err);
      error = rpcError.message;
      channel.finish({ jsonrpc: '2.0', id: request.id, error: rpcError });
    } finally {
      session.inFlight.delete(request.id);
      metrics?.requestFinished();
    }
    const latencyMs = performance.now() - started;
    metrics?.observeRequest(
      request.method,
      note.server ?? session.scope ?? '',
      note.target ?? '',
      note.decision ? (note.decision.allow ? 'allow' : 'deny') : 'none',
      outcome,
      latencyMs / 1000,
    );
    this.options.audit?.record({
      type: 'mcp',
      action: request.method,
      requestId,
      actor: actorOf(origin.principal),
      client: { ...origin.client, name: session.clientInfo.name, version: session.clientInfo.version },
      server: note.server ?? session.scope ?? undefined,
      target: note.target,
      resource: note.resource,
      arguments:
        request.method === 'tools/call' || request.method === 'prompts/get'
          ? request.params?.arguments
          : undefined,
      decision: note.decision,
      outcome,
      error,
      latencyMs,
      replica: note.call?.replica,
    });
  }

  /** Handles a downstream notification (initialized, cancelled, ...). */
  handleNotification(session: Session, n: JsonRpcNotification): void {
    if (n.method === 'notifications/initialized') session.initialized = true;
    else if (n.method === 'notifications/cancelled') {
      const id = n.params?.requestId;
      if (typeof id === 'string' || typeof id === 'number') session.inFlight.get(id)?.cancel();
    }
  }

  /** Replaces the policy; sessions see it on their next request. */
  setRoles(roles: Readonly<Record<string, RoleConfig>>): void {
    this.access.setRoles(roles);
  }

  async close(): Promise<void> {
    this.sessions.closeAll();
    await Promise.all([...this.servers.keys()].map((name) => this.removeServer(name)));
  }
}

function actorOf(p: Principal) {
  return { id: p.id, userId: p.userId, email: p.email, keyId: p.keyId, roles: p.roles };
}

/** How a failed request ends up in the audit trail. */
function outcomeOf(err: unknown): AuditOutcome {
  if (err instanceof RpcError) return 'upstream_error';
  if (!(err instanceof HubError)) return 'error';
  switch (err.code) {
    case 'ACCESS_DENIED':
      return 'denied';
    case 'RATE_LIMITED':
      return 'rate_limited';
    case 'UPSTREAM_TIMEOUT':
      return 'timeout';
    case 'UPSTREAM_UNAVAILABLE':
    case 'UPSTREAM_ERROR':
      return 'upstream_error';
    default:
      return 'error';
  }
}
