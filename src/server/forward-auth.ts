/**
 * ForwardAuth: `GET /auth/verify`, as Traefik's forwardAuth, Caddy's forward_auth and nginx's
 * auth_request call it. The proxy sends the original request's credentials and `X-Forwarded-Method`,
 * `X-Forwarded-Uri`, `X-Forwarded-Host`; the hub answers
 *
 * - 200 with `X-Omnihub-User`, `X-Omnihub-User-Id`, `X-Omnihub-Roles`, `X-Omnihub-Auth-Method` (and
 *   `X-Omnihub-Server` for an MCP server route) when the request may pass;
 * - 401 with `WWW-Authenticate` when it carries no valid credentials;
 * - 403 when the principal may not use what the request is for.
 *
 * Route-level decisions (docs/forward-auth.md): `/mcp/{server}[/…]` and `?server=NAME` on the verify
 * URL need the server-level permission for that server (it must exist and be enabled); MCP routes only
 * take GET, POST and DELETE; `?role=a,b` on the verify URL requires one of those roles; anything else
 * needs an authenticated principal only.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditSink } from '../audit/types.ts';
import type { Principal } from '../auth/principal.ts';
import { SERVER_NAME } from '../config/schema.ts';
import { type CompiledPolicy, decide } from '../policy/index.ts';
import type { Logger } from '../telemetry/logger.ts';
import { HubError, isHubError } from './errors.ts';

export interface ForwardAuthOptions {
  /** Resolves the forwarded credentials; throws HubError('UNAUTHENTICATED') when there are none. */
  authenticate: (req: FastifyRequest) => Promise<Principal>;
  /** The policy the hub currently enforces. */
  policy: () => CompiledPolicy;
  /** True when `name` is a configured, enabled server (e.g. `(name) => hub.mcp.hasServer(name)`). */
  isServerEnabled: (name: string) => boolean;
  /** `WWW-Authenticate` on 401 (default `Bearer realm="omnihub"`). */
  challenge?: string | (() => string);
  /** Denials are audited (type `auth`, action `forward_auth`); allowed requests are not. */
  audit?: AuditSink;
  logger?: Logger;
}

/** Methods the MCP Streamable HTTP transport uses. */
const MCP_METHODS = new Set(['GET', 'POST', 'DELETE']);
const METHOD = /^[A-Z]{1,20}$/;
const MAX_URI = 8192;
const ROLE_LIST = /^[A-Za-z0-9_.:-]+(,[A-Za-z0-9_.:-]+)*$/;

/** What a forwarded request is for. */
export type ForwardTarget =
  | { kind: 'server'; server: string }
  /** The aggregated `/mcp` endpoint: it filters by itself what each principal sees. */
  | { kind: 'mcp' }
  | { kind: 'other' };

/**
 * The path as a proxy's backend would see it: dot segments resolved (also `%2e%2e`), repeated
 * slashes merged (nginx's default); undefined when it cannot be parsed.
 */
export function forwardedPath(uri: string): string | undefined {
  if (uri.length === 0 || uri.length > MAX_URI) return undefined;
  try {
    const path = new URL(
      uri.startsWith('/') ? uri.replace(/^\/+/, '/') : `/${uri}`,
      'http://forwarded.invalid',
    ).pathname;
    return path.replace(/\/{2,}/g, '/');
  } catch {
    return undefined;
  }
}

/** Maps a forwarded path to what it is for. `/MCP/x` counts as MCP too: stricter, never looser. */
export function targetOf(path: string): ForwardTarget {
  const segments = path.split('/').slice(1);
  if (segments[0]?.toLowerCase() !== 'mcp') return { kind: 'other' };
  const rawServer = segments[1];
  if (rawServer === undefined || rawServer === '') return { kind: 'mcp' };
  let server: string;
  try {
    server = decodeURIComponent(rawServer);
  } catch {
    server = rawServer;
  }
  return { kind: 'server', server };
}

/** Header values must be visible ASCII; anything else is percent-encoded rather than dropped. */
function headerValue(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** Role names are comma separated: a name that would break the list is percent-encoded. */
function roleValue(role: string): string {
  return /^[\x21-\x7e]*$/.test(role) && !role.includes(',') ? role : encodeURIComponent(role);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export const forwardAuth: FastifyPluginAsync<ForwardAuthOptions> = async (
  scope: FastifyInstance,
  options: ForwardAuthOptions,
) => {
  const challenge = () =>
    typeof options.challenge === 'function'
      ? options.challenge()
      : (options.challenge ?? 'Bearer realm="omnihub"');

  const refuse = (reply: FastifyReply, err: HubError) => {
    if (err.status === 401) reply.header('www-authenticate', challenge());
    return reply
      .code(err.status)
      .header('cache-control', 'no-store')
      .send({ error: { code: err.code, message: err.message } });
  };

  const audit = (
    principal: Principal,
    req: FastifyRequest,
    method: string,
    host: string,
    uri: string,
    decision: { allow: boolean; rule: string; reason: string },
    server?: string,
  ) => {
    if (!options.audit) return;
    try {
      options.audit.record({
        type: 'auth',
        action: 'forward_auth',
        actor: {
          id: principal.id,
          ...(principal.userId ? { userId: principal.userId } : {}),
          ...(principal.email ? { email: principal.email } : {}),
          ...(principal.keyId ? { keyId: principal.keyId } : {}),
          roles: principal.roles,
        },
        client: { ip: req.ip },
        ...(server ? { server } : {}),
        target: `${method} ${host.slice(0, 200)}${uri.slice(0, 500)}`,
        decision,
        outcome: 'denied',
      });
    } catch (err) {
      options.logger?.warn({ err }, 'audit record failed');
    }
  };

  scope.get('/auth/verify', async (req, reply) => {
    const method = (single(req.headers['x-forwarded-method']) ?? 'GET').toUpperCase();
    const uri = single(req.headers['x-forwarded-uri']) ?? '/';
    const host = single(req.headers['x-forwarded-host']) ?? '';
    const query = req.query as Record<string, string | string[] | undefined>;

    let principal: Principal;
    try {
      principal = await options.authenticate(req);
      if (principal.method === 'none') throw new HubError('UNAUTHENTICATED', 'Authentication required');
    } catch (err) {
      if (isHubError(err) && err.status === 401) return refuse(reply, err);
      options.logger?.error({ err }, 'forward auth: authentication failed unexpectedly');
      // Fail closed, without saying why.
      return refuse(reply, new HubError('UNAUTHENTICATED', 'Authentication required'));
    }

    const deny = (message: string, rule: string, reason: string, server?: string) => {
      audit(principal, req, method, host, uri, { allow: false, rule, reason }, server);
      return refuse(reply, new HubError('ACCESS_DENIED', message));
    };

    if (!METHOD.test(method))
      return deny('Bad X-Forwarded-Method', 'bad request', `method ${method.slice(0, 40)}`);
    const path = forwardedPath(uri);
    if (path === undefined) return deny('Bad X-Forwarded-Uri', 'bad request', 'unparsable forwarded URI');

    const requiredRoles = single(query.role);
    if (requiredRoles !== undefined) {
      if (!ROLE_LIST.test(requiredRoles))
        return deny('Bad role parameter', 'bad request', 'bad ?role= on the verify URL');
      const wanted = requiredRoles.split(',');
      if (!wanted.some((r) => principal.roles.includes(r))) {
        return deny('Access denied', 'required role', `needs one of the roles ${wanted.join(', ')}`);
      }
    }

    const pinned = single(query.server);
    const target: ForwardTarget = pinned !== undefined ? { kind: 'server', server: pinned } : targetOf(path);

    if (target.kind !== 'other' && pinned === undefined && !MCP_METHODS.has(method)) {
      return deny(`Method ${method} is not used on MCP endpoints`, 'route', `method ${method} on ${path}`);
    }
    if (target.kind === 'server') {
      const server = target.server;
      // Unknown and disabled servers get the same answer as forbidden ones: names are not revealed.
      if (!SERVER_NAME.test(server) || !options.isServerEnabled(server)) {
        return deny(
          `Access to server ${headerValue(server).slice(0, 100)} is denied`,
          'unknown server',
          `no enabled server ${server.slice(0, 100)}`,
        );
      }
      const decision = decide(
        options.policy(),
        { roles: principal.roles, ...(principal.scopes !== undefined ? { scopes: principal.scopes } : {}) },
        { server, kind: 'server' },
      );
      if (!decision.allow)
        return deny(`Access to server ${server} is denied`, decision.rule, decision.reason, server);
      reply.header('x-omnihub-server', server);
    }

    return reply
      .code(200)
      .header('cache-control', 'no-store')
      .header('x-omnihub-user', headerValue(principal.email ?? principal.id))
      .header('x-omnihub-user-id', headerValue(principal.userId ?? principal.id))
      .header('x-omnihub-roles', principal.roles.map(roleValue).join(','))
      .header('x-omnihub-auth-method', principal.method)
      .send();
  });
};
