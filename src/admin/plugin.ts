/**
 * The admin REST API under /api/v1: users, roles, API keys, servers, access checks, and the OpenAPI
 * document describing them. An encapsulated Fastify plugin: its error handler and hooks apply to its
 * own routes only.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { AuditSink } from '../audit/types.ts';
import { ANONYMOUS, isAdmin, type Principal } from '../auth/principal.ts';
import type { CompiledPolicy } from '../policy/index.ts';
import { HubError } from '../server/errors.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { accessCheckSchema, checkAccess } from './access-check.ts';
import { actorFromPrincipal, type ChangeContext } from './changes.ts';
import { parseInput, sendError } from './http.ts';
import { buildOpenApiDocument } from './openapi.ts';
import { RoleService } from './role-service.ts';
import { type ApiSection, type RouteSpec, ref } from './route-table.ts';
import { type ApiKeyManager, keyRoutes } from './routes/keys.ts';
import { roleRoutes } from './routes/roles.ts';
import { serverRoutes } from './routes/servers.ts';
import { userRoutes } from './routes/users.ts';
import { ServerService } from './server-service.ts';
import { UserService } from './user-service.ts';

export interface AdminRoutesOptions {
  store: Store;
  /** Resolves the request's credentials; throws HubError('UNAUTHENTICATED') when there are none. */
  authenticate: (req: FastifyRequest) => Promise<Principal>;
  /** The auth module's API key service (create shows the secret once; revoke reaches every instance). */
  apiKeys: ApiKeyManager;
  /** The policy the hub currently enforces (compiled); used by POST /api/v1/access/check. */
  policy: () => CompiledPolicy;
  audit?: AuditSink;
  logger: Logger;
  /** `WWW-Authenticate` on 401, e.g. `Bearer resource_metadata="https://hub/.well-known/oauth-protected-resource"`. */
  challenge?: string | (() => string);
  /** /api/v1 routes other plugins register (the audit API): described in the OpenAPI document too. */
  documented?: readonly ApiSection[];
}

function accessRoutes(store: Store, policy: () => CompiledPolicy): RouteSpec[] {
  return [
    {
      method: 'POST',
      url: '/api/v1/access/check',
      operationId: 'checkAccess',
      summary:
        'May this user call this tool (prompt, URI, server) with these arguments? Decision, rule, reason',
      tag: 'access',
      access: 'admin',
      body: ref('AccessCheck'),
      responses: {
        200: {
          description: 'The decision and every rule that bears on it',
          schema: ref('AccessCheckResult'),
        },
      },
      async handler({ req }) {
        const input = parseInput(accessCheckSchema, req.body, 'body');
        return checkAccess(store, policy(), input);
      },
    },
  ];
}

/** Every admin route, in registration order. */
export function adminRouteTable(options: AdminRoutesOptions): RouteSpec[] {
  const ctx: ChangeContext = {
    store: options.store,
    logger: options.logger,
    ...(options.audit ? { audit: options.audit } : {}),
  };
  const routes: RouteSpec[] = [
    ...userRoutes(new UserService(ctx)),
    ...roleRoutes(new RoleService(ctx)),
    ...keyRoutes(options.store, options.apiKeys),
    ...serverRoutes(new ServerService(ctx)),
    ...accessRoutes(options.store, options.policy),
  ];
  let document: Record<string, unknown> | undefined;
  routes.push({
    method: 'GET',
    url: '/api/v1/openapi.json',
    operationId: 'getOpenApi',
    summary: 'This OpenAPI 3.1 document',
    tag: 'meta',
    access: 'public',
    responses: { 200: { description: 'The OpenAPI document', schema: { type: 'object' } } },
    async handler() {
      document ??= buildOpenApiDocument(routes, options.documented);
      return document;
    },
  });
  return routes;
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (
  scope: FastifyInstance,
  options: AdminRoutesOptions,
) => {
  const challenge = () =>
    typeof options.challenge === 'function'
      ? options.challenge()
      : (options.challenge ?? 'Bearer realm="omnihub"');

  scope.setErrorHandler((err, _req, reply) => sendError(reply, err, options.logger, challenge()));
  // Responses can hold a freshly created API key or password: never cached anywhere.
  scope.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });

  for (const spec of adminRouteTable(options)) {
    scope.route({
      method: spec.method,
      url: spec.url,
      handler: async (req, reply) => {
        let principal: Principal = ANONYMOUS;
        let admin = false;
        if (spec.access !== 'public') {
          principal = await options.authenticate(req);
          // Fail closed: an authenticator that hands back nobody has not authenticated anyone.
          if (principal.method === 'none') throw new HubError('UNAUTHENTICATED', 'Authentication required');
          admin = isAdmin(principal);
          if (spec.access === 'admin' && !admin) {
            throw new HubError('ACCESS_DENIED', 'This needs the admin role');
          }
        }
        const client = {
          ip: req.ip,
          ...(typeof req.headers['user-agent'] === 'string' ? { userAgent: req.headers['user-agent'] } : {}),
        };
        const result = await spec.handler({
          req,
          reply,
          principal,
          admin,
          actor: actorFromPrincipal(principal, client),
        });
        if (reply.statusCode === 204) return reply.send();
        return result;
      },
    });
  }
};
