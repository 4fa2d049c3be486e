/**
 * Turns `Authorization: Bearer <credential>` into a Principal:
 * - `omh_…`: an API key (in-memory cache, constant-time hash comparison);
 * - a JWT whose `iss` is the hub: a hub access token (pinned keys and algorithms, cached verification);
 * - a JWT whose `iss` is a configured identity provider: verified against that provider's JWKS.
 * Roles always come from the in-memory user directory, read on every request, so disabling a user or
 * changing their roles counts from the next request. Nothing here touches the database for a known API
 * key or a hub token.
 *
 * Every failure is the same 401 message: the client learns that the credential did not work, not
 * which part of it was wrong (the reason travels in `cause`, for debug logs only).
 */
import type { RuleConfig } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';
import type { AccessTokens } from './access-tokens.ts';
import { looksLikeApiKey } from './api-key-format.ts';
import type { ApiKeyService } from './api-keys.ts';
import type { IdentityProviders, IdpIdentity } from './idp.ts';
import type { Authenticator, AuthMethod, Principal } from './principal.ts';
import type { UserDirectory } from './user-directory.ts';

export const MISSING_CREDENTIALS = 'Authentication required: send Authorization: Bearer <API key or token>';
export const INVALID_CREDENTIALS = 'Invalid or expired credentials';

const MAX_CREDENTIAL_LENGTH = 8_192;
const MAX_CACHED_IDP = 10_000;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export interface AuthenticatorOptions {
  apiKeys: ApiKeyService;
  access: AccessTokens;
  users: UserDirectory;
  idps?: IdentityProviders;
  now?: () => number;
}

function unauthenticated(reason: string): HubError {
  return new HubError('UNAUTHENTICATED', INVALID_CREDENTIALS, { cause: reason });
}

/** The credential from an Authorization header value; undefined when there is none. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  // Several Authorization headers: ambiguous, refused rather than guessed.
  if (Array.isArray(header)) throw unauthenticated('several Authorization headers');
  const space = header.indexOf(' ');
  if (space < 0 || header.slice(0, space).toLowerCase() !== 'bearer') {
    throw unauthenticated('not a Bearer credential');
  }
  const token = header.slice(space + 1).trim();
  if (token.length === 0) return undefined;
  if (token.length > MAX_CREDENTIAL_LENGTH) throw unauthenticated('credential too long');
  return token;
}

/** The unverified `iss` of a JWT, only to pick who verifies it. */
function unverifiedIssuer(token: string): unknown {
  const payload = token.slice(token.indexOf('.') + 1, token.lastIndexOf('.'));
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as unknown;
    return claims !== null && typeof claims === 'object' ? (claims as { iss?: unknown }).iss : undefined;
  } catch {
    return undefined;
  }
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { apiKeys, access, users, idps } = options;
  const now = options.now ?? Date.now;
  let idpVerified = new Map<string, { identity: IdpIdentity; expiresAt: number; generation: number }>();

  async function userPrincipal(
    userId: string,
    method: AuthMethod,
    extra: { keyId?: string; scopes?: readonly RuleConfig[] } = {},
  ): Promise<Principal> {
    const user = await users.get(userId);
    if (!user) throw unauthenticated('unknown user');
    if (!user.enabled) throw unauthenticated('user disabled');
    return {
      id: `user:${user.id}`,
      userId: user.id,
      email: user.email,
      roles: user.roles,
      method,
      ...(extra.keyId !== undefined ? { keyId: extra.keyId } : {}),
      ...(extra.scopes !== undefined ? { scopes: extra.scopes } : {}),
    };
  }

  async function idpIdentity(issuer: string, token: string): Promise<IdpIdentity> {
    if (!idps) throw unauthenticated('unknown issuer');
    const cached = idpVerified.get(token);
    if (cached && cached.expiresAt > now() && cached.generation === idps.generation) return cached.identity;
    let identity: IdpIdentity;
    try {
      identity = await idps.verify(issuer, token);
    } catch (err) {
      throw unauthenticated(`identity provider token rejected: ${(err as Error).message}`);
    }
    if (idpVerified.size >= MAX_CACHED_IDP) idpVerified = new Map();
    // Trust the cached result at most one minute, and never past the token's own expiry.
    idpVerified.set(token, {
      identity,
      expiresAt: Math.min(now() + 60_000, identity.expiresAt),
      generation: idps.generation,
    });
    return identity;
  }

  return {
    async authenticate(headers) {
      const token = bearerToken(headers.authorization);
      if (token === undefined) throw new HubError('UNAUTHENTICATED', MISSING_CREDENTIALS);

      if (looksLikeApiKey(token)) {
        const key = await apiKeys.verify(token);
        if (!key) throw unauthenticated('API key rejected');
        return userPrincipal(key.userId, 'api_key', {
          keyId: key.id,
          ...(key.scopes !== undefined ? { scopes: key.scopes } : {}),
        });
      }

      // A hub token seen before: one Map lookup.
      const known = access.peek(token);
      if (known) return userPrincipal(known.userId, 'jwt');

      if (!JWT_SHAPE.test(token)) throw unauthenticated('neither an API key nor a JWT');
      const issuer = unverifiedIssuer(token);
      if (issuer === access.issuer) {
        const claims = await access.verify(token);
        if (!claims) throw unauthenticated('hub token rejected');
        return userPrincipal(claims.userId, 'jwt');
      }
      if (typeof issuer === 'string' && idps?.has(issuer)) {
        const identity = await idpIdentity(issuer, token);
        return {
          id: `idp:${identity.provider}:${identity.subject}`,
          ...(identity.email ? { email: identity.email } : {}),
          roles: identity.roles,
          method: 'idp',
        };
      }
      throw unauthenticated('JWT from an unknown issuer');
    },
  };
}
