/** Shared setup for the auth tests: a store on a test backend, the auth services, a user or two. */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';
import type { TestBackend, TestDatabase } from '../store/test-backends.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { type AuthServices, type AuthServicesOptions, createAuthServices } from './index.ts';
import { hashPassword } from './passwords.ts';

export const PUBLIC_URL = 'https://hub.example.test';

export interface AuthFixture {
  database: TestDatabase;
  store: Store;
  auth: AuthServices;
  secret: string;
  dispose(): Promise<void>;
}

export async function authFixture(
  backend: TestBackend,
  options: Partial<AuthServicesOptions> = {},
): Promise<AuthFixture> {
  const database = await backend.fresh();
  const store = await database.open();
  const secret = randomBytes(32).toString('base64url');
  const auth = await createAuthServices({
    store,
    env: { secret, publicUrl: PUBLIC_URL },
    logger: silentLogger,
    ...options,
  });
  return {
    database,
    store,
    auth,
    secret,
    async dispose() {
      await auth.close();
      await database.dispose();
    },
  };
}

/** Creates a user with roles (and a password when given) and tells the caches. */
export async function createUser(
  store: Store,
  auth: AuthServices,
  email: string,
  roles: string[] = [],
  password?: string,
): Promise<string> {
  for (const role of roles) {
    if (role !== 'admin') await store.roles.upsert(role, { allow: [], deny: [] });
  }
  const { id } = await store.users.upsert({
    email,
    ...(password !== undefined ? { passwordHash: await hashPassword(password) } : {}),
  });
  await store.users.setRoles(id, roles);
  await auth.users.load();
  return id;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
