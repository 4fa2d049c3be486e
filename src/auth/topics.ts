/**
 * Change topics the identity caches follow (store.notifyChange / store.onChange). Whoever changes
 * users, roles, API keys, sessions or signing keys in the database notifies one of these; every hub
 * instance sharing the database then reloads the affected cache within a moment.
 */

/** API keys, revoked sessions (refresh-token families), JWT signing keys. */
export const IDENTITY_TOPIC = 'identity';
/** Users and their roles (the admin API, the CLI). */
export const USERS_TOPIC = 'users';
/** Role definitions. */
export const ROLES_TOPIC = 'roles';
/** A config file was applied (may create users and roles). */
export const CONFIG_TOPIC = 'config';

/** Topics that make the in-memory user directory reload. */
export const USER_DIRECTORY_TOPICS: readonly string[] = [
  USERS_TOPIC,
  ROLES_TOPIC,
  CONFIG_TOPIC,
  IDENTITY_TOPIC,
];
