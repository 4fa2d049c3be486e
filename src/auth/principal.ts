import type { RuleConfig } from '../config/schema.ts';

/** How a request proved who it is. */
export type AuthMethod = 'jwt' | 'api_key' | 'idp' | 'none';

/**
 * Who is making a request, as the request path sees it: resolved from the in-memory user directory on
 * every request, so disabling a user or changing their roles takes effect on the next one.
 */
export interface Principal {
  /** Stable owner id for sessions and rate limits: `user:<uuid>`, `idp:<provider>:<sub>`, `anonymous`. */
  readonly id: string;
  readonly userId?: string;
  readonly email?: string;
  /** Sorted role names. */
  readonly roles: readonly string[];
  /** API-key narrowing: allow rules that must also grant (undefined = not narrowed). */
  readonly scopes?: readonly RuleConfig[];
  /** The API key's public id, when the request used one. */
  readonly keyId?: string;
  readonly method: AuthMethod;
}

/** Where the request came from (for audit and rate limits). */
export interface ClientInfo {
  readonly ip: string;
  readonly userAgent?: string;
}

export interface Authenticator {
  /**
   * Resolves the request's credentials (Authorization: Bearer <jwt | omh_ api key | IdP jwt>).
   * Throws HubError('UNAUTHENTICATED') when credentials are missing, malformed, expired, revoked or the
   * user is disabled. Never touches the database on the hot path for API keys or hub JWTs after warm-up.
   */
  authenticate(headers: Readonly<Record<string, string | string[] | undefined>>): Promise<Principal>;
}

export const ANONYMOUS: Principal = Object.freeze({ id: 'anonymous', roles: [], method: 'none' as const });

/**
 * Administrator means the `admin` role, and not through an API key narrowed by scopes: scopes narrow
 * everything, so a scoped key of an admin may use the MCP servers its scopes allow and nothing more.
 */
export function isAdmin(principal: Principal): boolean {
  return principal.roles.includes('admin') && principal.scopes === undefined;
}
