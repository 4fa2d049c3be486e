import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.ts';
import { backends, type TestDatabase } from '../store/test-backends.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { DEFAULT_ADMIN_EMAIL, ensureFirstAdmin } from './first-admin.ts';
import { verifyPassword } from './passwords.ts';

async function passwordHashOf(store: Store, email: string): Promise<string> {
  return (await store.users.getCredentials(email))?.passwordHash as string;
}

describe.each(backends)('first admin on $kind', (backend) => {
  let database: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    database = await backend.fresh();
    store = await database.open();
  });
  afterEach(async () => {
    await database.dispose();
  });

  it('creates the admin from OMNIHUB_ADMIN_EMAIL / OMNIHUB_ADMIN_PASSWORD, once', async () => {
    const printed: string[] = [];
    const env = { adminEmail: 'Root@Example.com', adminPassword: 'a long admin password' };
    const first = await ensureFirstAdmin(store, env, silentLogger, { print: (t) => printed.push(t) });
    expect(first).toEqual({ created: true, email: 'root@example.com', generatedPassword: false });
    const user = await store.users.getByEmail('root@example.com');
    expect(user).toMatchObject({ enabled: true, roles: ['admin'] });
    expect(await verifyPassword(await passwordHashOf(store, 'root@example.com'), env.adminPassword)).toBe(
      true,
    );
    expect(printed).toEqual([]); // a password the operator chose is never echoed

    expect(await ensureFirstAdmin(store, env, silentLogger)).toEqual({ created: false });
    expect((await store.users.list()).length).toBe(1);
  });

  it('generates a password and shows it once on stderr, never in the log', async () => {
    const printed: string[] = [];
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const result = await ensureFirstAdmin(store, {}, logger, { print: (t) => printed.push(t) });
    expect(result).toEqual({ created: true, email: DEFAULT_ADMIN_EMAIL, generatedPassword: true });
    const password = /password: (\S+)/.exec(printed.join(''))?.[1] as string;
    expect(password).toMatch(/^[0-9A-Za-z]{24}$/);
    expect(await verifyPassword(await passwordHashOf(store, DEFAULT_ADMIN_EMAIL), password)).toBe(true);
    expect(lines.join('')).toContain(DEFAULT_ADMIN_EMAIL);
    expect(lines.join('')).not.toContain(password);

    printed.length = 0;
    expect(await ensureFirstAdmin(store, {}, logger, { print: (t) => printed.push(t) })).toEqual({
      created: false,
    });
    expect(printed).toEqual([]);
  });

  it('creates a new admin when the only admin is disabled', async () => {
    await ensureFirstAdmin(
      store,
      { adminEmail: 'old@example.com', adminPassword: 'password-one' },
      silentLogger,
    );
    await store.users.upsert({ email: 'old@example.com', enabled: false });
    const again = await ensureFirstAdmin(
      store,
      { adminEmail: 'new@example.com', adminPassword: 'password-two' },
      silentLogger,
    );
    expect(again.created).toBe(true);
    expect(await store.users.getByEmail('new@example.com')).toMatchObject({
      enabled: true,
      roles: ['admin'],
    });
  });

  it.skipIf(backend.kind !== 'postgres')(
    'creates exactly one admin when two instances start together',
    async () => {
      const other = await database.open();
      const printed: string[] = [];
      const print = (t: string) => printed.push(t);
      const results = await Promise.all([
        ensureFirstAdmin(store, {}, silentLogger, { print }),
        ensureFirstAdmin(other, {}, silentLogger, { print }),
      ]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(printed).toHaveLength(1);
      const password = /password: (\S+)/.exec(printed[0] as string)?.[1] as string;
      expect(await verifyPassword(await passwordHashOf(store, DEFAULT_ADMIN_EMAIL), password)).toBe(true);
    },
  );
});
