export type { ApiKeyCredential, ApiKeyRecord, ApiKeysRepository, NewApiKey } from './api-keys.ts';
export type { AuthSecretsRepository } from './auth-secrets.ts';
export { BUILTIN_ROLES, type MigrateResult, type Migration, migrate, migrations } from './migrations.ts';
export { PGliteDialect, type PGliteDialectConfig } from './pglite-dialect.ts';
export type { NewRefreshToken, RefreshTokenRow, RefreshTokensRepository } from './refresh-tokens.ts';
export type { RoleInput, RoleRecord, RolesRepository } from './roles.ts';
export type { Database, RoleRules, Transport } from './schema.ts';
export type { ServerRecord, ServersRepository, UpsertOutcome } from './servers.ts';
export type { SettingsRepository } from './settings.ts';
export type { NewSigningKey, SigningKeyRecord, SigningKeysRepository } from './signing-keys.ts';
export {
  type ChangeHandler,
  openStore,
  type Repositories,
  type Store,
  type StoreOptions,
  type StoreTransaction,
} from './store.ts';
export { normalizeEmail, type UserInput, type UserRecord, type UsersRepository } from './users.ts';
