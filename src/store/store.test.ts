import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';
import { migrate, migrations } from './migrations.ts';
import { listenerPid, openStore, type Store } from './store.ts';
import { backends, TEST_DATABASE_URL, type TestDatabase, waitFor } from './test-backends.ts';

const httpServer = (url: string): ServerConfig => ({
  transport: 'http',
  url,
  headers: {},
  enabled: true,
  replicas: 1,
  timeout_ms: 60_000,
  idempotent_tools: [],
});

const stdioServer: ServerConfig = {
  transport: 'stdio',
  command: 'node',
  args: ['examples/servers/database.mjs'],
  env: {},
  enabled: true,
  replicas: 2,
  timeout_ms: 60_000,
  idempotent_tools: [],
};

describe.each(backends)('store on $kind', (backend) => {
  let database: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    database = await backend.fresh();
    store = await database.open();
  });
  afterEach(async () => {
    await database?.dispose();
  });

  describe('migrations', () => {
    it('records every migration once and applies nothing the second time', async () => {
      expect(store.kind).toBe(backend.kind);
      const rows = await store.db.selectFrom('schema_migrations').select(['version', 'name']).execute();
      expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
      const again = await migrate(store.db, database.schema);
      expect(again.applied).toEqual([]);
      expect(again.current).toBe(migrations.at(-1)?.version);
    });

    it('refuses a database migrated by a newer omnihub', async () => {
      await store.db
        .insertInto('schema_migrations')
        .values({ version: 9999, name: 'from the future' })
        .execute();
      await expect(migrate(store.db, database.schema)).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    });

    it('seeds the built-in admin role', async () => {
      const admin = await store.roles.get('admin');
      expect(admin).toMatchObject({ name: 'admin', builtin: true });
      expect(admin?.allow[0]).toMatchObject({ server: '*', tools: '*' });
    });
  });

  describe('servers', () => {
    it('creates, reports unchanged, updates, lists, gets and removes', async () => {
      expect(await store.servers.upsert('code', httpServer('http://127.0.0.1:9101/mcp'))).toBe('created');
      expect(await store.servers.upsert('database', stdioServer)).toBe('created');
      expect(await store.servers.upsert('code', httpServer('http://127.0.0.1:9101/mcp'))).toBe('unchanged');
      const before = await store.servers.get('code');
      expect(await store.servers.upsert('code', httpServer('http://127.0.0.1:9102/mcp'))).toBe('updated');
      const after = await store.servers.get('code');
      expect(after?.config).toMatchObject({ transport: 'http', url: 'http://127.0.0.1:9102/mcp' });
      expect(after?.createdAt.getTime()).toBe(before?.createdAt.getTime());
      expect(after!.updatedAt.getTime()).toBeGreaterThanOrEqual(before!.updatedAt.getTime());

      expect(
        await store.servers.upsert('code', httpServer('http://127.0.0.1:9102/mcp'), { enabled: false }),
      ).toBe('updated');
      const disabled = await store.servers.get('code');
      expect(disabled).toMatchObject({ enabled: false, transport: 'http', config: { enabled: false } });

      const list = await store.servers.list();
      expect(list.map((s) => s.name)).toEqual(['code', 'database']);
      expect(list[1]?.config).toEqual(stdioServer);

      expect(await store.servers.remove('code')).toBe(true);
      expect(await store.servers.remove('code')).toBe(false);
      expect(await store.servers.get('code')).toBeUndefined();
    });

    it('rejects a name the MCP namespace cannot carry', async () => {
      await expect(store.servers.upsert('bad name', stdioServer)).rejects.toThrow(/check constraint/);
      expect(await store.servers.list()).toEqual([]);
    });
  });

  describe('roles', () => {
    it('creates, updates, lists and removes; the built-in admin role stays', async () => {
      const rules = {
        allow: [{ server: 'code', tools: '*' }],
        deny: [{ server: 'database', tools: ['drop'] }],
      };
      expect(await store.roles.upsert('developer', { description: 'Devs', ...rules })).toBe('created');
      expect(await store.roles.upsert('developer', { description: 'Devs', ...rules })).toBe('unchanged');
      expect(await store.roles.upsert('developer', { description: 'Developers', ...rules })).toBe('updated');
      expect(await store.roles.get('developer')).toMatchObject({
        name: 'developer',
        description: 'Developers',
        builtin: false,
        ...rules,
      });
      expect((await store.roles.list()).map((r) => r.name)).toEqual(['admin', 'developer']);

      expect(await store.roles.remove('developer')).toBe(true);
      expect(await store.roles.remove('developer')).toBe(false);
      await expect(store.roles.remove('admin')).rejects.toMatchObject({ code: 'CONFLICT' });
      expect(await store.roles.get('admin')).toBeDefined();
    });
  });

  describe('users', () => {
    it('stores emails lower case and finds them case-insensitively', async () => {
      const { id, outcome } = await store.users.upsert({ email: 'John@Company.COM', name: 'John' });
      expect(outcome).toBe('created');
      const user = await store.users.getByEmail('JOHN@company.com');
      expect(user).toMatchObject({
        id,
        email: 'john@company.com',
        name: 'John',
        enabled: true,
        hasPassword: false,
      });
      expect(user).not.toHaveProperty('passwordHash');
      expect(await store.users.get(id)).toMatchObject({ email: 'john@company.com' });
      expect(await store.users.get('not-a-uuid')).toBeUndefined();
      expect(await store.users.getByEmail('nobody@company.com')).toBeUndefined();
    });

    it('keeps fields the input leaves undefined and reports what changed', async () => {
      const { id } = await store.users.upsert({ email: 'a@x.io', name: 'A', passwordHash: '$argon2id$fake' });
      expect(await store.users.upsert({ email: 'a@x.io' })).toEqual({ id, outcome: 'unchanged' });
      expect(await store.users.upsert({ email: 'A@x.io', name: 'A' })).toEqual({ id, outcome: 'unchanged' });
      expect(await store.users.upsert({ email: 'a@x.io', enabled: false })).toEqual({
        id,
        outcome: 'updated',
      });
      const creds = await store.users.getCredentials('a@x.io');
      expect(creds?.passwordHash).toBe('$argon2id$fake');
      expect(creds?.user).toMatchObject({ id, name: 'A', enabled: false, hasPassword: true });
      await store.users.upsert({ email: 'a@x.io', passwordHash: null, name: null });
      expect(await store.users.getByEmail('a@x.io')).toMatchObject({ name: null, hasPassword: false });
    });

    it('replaces roles, rejects unknown ones, and cascades deletes', async () => {
      await store.roles.upsert('developer', {});
      await store.roles.upsert('analyst', {});
      const { id } = await store.users.upsert({ email: 'dev@x.io' });
      const other = await store.users.upsert({ email: 'other@x.io' });
      expect(await store.users.setRoles(id, ['developer', 'admin'])).toBe(true);
      expect(await store.users.setRoles(id, ['admin', 'developer'])).toBe(false);
      await store.users.setRoles(other.id, ['analyst']);
      expect((await store.users.get(id))?.roles).toEqual(['admin', 'developer']);

      await expect(store.users.setRoles(id, ['developer', 'ghost'])).rejects.toMatchObject({
        code: 'BAD_REQUEST',
        data: { missing: ['ghost'] },
      });
      expect((await store.users.get(id))?.roles).toEqual(['admin', 'developer']);

      expect(await store.users.setRoles(id, ['analyst'])).toBe(true);
      expect((await store.users.list()).map((u) => [u.email, u.roles])).toEqual([
        ['dev@x.io', ['analyst']],
        ['other@x.io', ['analyst']],
      ]);

      await store.roles.remove('analyst');
      expect((await store.users.get(id))?.roles).toEqual([]);
      await store.users.setRoles(id, ['developer']);
      expect(await store.users.remove(id)).toBe(true);
      expect(await store.users.remove(id)).toBe(false);
      const left = await store.db.selectFrom('user_roles').selectAll().execute();
      expect(left).toEqual([]);
    });
  });

  describe('transactions', () => {
    it('commits together or not at all', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.servers.upsert('code', httpServer('http://127.0.0.1:1/mcp'));
          await tx.roles.upsert('developer', {});
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await store.servers.list()).toEqual([]);
      expect(await store.roles.get('developer')).toBeUndefined();

      const result = await store.transaction(async (tx) => {
        await tx.servers.upsert('code', httpServer('http://127.0.0.1:1/mcp'));
        return tx.servers.list();
      });
      expect(result).toHaveLength(1);
      expect(await store.servers.get('code')).toBeDefined();
    });

    it('refuses to commit a transaction an error left aborted', async () => {
      await expect(
        store.transaction(async (tx) => {
          await tx.servers.upsert('code', httpServer('http://127.0.0.1:1/mcp'));
          // Swallowing the error does not make the rest of the transaction valid.
          await sql`select 1/0`.execute(tx.db).catch(() => {});
        }),
      ).rejects.toThrow();
      expect(await store.servers.list()).toEqual([]);
      expect(await store.ping()).toBe(true);
    });

    it('serializes concurrent transactions without losing writes', async () => {
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.transaction(async (tx) => {
            await tx.roles.upsert(`r${i}`, {});
            await sql`select pg_sleep(0.005)`.execute(tx.db);
            await tx.roles.upsert(`r${i}`, { description: `role ${i}` });
          }),
        ),
      );
      const roles = await store.roles.list();
      expect(roles.filter((r) => r.name.startsWith('r')).map((r) => r.description)).toHaveLength(10);
    });
  });

  describe('health', () => {
    it('pings while open and not after close', async () => {
      expect(await store.ping()).toBe(true);
      await store.close();
      expect(await store.ping()).toBe(false);
      await store.close(); // idempotent
    });
  });

  describe('change notifications', () => {
    it('delivers a topic to its handlers, including on the notifying store', async () => {
      const seen: string[] = [];
      const off = store.onChange('config', (topic) => {
        seen.push(topic);
      });
      const keys: string[] = [];
      store.onChange('keys', (topic) => {
        keys.push(topic);
      });
      await store.notifyChange('config');
      await store.notifyChange('keys');
      await waitFor(() => seen.length === 1 && keys.length === 1, 5_000, 'notifications');
      off();
      await store.notifyChange('config');
      await store.notifyChange('keys');
      await waitFor(() => keys.length === 2, 5_000, 'second keys notification');
      expect(seen).toEqual(['config']);
    });

    it('delivers a notification sent inside a transaction only after commit', async () => {
      const seen: string[] = [];
      store.onChange('config', (t) => {
        seen.push(t);
      });
      await expect(
        store.transaction(async (tx) => {
          await sql`select pg_notify(${store.channel}, 'config')`.execute(tx.db);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      await store.notifyChange('config');
      await waitFor(() => seen.length >= 1, 5_000, 'notification');
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toEqual(['config']);
    });

    it('keeps going when a handler throws, and validates topics', async () => {
      const seen: string[] = [];
      store.onChange('config', () => {
        throw new Error('handler bug');
      });
      store.onChange('config', async () => {
        throw new Error('async handler bug');
      });
      store.onChange('config', (t) => {
        seen.push(t);
      });
      await store.notifyChange('config');
      await waitFor(() => seen.length === 1, 5_000, 'notification');
      await expect(store.notifyChange('')).rejects.toBeInstanceOf(HubError);
      await expect(store.notifyChange('x'.repeat(201))).rejects.toMatchObject({ code: 'INVALID_PARAMS' });
    });
  });
});

const postgres = backends.find((b) => b.kind === 'postgres');

describe.skipIf(!postgres)('store on postgres: several hub instances', () => {
  const databases: TestDatabase[] = [];
  afterAll(async () => {
    for (const d of databases) await d.dispose();
  });
  const fresh = async () => {
    const d = await postgres!.fresh();
    databases.push(d);
    return d;
  };

  it('migrates once when two instances start together', async () => {
    const database = await fresh();
    const stores = await Promise.all([database.open(), database.open(), database.open()]);
    const rows = await stores[0]!.db.selectFrom('schema_migrations').select('version').execute();
    expect(rows.map((r) => r.version)).toEqual(migrations.map((m) => m.version));
    expect((await stores[1]!.roles.list()).map((r) => r.name)).toEqual(['admin']);
  });

  it('reopens an existing schema without applying anything', async () => {
    const database = await fresh();
    const first = await database.open();
    await first.servers.upsert('database', stdioServer);
    await first.close();
    const second = await database.open();
    expect(await migrate(second.db, database.schema)).toEqual({
      applied: [],
      current: migrations.at(-1)?.version,
    });
    expect(await second.servers.get('database')).toBeDefined();
  });

  it('keeps each schema to itself', async () => {
    const a = await (await fresh()).open();
    const b = await (await fresh()).open();
    await a.servers.upsert('database', stdioServer);
    expect(await b.servers.list()).toEqual([]);
    expect(a.channel).not.toBe(b.channel);
  });

  it('delivers changes from one instance to another', async () => {
    const database = await fresh();
    const a = await database.open();
    const b = await database.open();
    const seenA: string[] = [];
    const seenB: string[] = [];
    a.onChange('config', (t) => {
      seenA.push(t);
    });
    b.onChange('config', (t) => {
      seenB.push(t);
    });
    await a.notifyChange('config');
    await waitFor(() => seenA.length === 1 && seenB.length === 1, 5_000, 'both instances');
  });

  it('reconnects the listener after its connection is killed and replays every topic', async () => {
    const database = await fresh();
    const a = await database.open();
    const b = await database.open();
    const seen: string[] = [];
    b.onChange('config', (t) => {
      seen.push(t);
    });
    const pid = listenerPid(b);
    expect(pid).toBeTypeOf('number');
    const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      await admin.query('select pg_terminate_backend($1)', [pid]);
    } finally {
      await admin.end();
    }
    // Notifications sent while disconnected are lost, so the reconnect itself signals every topic.
    await waitFor(
      () => seen.length >= 1 && listenerPid(b) !== undefined && listenerPid(b) !== pid,
      10_000,
      'reconnect',
    );
    const before = seen.length;
    await a.notifyChange('config');
    await waitFor(() => seen.length === before + 1, 5_000, 'notification after reconnect');
  });

  it('fails clearly when PostgreSQL is unreachable', async () => {
    const err = await openStore({ databaseUrl: 'postgres://nobody:secret@127.0.0.1:1/none' }).catch((e) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(String(err.message)).not.toContain('secret');
  });

  it('rejects a schema name that is not a plain identifier', async () => {
    await expect(openStore({ databaseUrl: TEST_DATABASE_URL, schema: 'x; drop' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});

describe('store on pglite: data directory', () => {
  it('refuses a directory another live process holds and takes over a stale lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'omnihub-store-'));
    try {
      // A live process other than us (our parent) holds it: refused.
      await writeFile(join(dir, 'omnihub.lock'), String(process.ppid));
      await expect(openStore({ dataDir: dir })).rejects.toMatchObject({
        message: expect.stringContaining(`in use by process ${process.ppid}`),
      });
      // pid 2^22+1 is above Linux's pid_max default ceiling, so no process has it.
      await writeFile(join(dir, 'omnihub.lock'), String(4_194_305));
      let store = await openStore({ dataDir: dir });
      expect(await store.ping()).toBe(true);
      await store.close();
      // Our own pid in the file, but this process does not hold the directory: a restarted container.
      await writeFile(join(dir, 'omnihub.lock'), String(process.pid));
      store = await openStore({ dataDir: dir });
      expect(await readFile(join(dir, 'omnihub.lock'), 'utf8')).toBe(String(process.pid));
      await store.close();
      await expect(readFile(join(dir, 'omnihub.lock'), 'utf8')).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('persists across restarts and migrates once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'omnihub-store-'));
    try {
      const first = await openStore({ dataDir: join(dir, 'data') });
      await first.servers.upsert('database', stdioServer);
      await first.close();
      const second = await openStore({ dataDir: join(dir, 'data') });
      try {
        expect(await migrate(second.db)).toEqual({ applied: [], current: migrations.at(-1)?.version });
        expect((await second.servers.get('database'))?.config).toEqual(stdioServer);
        // A second opener of the same directory would corrupt it: refused while the first is open.
        await expect(openStore({ dataDir: join(dir, 'data') })).rejects.toMatchObject({
          code: 'STORE_UNAVAILABLE',
          message: expect.stringContaining('already open'),
        });
      } finally {
        await second.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
