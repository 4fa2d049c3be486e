import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { AuditSink } from '../audit/types.ts';
import { ANONYMOUS, type Authenticator, type ClientInfo, type Principal } from '../auth/principal.ts';
import { wwwAuthenticate } from '../auth/routes.ts';
import type { HubEnv } from '../config/env.ts';
import type { HubConfig } from '../config/schema.ts';
import { McpEndpoint, writeError } from '../mcp/endpoint.ts';
import { McpHub, type UpstreamFactory } from '../mcp/hub.ts';
import type { RateLimiter } from '../ratelimit/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { HubMetrics } from '../telemetry/metrics.ts';
import { traceAuthenticate } from '../telemetry/tracing.ts';
import { HubError } from './errors.ts';
import { createOriginGuard } from './origin.ts';
import { VERSION } from './version.ts';

/** What the hub needs from its database at this layer. */
export interface ReadinessProbe {
  ping(): Promise<boolean>;
}

export interface BuildOptions {
  env: HubEnv;
  config: HubConfig;
  logger: Logger;
  createUpstream: UpstreamFactory;
  store?: ReadinessProbe;
  /** Resolves each MCP request's credentials. Without one every request is anonymous (no roles: denied). */
  authenticator?: Authenticator;
  audit?: AuditSink;
  limiter?: RateLimiter;
  metrics?: HubMetrics;
  /** More routes (auth, admin, audit, health, metrics), registered after the MCP endpoint. */
  routes?: ((app: FastifyInstance) => Promise<void>)[];
}

export interface Hub {
  app: FastifyInstance;
  mcp: McpHub;
  /** Applies a new validated config without a restart. */
  reload(config: HubConfig): Promise<void>;
  close(): Promise<void>;
}

/** Maps the framework's own request errors onto the registry, so MCP clients get JSON-RPC bodies. */
function frameworkError(err: FastifyError): HubError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HubError('PAYLOAD_TOO_LARGE', 'Payload too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HubError(
        'UNSUPPORTED_MEDIA_TYPE',
        'Unsupported Media Type: Content-Type must be application/json',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HubError('PARSE_ERROR', 'Parse error: empty body');
    default:
      return err.statusCode && err.statusCode < 500 ? new HubError('BAD_REQUEST', 'Bad Request') : undefined;
  }
}

/** Builds the HTTP app and the MCP hub without listening (tests use `app.inject()` or `listen()`). */
export async function build(options: BuildOptions): Promise<Hub> {
  const { env, logger } = options;
  const mcp = new McpHub({
    logger,
    createUpstream: options.createUpstream,
    version: VERSION,
    maxSessions: env.maxSessions,
    sessionIdleMs: env.sessionIdleMs,
    roles: options.config.roles,
    audit: options.audit,
    limiter: options.limiter,
    metrics: options.metrics,
  });
  const endpoint = new McpEndpoint({ hub: mcp, maxJsonDepth: env.maxJsonDepth, keepAliveMs: 15_000 });
  const guardOrigin = createOriginGuard({
    bindHost: env.host,
    publicUrl: env.publicUrl,
    allowedOrigins: env.allowedOrigins,
    allowedHosts: env.allowedHosts,
  });

  // Fastify's own request logging stays off: the hot path logs nothing per request.
  const app = Fastify({
    bodyLimit: env.maxBodyBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });

  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_req, reply) => {
    const storeOk = options.store ? await options.store.ping().catch(() => false) : true;
    return reply.code(storeOk ? 200 : 503).send({ status: storeOk ? 'ready' : 'unavailable' });
  });

  await app.register(async (scope) => {
    // The MCP endpoint decodes its own bodies: depth limits and JSON-RPC error codes are its job.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    scope.setErrorHandler((err: FastifyError, _req, reply) => {
      const mapped = err instanceof HubError ? err : frameworkError(err);
      if (!mapped) logger.error({ err }, 'MCP endpoint error');
      reply.hijack();
      writeError(reply.raw, mapped ?? err);
    });
    scope.addHook('onRequest', async (req) => guardOrigin(req.headers));

    const { authenticator } = options;
    const challenge = wwwAuthenticate(env.publicUrl);
    /** The request's principal, or a 401 with the discovery challenge (and undefined). */
    const principalOf = async (req: FastifyRequest, res: ServerResponse): Promise<Principal | undefined> => {
      if (!authenticator) return ANONYMOUS;
      try {
        return await traceAuthenticate(() => authenticator.authenticate(req.headers));
      } catch (err) {
        const mapped =
          err instanceof HubError ? err : new HubError('UNAUTHENTICATED', 'Unauthorized', { cause: err });
        if (!(err instanceof HubError)) logger.error({ err }, 'authentication failed unexpectedly');
        if (mapped.status === 401) res.setHeader('www-authenticate', challenge);
        writeError(res, mapped);
        return undefined;
      }
    };
    const clientOf = (req: FastifyRequest): ClientInfo => ({
      ip: req.ip,
      userAgent: req.headers['user-agent']?.slice(0, 300),
    });
    const serverOf = (params: unknown) => (params as { server?: string }).server ?? null;
    for (const url of ['/mcp', '/mcp/:server']) {
      scope.post(url, async (req, reply) => {
        reply.hijack();
        const principal = await principalOf(req, reply.raw);
        if (!principal) return;
        const body = typeof req.body === 'string' ? req.body : '';
        await endpoint.post(serverOf(req.params), req.headers, body, reply.raw, principal, clientOf(req));
      });
      scope.get(url, async (req, reply) => {
        reply.hijack();
        const principal = await principalOf(req, reply.raw);
        if (principal) endpoint.get(serverOf(req.params), req.headers, reply.raw, principal);
      });
      scope.delete(url, async (req, reply) => {
        reply.hijack();
        const principal = await principalOf(req, reply.raw);
        if (principal) endpoint.delete(serverOf(req.params), req.headers, reply.raw, principal);
      });
    }
  });

  for (const register of options.routes ?? []) await register(app);

  // Open GET streams would keep the server from closing: end the sessions first.
  app.addHook('preClose', async () => {
    mcp.sessions.closeAll();
  });
  app.addHook('onClose', async () => {
    await mcp.close();
  });

  await mcp.applyServers(options.config.servers);

  return {
    app,
    mcp,
    reload: async (config) => {
      mcp.setRoles(config.roles);
      await mcp.applyServers(config.servers);
    },
    close: () => app.close(),
  };
}

/** Starts listening; resolves with the address the hub is reachable at. */
export async function listen(hub: Hub, port: number, host: string): Promise<string> {
  await hub.app.listen({ port, host });
  const address = hub.app.server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`;
}
