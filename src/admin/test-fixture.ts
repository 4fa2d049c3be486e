/**
 * Test setup for the admin API: a real store (PGlite or PostgreSQL), the real auth services, the admin
 * routes and the auth routes on one Fastify app, an admin user with an API key, and an audit sink that
 * keeps what it was given.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { AuditInput, AuditSink } from '../audit/types.ts';
import { type AuthServices, createAuthServices } from '../auth/index.ts';
import { hashPassword } from '../auth/passwords.ts';
import { wwwAuthenticate } from '../auth/routes.ts';
import type { RoleConfig } from '../config/schema.ts';
import { type CompiledPolicy, compilePolicy } from '../policy/index.ts';
import type { Store } from '../store/store.ts';
import type { TestBackend, TestDatabase } from '../store/test-backends.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { adminRoutes } from './plugin.ts';

export const PUBLIC_URL = 'https://hub.example.test';
export const ADMIN_EMAIL = 'root@example.test';

export class RecordingAudit implements AuditSink {
  readonly events: AuditInput[] = [];
  record(input: AuditInput): void {
    this.events.push(structuredClone(input));
  }
  actions(): string[] {
    return this.events.map((e) => e.action);
  }
}

/** The compiled policy of the roles in the store, recompiled when roles or the config change. */
export class StorePolicy {
  #policy: CompiledPolicy = compilePolicy({});
  readonly #store: Store;
  readonly #off: (() => void)[];
  constructor(store: Store) {
    this.#store = store;
    this.#off = ['roles', 'config'].map((t) => store.onChange(t, () => this.load()));
  }
  async load(): Promise<void> {
    const roles: Record<string, RoleConfig> = {};
    for (const r of await this.#store.roles.list()) roles[r.name] = { allow: r.allow, deny: r.deny };
    this.#policy = compilePolicy(roles);
  }
  get current(): CompiledPolicy {
    return this.#policy;
  }
  close(): void {
    for (const off of this.#off) off();
  }
}

export interface AdminFixture {
  database: TestDatabase;
  store: Store;
  auth: AuthServices;
  app: FastifyInstance;
  audit: RecordingAudit;
  policy: StorePolicy;
  adminId: string;
  /** An unscoped API key of the admin. */
  adminKey: string;
  /** Creates a user with roles (and password) and returns an API key for them. */
  userWithKey(email: string, roles: string[], password?: string): Promise<{ id: string; key: string }>;
  dispose(): Promise<void>;
}

export async function adminFixture(backend: TestBackend): Promise<AdminFixture> {
  const database = await backend.fresh();
  const store = await database.open();
  const audit = new RecordingAudit();
  const auth = await createAuthServices({
    store,
    env: { secret: randomBytes(32).toString('base64url'), publicUrl: PUBLIC_URL },
    logger: silentLogger,
    audit,
  });
  const policy = new StorePolicy(store);
  await policy.load();

  const app = Fastify();
  await auth.routes(app);
  await app.register(adminRoutes, {
    store,
    authenticate: (req) => auth.authenticator.authenticate(req.headers),
    apiKeys: auth.apiKeys,
    policy: () => policy.current,
    audit,
    logger: silentLogger,
    challenge: () => wwwAuthenticate(PUBLIC_URL),
  });
  await app.ready();

  async function userWithKey(email: string, roles: string[], password?: string) {
    const { id } = await store.users.upsert({
      email,
      ...(password !== undefined ? { passwordHash: await hashPassword(password) } : {}),
    });
    await store.users.setRoles(id, roles);
    await auth.users.load();
    const { key } = await auth.apiKeys.create({ userId: id, name: `${email} test key` });
    return { id, key };
  }

  const admin = await userWithKey(ADMIN_EMAIL, ['admin']);
  audit.events.length = 0;
  return {
    database,
    store,
    auth,
    app,
    audit,
    policy,
    adminId: admin.id,
    adminKey: admin.key,
    userWithKey,
    async dispose() {
      policy.close();
      await app.close();
      await auth.close();
      await database.dispose();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
