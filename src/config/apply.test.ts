import { verify } from '@node-rs/argon2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.ts';
import { backends, type TestDatabase, waitFor } from '../store/test-backends.ts';
import { applyConfig } from './apply.ts';
import { parseConfig } from './load.ts';
import type { HubConfig } from './schema.ts';
import { readStoredSections } from './settings.ts';

const base = {
  servers: {
    database: { transport: 'stdio', command: 'node', args: ['examples/servers/database.mjs'], replicas: 2 },
    code: { transport: 'http', url: 'http://127.0.0.1:9101/mcp' },
  },
  roles: {
    developer: {
      allow: [
        { server: 'code', tools: '*' },
        { server: 'database', tools: ['analyze_sql', 'compare_plans'], resources: ['dev_*'] },
      ],
      deny: [{ server: 'database', tools: ['check_access'] }],
    },
    customer: { allow: [{ server: 'database', prompts: ['daily_sales_report'] }] },
  },
  users: [
    { email: 'John@Company.com', password: 'change-me', roles: ['developer'] },
    { email: 'ops@company.com', name: 'Ops', password: 'ops-password', roles: ['admin', 'customer'] },
  ],
};

/** Everything applyConfig may touch, in a comparable form. */
async function snapshot(store: Store) {
  const servers = await store.db.selectFrom('servers').selectAll().orderBy('name').execute();
  const roles = await store.db.selectFrom('roles').selectAll().orderBy('name').execute();
  const users = await store.db.selectFrom('users').selectAll().orderBy('email').execute();
  const userRoles = await store.db
    .selectFrom('user_roles')
    .selectAll()
    .orderBy('user_id')
    .orderBy('role_name')
    .execute();
  const settings = await store.db.selectFrom('settings').selectAll().orderBy('key').execute();
  return { servers, roles, users, userRoles, settings };
}

describe.each(backends)('applyConfig on $kind', (backend) => {
  let database: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    database = await backend.fresh();
    store = await database.open();
  });
  afterEach(async () => {
    await database?.dispose();
  });

  it('writes servers, roles and users with argon2id hashes, then notifies', async () => {
    const topics: string[] = [];
    store.onChange('config', (t) => {
      topics.push(t);
    });
    const summary = await applyConfig(store, parseConfig(base));
    expect(summary).toEqual({
      servers: { created: 2, updated: 0, unchanged: 0, removed: 0 },
      roles: { created: 2, updated: 0, unchanged: 0, removed: 0 },
      users: { created: 2, updated: 0, unchanged: 0, removed: 0 },
      settings: { created: 0, updated: 0, unchanged: 0, removed: 0 },
      changed: true,
    });
    expect((await store.servers.get('database'))?.config).toMatchObject({ command: 'node', replicas: 2 });
    expect((await store.roles.get('developer'))?.deny).toEqual([
      { server: 'database', tools: ['check_access'] },
    ]);

    const john = await store.users.getCredentials('john@company.com');
    expect(john?.user).toMatchObject({ email: 'john@company.com', roles: ['developer'], enabled: true });
    expect(john?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await verify(john!.passwordHash!, 'change-me')).toBe(true);
    expect((await store.users.getByEmail('ops@company.com'))?.roles).toEqual(['admin', 'customer']);
    await waitFor(() => topics.length === 1, 5_000, 'config notification');
  });

  it('changes nothing when the same config is applied again', async () => {
    await applyConfig(store, parseConfig(base));
    const before = await snapshot(store);
    const summary = await applyConfig(store, parseConfig(base));
    expect(summary).toEqual({
      servers: { created: 0, updated: 0, unchanged: 2, removed: 0 },
      roles: { created: 0, updated: 0, unchanged: 2, removed: 0 },
      users: { created: 0, updated: 0, unchanged: 2, removed: 0 },
      settings: { created: 0, updated: 0, unchanged: 0, removed: 0 },
      changed: false,
    });
    // Same hashes (no re-hash) and same updated_at everywhere.
    expect(await snapshot(store)).toEqual(before);
  });

  it('re-hashes a changed password and keeps the hash when the config drops the password', async () => {
    await applyConfig(store, parseConfig(base));
    const first = (await store.users.getCredentials('john@company.com'))!.passwordHash!;

    const changed = structuredClone(base);
    changed.users[0]!.password = 'a-new-password';
    const summary = await applyConfig(store, parseConfig(changed));
    expect(summary.users).toMatchObject({ updated: 1, unchanged: 1 });
    const second = (await store.users.getCredentials('john@company.com'))!.passwordHash!;
    expect(second).not.toBe(first);
    expect(await verify(second, 'a-new-password')).toBe(true);

    const withoutPassword = structuredClone(base) as { users: Array<{ password?: string }> };
    delete withoutPassword.users[0]!.password;
    await applyConfig(store, parseConfig(withoutPassword));
    expect((await store.users.getCredentials('john@company.com'))!.passwordHash).toBe(second);
  });

  it('counts a user whose roles changed as updated', async () => {
    await applyConfig(store, parseConfig(base));
    const changed = structuredClone(base);
    changed.users[0]!.roles = ['developer', 'customer'];
    const summary = await applyConfig(store, parseConfig(changed));
    expect(summary.users).toMatchObject({ updated: 1, unchanged: 1 });
    expect((await store.users.getByEmail('john@company.com'))?.roles).toEqual(['customer', 'developer']);
  });

  it('rolls everything back when a user names a role that does not exist', async () => {
    await applyConfig(store, parseConfig(base));
    const before = await snapshot(store);
    const topics: string[] = [];
    store.onChange('config', (t) => {
      topics.push(t);
    });

    // parseConfig would refuse this; build it by hand so the failure happens midway through the write.
    const config: HubConfig = parseConfig({
      ...base,
      servers: { ...base.servers, extra: { transport: 'http', url: 'http://127.0.0.1:9200/mcp' } },
      roles: { ...base.roles, analyst: {} },
      rate_limits: { default: { rate: 1, per: '1s' } },
    });
    config.servers.code = { ...config.servers.code!, timeout_ms: 5_000 };
    config.users = [
      { email: 'new@company.com', password: 'new-password', roles: ['analyst'], enabled: true },
      { email: 'john@company.com', password: 'other-password', roles: ['ghost'], enabled: true },
    ];
    await expect(applyConfig(store, config, { prune: true })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('ghost'),
    });
    expect(await snapshot(store)).toEqual(before);
    await new Promise((r) => setTimeout(r, 100));
    expect(topics).toEqual([]);
  });

  it('rolls everything back when the database refuses a row', async () => {
    await applyConfig(store, parseConfig(base));
    const before = await snapshot(store);
    const config = parseConfig(base);
    config.servers.code = { ...config.servers.code!, timeout_ms: 5_000 };
    config.roles.developer = { allow: [], deny: [] };
    // A name the database's CHECK constraint refuses, after valid writes in the same transaction.
    config.servers['bad name'] = config.servers.code!;
    await expect(applyConfig(store, config)).rejects.toThrow(/check constraint/);
    expect(await snapshot(store)).toEqual(before);
  });

  it('stores rate limits and alerts; a file without them keeps them, prune clears them', async () => {
    const withSections = {
      ...base,
      rate_limits: { default: { rate: 10, per: '1s' } },
      alerts: { webhooks: [{ url: 'https://ops.example.com/hook', format: 'slack' }] },
    };
    const first = await applyConfig(store, parseConfig(withSections));
    expect(first.settings).toEqual({ created: 2, updated: 0, unchanged: 0, removed: 0 });
    const stored = await readStoredSections(store.settings);
    expect(stored.rate_limits?.default).toEqual({ rate: 10, per: '1s' });
    expect(stored.alerts).toMatchObject({ settle_ms: 2_000, webhooks: [{ format: 'slack', headers: {} }] });

    const again = await applyConfig(store, parseConfig(withSections));
    expect(again.settings).toEqual({ created: 0, updated: 0, unchanged: 2, removed: 0 });
    expect(again.changed).toBe(false);

    const changed = { ...withSections, rate_limits: { default: { rate: 5, per: '1s' } } };
    expect((await applyConfig(store, parseConfig(changed))).settings).toMatchObject({
      updated: 1,
      unchanged: 1,
    });

    await applyConfig(store, parseConfig(base));
    expect(Object.keys(await readStoredSections(store.settings)).sort()).toEqual(['alerts', 'rate_limits']);
    const pruned = await applyConfig(store, parseConfig(base), { prune: true });
    expect(pruned.settings.removed).toBe(2);
    expect(await readStoredSections(store.settings)).toEqual({});
  });

  it('refuses a stored section this version cannot read, naming it', async () => {
    await store.settings.set('rate_limits', { default: { rate: 'lots', per: '1s' } });
    await expect(readStoredSections(store.settings)).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('rate_limits.default.rate'),
    });
  });

  it('prunes servers and roles the config no longer lists, never users or built-in roles', async () => {
    await applyConfig(store, parseConfig(base));
    const smaller = {
      servers: { code: base.servers.code },
      roles: { developer: base.roles.developer },
      users: [base.users[0]],
    };
    const kept = await applyConfig(store, parseConfig(smaller));
    expect(kept.servers.removed).toBe(0);
    expect((await store.servers.list()).map((s) => s.name)).toEqual(['code', 'database']);

    const summary = await applyConfig(store, parseConfig(smaller), { prune: true });
    expect(summary.servers).toEqual({ created: 0, updated: 0, unchanged: 1, removed: 1 });
    expect(summary.roles).toEqual({ created: 0, updated: 0, unchanged: 1, removed: 1 });
    expect(summary.users.removed).toBe(0);
    expect((await store.servers.list()).map((s) => s.name)).toEqual(['code']);
    expect((await store.roles.list()).map((r) => r.name)).toEqual(['admin', 'developer']);
    // ops@ is not in the config but stays; the pruned role is gone from its roles.
    expect((await store.users.getByEmail('ops@company.com'))?.roles).toEqual(['admin']);
  });
});
