/**
 * Identity and authentication, assembled. The server calls one factory (src/server/start.ts):
 *
 * ```ts
 * const auth = await createAuthServices({ store, env, logger, config, audit });
 * await ensureFirstAdmin(store, env, logger);           // before or after, once per start
 * const hub = await build({ ..., authenticator: auth.authenticator, routes: [auth.routes] });
 * // on config reload: auth.setIdentityProviders(config.identity_providers ?? []);
 * // on shutdown (before store.close()): await auth.close();
 * ```
 *
 * Everything on the request path is in memory: the user directory, the usable API keys, the signing
 * keys, the revoked sessions. Each reloads when its change topic fires (src/auth/topics.ts), from this
 * instance or any other sharing the database.
 */
import type { AuditSink } from '../audit/types.ts';
import type { HubEnv } from '../config/env.ts';
import type { IdentityProviderConfig } from '../config/schema.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { AccessTokens } from './access-tokens.ts';
import { ApiKeyService } from './api-keys.ts';
import { createAuthenticator } from './authenticator.ts';
import type { FailureRule } from './brute-force.ts';
import { type IdentityProviderOptions, IdentityProviders } from './idp.ts';
import { LoginService } from './login.ts';
import type { Authenticator } from './principal.ts';
import { Reloader } from './reloader.ts';
import { authRoutes } from './routes.ts';
import { resolveServerKeys } from './server-secret.ts';
import { KeyRing } from './signing-keys.ts';
import { TokenService } from './tokens.ts';
import { IDENTITY_TOPIC, USER_DIRECTORY_TOPICS } from './topics.ts';
import { UserDirectory } from './user-directory.ts';

export { type ApiKeyRecord, ApiKeyService, type CreateApiKeyInput, type CreatedApiKey } from './api-keys.ts';
export {
  bearerToken,
  createAuthenticator,
  INVALID_CREDENTIALS,
  MISSING_CREDENTIALS,
} from './authenticator.ts';
export { ensureFirstAdmin } from './first-admin.ts';
export { authRoutes, protectedResourceMetadata, wwwAuthenticate } from './routes.ts';
export { KeyRing } from './signing-keys.ts';
export { type TokenPair, TokenService } from './tokens.ts';
export * from './topics.ts';
export { UserDirectory } from './user-directory.ts';

export interface AuthServicesOptions {
  store: Store;
  env: Pick<HubEnv, 'secret' | 'publicUrl'>;
  logger: Logger;
  /** Only `identity_providers` is read. */
  config?: { identity_providers?: IdentityProviderConfig[] };
  audit?: AuditSink;
  /** Access-token lifetime in seconds (default 900). */
  accessTokenTtlSeconds?: number;
  refreshTokenTtlSeconds?: number;
  sessionTtlSeconds?: number;
  loginLimits?: { perAccount?: FailureRule; perClient?: FailureRule };
  identityProviderOptions?: IdentityProviderOptions;
  /** Password check override (tests). */
  verifyPassword?: (storedHash: string, password: string) => Promise<boolean>;
}

export interface AuthServices {
  /** `authenticate(headers)` → Principal, or HubError('UNAUTHENTICATED'). */
  authenticator: Authenticator;
  keyRing: KeyRing;
  apiKeys: ApiKeyService;
  tokens: TokenService;
  login: LoginService;
  users: UserDirectory;
  idps: IdentityProviders;
  /** For `build({ routes: [auth.routes] })`: login/refresh/logout/me, JWKS, OAuth metadata. */
  routes: (app: import('fastify').FastifyInstance) => Promise<void>;
  /** Replaces the identity providers (config reload). */
  setIdentityProviders(configs: readonly IdentityProviderConfig[]): void;
  /** Re-reads every identity cache now (tests, `omnihub doctor`). */
  reload(): Promise<void>;
  /** Stops following changes and writes pending key usage. Call before `store.close()`. */
  close(): Promise<void>;
}

export async function createAuthServices(options: AuthServicesOptions): Promise<AuthServices> {
  const { store, env, logger, audit } = options;
  const serverKeys = await resolveServerKeys(store, env.secret, logger);

  const keyRing = new KeyRing(store, serverKeys.signingKeySeal, logger);
  await keyRing.load();
  const users = new UserDirectory(store);
  await users.load();
  const apiKeys = new ApiKeyService({ store, hashKey: serverKeys.apiKeyHash, logger, audit });
  await apiKeys.load();
  const access = new AccessTokens({
    keyRing,
    store,
    logger,
    publicUrl: env.publicUrl,
    ttlSeconds: options.accessTokenTtlSeconds,
  });
  await access.reloadRevocations();
  const offKeys = keyRing.onChange(() => access.keysChanged());
  const tokens = new TokenService({
    store,
    access,
    users,
    hashKey: serverKeys.refreshTokenHash,
    logger,
    refreshTtlSeconds: options.refreshTokenTtlSeconds,
    sessionTtlSeconds: options.sessionTtlSeconds,
  });
  const idps = new IdentityProviders(
    options.config?.identity_providers ?? [],
    options.identityProviderOptions,
  );
  const authenticator = createAuthenticator({ apiKeys, access, users, idps });
  const login = new LoginService({
    store,
    tokens,
    users,
    logger,
    audit,
    ...options.loginLimits,
    ...(options.verifyPassword ? { verifyPassword: options.verifyPassword } : {}),
  });

  const usersReloader = new Reloader(() => users.load(), logger, 'users');
  const keysReloader = new Reloader(() => keyRing.reload(), logger, 'signing keys');
  const reloadIdentity = () =>
    Promise.all([apiKeys.load(), access.reloadRevocations(), keysReloader.trigger()]).then(() => {});
  const subscriptions = [
    ...USER_DIRECTORY_TOPICS.map((topic) => store.onChange(topic, () => usersReloader.trigger())),
    store.onChange(IDENTITY_TOPIC, reloadIdentity),
  ];

  const routes = authRoutes({
    publicUrl: env.publicUrl,
    authenticator,
    login,
    tokens,
    keyRing,
    authorizationServers: () => idps.issuers,
    logger,
    audit,
  });

  // Sessions that ended long ago only take space: sweep them now and then (any instance may).
  const purge = setInterval(() => {
    tokens.purgeExpired().catch((err: unknown) => logger.warn({ err }, 'purging ended sessions failed'));
  }, 3_600_000);
  purge.unref();

  let closed = false;
  return {
    authenticator,
    keyRing,
    apiKeys,
    tokens,
    login,
    users,
    idps,
    routes,
    setIdentityProviders: (configs) => idps.set(configs),
    reload: async () => {
      await Promise.all([usersReloader.trigger(), reloadIdentity()]);
    },
    close: async () => {
      if (closed) return;
      closed = true;
      clearInterval(purge);
      for (const off of subscriptions) off();
      offKeys();
      await apiKeys.close();
    },
  };
}
