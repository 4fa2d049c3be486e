import type { Principal } from '../auth/principal.ts';
import type { AccessRequest, Decision } from '../policy/index.ts';
import { HubError } from '../server/errors.ts';
import { traceAuthorize } from '../telemetry/tracing.ts';
import type { Cancellation } from '../upstream/cancellation.ts';
import type { CallContext } from '../upstream/types.ts';
import type { AccessControl } from './access.ts';
import type { Catalog, ListKind, Target } from './catalog.ts';
import type { ResponseChannel } from './channel.ts';
import { paginate } from './cursor.ts';
import {
  type JsonRpcNotification,
  LATEST_PROTOCOL_VERSION,
  type Params,
  SUPPORTED_PROTOCOL_VERSIONS,
} from './jsonrpc.ts';
import { relayToClient } from './relay.ts';
import { LOG_LEVELS, type LogLevel, type Session } from './sessions.ts';

/** What a method handler needs from the hub. */
export interface MethodHost {
  readonly catalog: Catalog;
  readonly access: AccessControl;
  readonly pageSize: number;
  readonly version: string;
  capabilities(scope: string | null): Record<string, unknown>;
  instructions(scope: string | null): string | undefined;
  /** The tool/prompt argument that names the resource on this server (e.g. `database`). */
  resourceArgument(server: string): string | undefined;
  /** Sends a request to a server's upstream; throws UPSTREAM_UNAVAILABLE when it has none ready. */
  forward(server: string, method: string, params: Params | undefined, ctx?: CallContext): Promise<unknown>;
  subscribe(session: Session, target: Target, exposedUri: string): Promise<void>;
  unsubscribe(session: Session, exposedUri: string): Promise<void>;
  setLogLevel(session: Session, level: LogLevel): Promise<void>;
  /** Rate limits; undefined (or a resolved promise) when the principal may go on. */
  admit(principal: Principal, server?: string, tool?: string): void | Promise<void>;
}

/** What a handler learned about the request, for the audit event and metrics. */
export interface RequestNote {
  server?: string;
  target?: string;
  resource?: string;
  decision?: Decision;
  /** Set by the upstream layer: which replica served the call. */
  call?: CallContext;
}

export interface RequestContext {
  host: MethodHost;
  session: Session;
  principal: Principal;
  params: Params;
  channel: ResponseChannel;
  cancellation: Cancellation;
  note: RequestNote;
}

type Handler = (ctx: RequestContext) => Promise<unknown> | unknown;

function stringParam(params: Params, key: string): string {
  const value = params[key];
  if (typeof value !== 'string' || value.length === 0) {
    throw new HubError('INVALID_PARAMS', `Invalid params: ${key} must be a non-empty string`);
  }
  return value;
}

/** Hooks that route an upstream's request-related messages back to the downstream caller. */
function callContext(ctx: RequestContext): CallContext {
  const { session, channel } = ctx;
  ctx.note.call = {
    cancellation: ctx.cancellation,
    replica: undefined,
    onNotification: (n: JsonRpcNotification) => {
      if (!channel.send(n)) session.stream?.send(n);
    },
    onRequest: (method, params, signal) => relayToClient(session, channel, method, params, signal),
  };
  return ctx.note.call;
}

/**
 * Checks a request against the policy at call time and notes the decision. What the principal may not
 * even see is reported exactly like a name that does not exist; what it may see but not use here (the
 * wrong resource, say) is ACCESS_DENIED with the deciding reason.
 */
function authorize(ctx: RequestContext, req: AccessRequest, unknown: () => HubError): void {
  const { note } = ctx;
  note.server = req.server;
  note.target = req.name;
  note.resource = req.resource;
  const decision = traceAuthorize(req.server, req.name ?? '', () =>
    ctx.host.access.decide(ctx.principal, req),
  );
  note.decision = decision;
  if (decision.allow) return;
  if (!ctx.host.access.visibleTo(ctx.principal, req)) throw unknown();
  const { reason } = decision;
  throw new HubError(
    'ACCESS_DENIED',
    reason.startsWith('access to ') ? `A${reason.slice(1)}` : `Access denied: ${reason}`,
  );
}

/** Forwards after the rate limiter admits the principal to this server (and tool). */
function forwardAdmitted(
  ctx: RequestContext,
  target: Target,
  method: string,
  params: Params,
  tool?: string,
): Promise<unknown> {
  const call = () => ctx.host.forward(target.server, method, params, callContext(ctx));
  const admitted = ctx.host.admit(ctx.principal, target.server, tool);
  return admitted ? admitted.then(call) : call();
}

/** The value of the server's resource argument in these arguments, when it is a string. */
function resourceOf(ctx: RequestContext, server: string, args: unknown): string | undefined {
  const key = ctx.host.resourceArgument(server);
  if (key === undefined || args === null || typeof args !== 'object') return undefined;
  const value = (args as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : undefined;
}

function list(kind: ListKind, key: string): Handler {
  return ({ host, session, principal, params }) => {
    const items = host.access.visible(host.catalog, session, principal, kind);
    const { page, next } = paginate(items, params.cursor, host.pageSize);
    return next ? { [key]: page, nextCursor: next } : { [key]: page };
  };
}

/** Routes a resource URI and checks the principal may read it. */
function resolveUri(ctx: RequestContext, uri: string): Target {
  const notFound = () => new HubError('RESOURCE_NOT_FOUND', `Resource not found: ${uri}`, { data: { uri } });
  const target = ctx.host.catalog.resolveUri(ctx.session.scope, uri);
  if (!target) throw notFound();
  authorize(ctx, { server: target.server, kind: 'uri', name: target.name }, notFound);
  return target;
}

export const methods: Record<string, Handler> = {
  initialize: ({ host, session, params }) => {
    const requested = params.protocolVersion;
    const version = (SUPPORTED_PROTOCOL_VERSIONS as readonly unknown[]).includes(requested)
      ? (requested as string)
      : LATEST_PROTOCOL_VERSION;
    session.protocolVersion = version;
    const info = params.clientInfo as Record<string, unknown> | undefined;
    session.clientInfo = {
      name: typeof info?.name === 'string' ? info.name.slice(0, 200) : undefined,
      version: typeof info?.version === 'string' ? info.version.slice(0, 100) : undefined,
    };
    const caps = params.capabilities;
    session.clientCapabilities = caps && typeof caps === 'object' ? (caps as Record<string, unknown>) : {};
    const instructions = host.instructions(session.scope);
    return {
      protocolVersion: version,
      capabilities: host.capabilities(session.scope),
      serverInfo: {
        name: session.scope === null ? 'omnihub' : `omnihub/${session.scope}`,
        version: host.version,
      },
      ...(instructions ? { instructions } : {}),
    };
  },

  ping: () => ({}),

  'tools/list': list('tools', 'tools'),
  'prompts/list': list('prompts', 'prompts'),
  'resources/list': list('resources', 'resources'),
  'resources/templates/list': list('resourceTemplates', 'resourceTemplates'),

  'tools/call': (ctx) => {
    const name = stringParam(ctx.params, 'name');
    const unknown = () => new HubError('INVALID_PARAMS', `Unknown tool: ${name}`);
    const target = ctx.host.catalog.resolveTool(ctx.session.scope, name);
    if (!target) throw unknown();
    const resource = resourceOf(ctx, target.server, ctx.params.arguments);
    authorize(ctx, { server: target.server, kind: 'tool', name: target.name, resource }, unknown);
    return forwardAdmitted(ctx, target, 'tools/call', { ...ctx.params, name: target.name }, target.name);
  },

  'prompts/get': (ctx) => {
    const name = stringParam(ctx.params, 'name');
    const unknown = () => new HubError('INVALID_PARAMS', `Unknown prompt: ${name}`);
    const target = ctx.host.catalog.resolvePrompt(ctx.session.scope, name);
    if (!target) throw unknown();
    const resource = resourceOf(ctx, target.server, ctx.params.arguments);
    authorize(ctx, { server: target.server, kind: 'prompt', name: target.name, resource }, unknown);
    return forwardAdmitted(ctx, target, 'prompts/get', { ...ctx.params, name: target.name });
  },

  'resources/read': async (ctx) => {
    const uri = stringParam(ctx.params, 'uri');
    const target = resolveUri(ctx, uri);
    const result = (await forwardAdmitted(ctx, target, 'resources/read', {
      ...ctx.params,
      uri: target.name,
    })) as { contents?: Record<string, unknown>[] };
    if (Array.isArray(result?.contents)) {
      const catalog = ctx.host.catalog;
      result.contents = result.contents.map((c) =>
        typeof c.uri === 'string'
          ? { ...c, uri: catalog.exposedUri(ctx.session.scope, target.server, c.uri) }
          : c,
      );
    }
    return result;
  },

  'resources/subscribe': async (ctx) => {
    const uri = stringParam(ctx.params, 'uri');
    const target = resolveUri(ctx, uri);
    await ctx.host.admit(ctx.principal, target.server);
    await ctx.host.subscribe(ctx.session, target, uri);
    return {};
  },

  'resources/unsubscribe': async (ctx) => {
    await ctx.host.unsubscribe(ctx.session, stringParam(ctx.params, 'uri'));
    return {};
  },

  'completion/complete': (ctx) => {
    const ref = ctx.params.ref as Record<string, unknown> | undefined;
    const catalog = ctx.host.catalog;
    let target: Target | undefined;
    let upstreamRef: Record<string, unknown>;
    if (ref?.type === 'ref/prompt' && typeof ref.name === 'string') {
      target = catalog.resolvePrompt(ctx.session.scope, ref.name);
      upstreamRef = { ...ref, name: target?.name };
    } else if (ref?.type === 'ref/resource' && typeof ref.uri === 'string') {
      target = catalog.resolveTemplate(ctx.session.scope, ref.uri);
      upstreamRef = { ...ref, uri: target?.name };
    } else {
      throw new HubError('INVALID_PARAMS', 'Invalid params: ref must be a ref/prompt or ref/resource');
    }
    const unknown = () => new HubError('INVALID_PARAMS', 'Invalid params: unknown completion reference');
    if (!target) throw unknown();
    const kind = ref.type === 'ref/prompt' ? 'prompt' : 'uri';
    authorize(ctx, { server: target.server, kind, name: target.name }, unknown);
    return forwardAdmitted(ctx, target, 'completion/complete', { ...ctx.params, ref: upstreamRef });
  },

  'logging/setLevel': async ({ host, session, params }) => {
    const level = params.level;
    if (!LOG_LEVELS.includes(level as LogLevel)) {
      throw new HubError('INVALID_PARAMS', `Invalid params: level must be one of ${LOG_LEVELS.join(', ')}`);
    }
    await host.setLogLevel(session, level as LogLevel);
    return {};
  },
};
