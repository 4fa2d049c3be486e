/**
 * The sign-in and discovery routes:
 *
 * - `POST /api/v1/auth/login` `{email, password}` → `{access_token, refresh_token, token_type, expires_in}`
 * - `POST /api/v1/auth/refresh` `{refresh_token}` → a new pair (the presented token is spent)
 * - `POST /api/v1/auth/logout` `{refresh_token?, all?}` with or without `Authorization: Bearer <access>`
 *   → 204; ends the session (with `all: true`, every session of the user)
 * - `GET /api/v1/auth/me` → who the credential belongs to
 * - `GET /api/v1/auth/signing-keys`, `POST /api/v1/auth/signing-keys/rotate`,
 *   `POST /api/v1/auth/signing-keys/{kid}/retire|disable` (admin) → JWT signing-key rotation
 * - `GET /.well-known/jwks.json` → the hub's public signing keys
 * - `GET /.well-known/oauth-protected-resource[/mcp[/{server}]]` → RFC 9728 metadata
 *
 * Errors use the `/api/v1` shape `{error: {code, message, data?}}`; 401s carry the RFC 9728 challenge,
 * 429s a Retry-After header.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditSink } from '../audit/types.ts';
import { HubError, isHubError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { LoginService } from './login.ts';
import { type Authenticator, type ClientInfo, isAdmin, type Principal } from './principal.ts';
import { type KeyRing, KID_FORMAT } from './signing-keys.ts';
import { RefreshError, type TokenService } from './tokens.ts';

/** The `WWW-Authenticate` value for a 401: where MCP clients find how to authenticate (RFC 9728). */
export function wwwAuthenticate(publicUrl: string, error?: 'invalid_token'): string {
  const metadata = `${publicUrl}/.well-known/oauth-protected-resource/mcp`;
  return error
    ? `Bearer error="${error}", resource_metadata="${metadata}"`
    : `Bearer resource_metadata="${metadata}"`;
}

/** RFC 9728 protected-resource metadata for `resource` (`<public>`, `<public>/mcp`, `<public>/mcp/x`). */
export function protectedResourceMetadata(
  resource: string,
  authorizationServers: readonly string[],
): Record<string, unknown> {
  return {
    resource,
    ...(authorizationServers.length > 0 ? { authorization_servers: [...authorizationServers] } : {}),
    bearer_methods_supported: ['header'],
    resource_name: 'omnihub',
  };
}

export interface AuthRoutesOptions {
  publicUrl: string;
  authenticator: Authenticator;
  login: LoginService;
  tokens: TokenService;
  keyRing: KeyRing;
  /** Issuers of the configured identity providers (listed as authorization servers). */
  authorizationServers: () => readonly string[];
  logger: Logger;
  audit?: AuditSink;
}

const SERVER_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

function clientOf(req: FastifyRequest): ClientInfo {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, ...(typeof ua === 'string' ? { userAgent: ua.slice(0, 300) } : {}) };
}

function bodyOf(req: FastifyRequest): Record<string, unknown> {
  const body = req.body;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HubError('INVALID_PARAMS', 'Expected a JSON object body');
  }
  return body as Record<string, unknown>;
}

export function authRoutes(options: AuthRoutesOptions): (app: FastifyInstance) => Promise<void> {
  const { publicUrl, authenticator, login, tokens, keyRing, logger, audit } = options;

  function send(reply: FastifyReply, err: unknown, req?: FastifyRequest): FastifyReply {
    let mapped: HubError;
    if (isHubError(err)) mapped = err;
    else if ((err as { statusCode?: number }).statusCode === 400)
      mapped = new HubError('BAD_REQUEST', 'Bad request');
    else if ((err as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      mapped = new HubError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    } else if ((err as { code?: string }).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      mapped = new HubError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
    } else {
      logger.error({ err }, 'auth route error');
      mapped = new HubError('INTERNAL', 'Internal error');
    }
    if (mapped.status === 401) {
      // RFC 6750 §3.1: `invalid_token` only when a credential was presented.
      const presented =
        req?.headers.authorization !== undefined || req?.url.startsWith('/api/v1/auth/refresh');
      reply.header('www-authenticate', wwwAuthenticate(publicUrl, presented ? 'invalid_token' : undefined));
    }
    const retry = (mapped.data as { retry_after?: number } | undefined)?.retry_after;
    if (mapped.status === 429 && retry !== undefined) reply.header('retry-after', String(retry));
    const error =
      mapped.data === undefined
        ? { code: mapped.code, message: mapped.message }
        : { code: mapped.code, message: mapped.message, data: mapped.data };
    return reply.code(mapped.status).header('cache-control', 'no-store').send({ error });
  }

  function record(
    action: 'token_refresh' | 'logout',
    actor: { id: string; userId?: string },
    req: FastifyRequest,
    outcome: 'ok' | 'denied',
    error?: string,
  ): void {
    if (!audit) return;
    try {
      const client = clientOf(req);
      audit.record({ type: 'auth', action, actor, client, outcome, ...(error ? { error } : {}) });
    } catch (err) {
      logger.warn({ err }, 'audit record failed');
    }
  }

  return async (app) => {
    await app.register(async (scope) => {
      scope.setErrorHandler((err, req, reply) => send(reply, err, req));

      scope.post('/api/v1/auth/login', async (req, reply) => {
        const body = bodyOf(req);
        const result = await login.login(body.email, body.password, clientOf(req));
        const { userId: _userId, ...pair } = result;
        return reply.header('cache-control', 'no-store').send(pair);
      });

      scope.post('/api/v1/auth/refresh', async (req, reply) => {
        const body = bodyOf(req);
        try {
          const { userId, ...pair } = await tokens.refresh(body.refresh_token);
          record('token_refresh', { id: `user:${userId}`, userId }, req, 'ok');
          return reply.header('cache-control', 'no-store').send(pair);
        } catch (err) {
          if (err instanceof RefreshError) {
            const actor = err.userId ? { id: `user:${err.userId}`, userId: err.userId } : { id: 'anonymous' };
            record(
              'token_refresh',
              actor,
              req,
              'denied',
              err.reason === 'reused' ? 'refresh token reused; session revoked' : err.message,
            );
          }
          throw err;
        }
      });

      scope.post('/api/v1/auth/logout', async (req, reply) => {
        const body = req.body === undefined || req.body === null ? {} : bodyOf(req);
        let principalUser: string | undefined;
        let sessionId: string | undefined;
        const header = req.headers.authorization;
        if (header !== undefined) {
          const principal = await authenticator.authenticate(req.headers);
          principalUser = principal.userId;
          const token = header.slice(header.indexOf(' ') + 1).trim();
          if (principal.method === 'jwt') sessionId = (await tokens.verifyAccess(token))?.sessionId;
        }
        if (typeof body.refresh_token === 'string') {
          const session = await tokens.sessionOf(body.refresh_token);
          // A refresh token of someone else than the caller is not the caller's to end.
          if (session && (principalUser === undefined || session.userId === principalUser)) {
            principalUser ??= session.userId;
            sessionId ??= session.sessionId;
            if (session.sessionId !== sessionId) await tokens.revokeSession(session.sessionId);
          }
        }
        if (principalUser === undefined)
          throw new HubError('UNAUTHENTICATED', 'Invalid or expired credentials');
        if (body.all === true) await tokens.revokeUserSessions(principalUser);
        else if (sessionId !== undefined) await tokens.revokeSession(sessionId);
        record('logout', { id: `user:${principalUser}`, userId: principalUser }, req, 'ok');
        return reply.code(204).header('cache-control', 'no-store').send();
      });

      scope.get('/api/v1/auth/me', async (req) => {
        const principal: Principal = await authenticator.authenticate(req.headers);
        return {
          id: principal.id,
          user_id: principal.userId ?? null,
          email: principal.email ?? null,
          roles: principal.roles,
          method: principal.method,
          key_id: principal.keyId ?? null,
          scopes: principal.scopes ?? null,
        };
      });
    });

    await app.register(async (scope) => {
      scope.setErrorHandler((err, req, reply) => send(reply, err, req));
      const requireAdmin = async (req: FastifyRequest): Promise<Principal> => {
        const principal = await authenticator.authenticate(req.headers);
        if (!isAdmin(principal))
          throw new HubError('ACCESS_DENIED', 'Only administrators manage signing keys');
        return principal;
      };
      const recordAdmin = (principal: Principal, req: FastifyRequest, action: string, target?: string) => {
        if (!audit) return;
        try {
          audit.record({
            type: 'admin',
            action,
            actor: {
              id: principal.id,
              ...(principal.userId ? { userId: principal.userId } : {}),
              ...(principal.keyId ? { keyId: principal.keyId } : {}),
            },
            client: clientOf(req),
            ...(target ? { target } : {}),
            outcome: 'ok',
          });
        } catch (err) {
          logger.warn({ err }, 'audit record failed');
        }
      };
      const view = async () => ({ items: await keyRing.list(), active: keyRing.active.kid });

      scope.get('/api/v1/auth/signing-keys', async (req) => {
        await requireAdmin(req);
        return view();
      });
      scope.post('/api/v1/auth/signing-keys/rotate', async (req) => {
        const principal = await requireAdmin(req);
        const kid = await keyRing.rotate();
        recordAdmin(principal, req, 'signing_key.rotate', kid);
        return view();
      });
      scope.post<{ Params: { kid: string; state: string } }>(
        '/api/v1/auth/signing-keys/:kid/:state',
        async (req) => {
          const principal = await requireAdmin(req);
          const { kid, state } = req.params;
          if (state !== 'retire' && state !== 'disable') throw new HubError('NOT_FOUND', 'Not found');
          if (!KID_FORMAT.test(kid)) throw new HubError('NOT_FOUND', 'No such signing key');
          if (kid === keyRing.active.kid) {
            throw new HubError('CONFLICT', 'The active key cannot be retired or disabled: rotate first');
          }
          if (!(await keyRing.setState(kid, state === 'retire' ? 'retired' : 'disabled'))) {
            throw new HubError('NOT_FOUND', 'No such signing key');
          }
          recordAdmin(principal, req, `signing_key.${state}`, kid);
          return view();
        },
      );
    });

    app.get('/.well-known/jwks.json', async (_req, reply) =>
      reply.header('cache-control', 'public, max-age=300').send(keyRing.jwks()),
    );

    const metadata = (resource: string) => (_req: FastifyRequest, reply: FastifyReply) =>
      reply
        .header('cache-control', 'public, max-age=300')
        .send(protectedResourceMetadata(resource, options.authorizationServers()));
    // RFC 9728 §3.1: the metadata of resource `<public><path>` lives at `/.well-known/oauth-protected-resource<path>`.
    app.get('/.well-known/oauth-protected-resource', metadata(publicUrl));
    app.get('/.well-known/oauth-protected-resource/mcp', metadata(`${publicUrl}/mcp`));
    app.get<{ Params: { server: string } }>(
      '/.well-known/oauth-protected-resource/mcp/:server',
      (req, reply) => {
        if (!SERVER_SEGMENT.test(req.params.server))
          return send(reply, new HubError('NOT_FOUND', 'Not found'));
        return metadata(`${publicUrl}/mcp/${req.params.server}`)(req, reply);
      },
    );
  };
}
