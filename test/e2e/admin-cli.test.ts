/**
 * `omnihub user|key|role|server …` as an operator runs them: the real CLI (`node bin/omnihub.mjs`) in
 * a child process on an embedded database directory; the effects are then checked through the store
 * and the real authenticator.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthServices } from '../../src/auth/index.ts';
import { verifyPassword } from '../../src/auth/passwords.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

// Each run starts Node, tsx and the embedded database: seconds apiece, more on a loaded machine.
describe('omnihub user / key / role / server', { timeout: 600_000 }, () => {
  let dir: string;
  const secret = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'omnihub-cli-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function cli(args: string[], stdin?: string): Promise<Run> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        ['bin/omnihub.mjs', ...args],
        {
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            OMNIHUB_DATA_DIR: join(dir, 'data'),
            OMNIHUB_SECRET: secret,
            OMNIHUB_LOG_LEVEL: 'warn',
          },
          timeout: 120_000,
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
          resolve({ code, stdout, stderr });
        },
      );
      child.stdin?.end(stdin ?? '');
    });
  }

  /** Opens the same embedded database the CLI used (the CLI has exited: the directory is free). */
  async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
    const store = await openStore({ dataDir: join(dir, 'data') });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  }

  it('adds users (password from stdin), refuses bad input and duplicates with a clear message', async () => {
    const added = await cli(
      ['user', 'add', 'Ops@Example.test', '--name', 'Ops', '--role', 'admin', '--password-stdin'],
      'a long enough password\n',
    );
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    expect(added.stdout).toContain('created ops@example.test (enabled; roles: admin)');

    const dup = await cli(['user', 'add', 'ops@example.test']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('already exists');

    const bad = await cli(['user', 'add', 'not-an-email', '--role', 'nope']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/email: Invalid email/);

    const unknownRole = await cli(['user', 'add', 'x@example.test', '--role', 'nope']);
    expect(unknownRole.code).toBe(1);
    expect(unknownRole.stderr).toContain('nope');

    const list = await cli(['user', 'list', '--json']);
    const users = JSON.parse(list.stdout) as { email: string; roles: string[]; has_password: boolean }[];
    expect(users).toEqual([
      expect.objectContaining({ email: 'ops@example.test', roles: ['admin'], has_password: true }),
    ]);

    await withStore(async (store) => {
      const creds = await store.users.getCredentials('ops@example.test');
      expect(creds?.passwordHash).toMatch(/^\$argon2id\$/);
      expect(await verifyPassword(creds?.passwordHash as string, 'a long enough password')).toBe(true);
    });
  });

  it('sets roles, disables, enables, resets passwords and removes users', async () => {
    await withStore((store) => store.roles.upsert('developer', { allow: [{ server: 'code', tools: '*' }] }));
    expect((await cli(['user', 'add', 'dev@example.test', '--generate-password'])).stdout).toMatch(
      /password \(shown once\): [0-9A-Za-z]{24}/,
    );
    expect((await cli(['user', 'set-roles', 'dev@example.test', 'developer'])).stdout).toContain(
      'roles: developer',
    );
    expect((await cli(['user', 'disable', 'dev@example.test'])).stdout).toContain('disabled');
    const generated = await cli(['user', 'passwd', 'dev@example.test']);
    const password = /password \(shown once\): (\S+)/.exec(generated.stdout)?.[1];
    expect(password).toBeTruthy();
    await withStore(async (store) => {
      const creds = await store.users.getCredentials('dev@example.test');
      expect(creds?.user).toMatchObject({ enabled: false, roles: ['developer'] });
      expect(await verifyPassword(creds?.passwordHash as string, password as string)).toBe(true);
    });
    expect((await cli(['user', 'enable', 'dev@example.test'])).code).toBe(0);

    // The last enabled admin stays: the CLI is bound by the same rule as the API.
    const lockout = await cli(['user', 'rm', 'ops@example.test']);
    expect(lockout.code).toBe(1);
    expect(lockout.stderr).toContain('no enabled user with the admin role');
  });

  it('creates API keys that authenticate on a hub sharing the store, lists them without secrets, revokes them', async () => {
    const created = await cli(['key', 'create', '--user', 'dev@example.test', '--name', 'laptop', '--json']);
    expect(created.code).toBe(0);
    const { key, id } = JSON.parse(created.stdout) as { key: string; id: string };
    expect(key).toMatch(/^omh_/);

    const scoped = await cli([
      'key',
      'create',
      '-u',
      'dev@example.test',
      '-n',
      'ci',
      '--scopes',
      '[{"server":"code","tools":["run_tests"]}]',
    ]);
    expect(scoped.stdout).toContain('key (shown once, store it now): omh_');
    const badScopes = await cli([
      'key',
      'create',
      '-u',
      'dev@example.test',
      '-n',
      'x',
      '--scopes',
      '[{"tools":1}]',
    ]);
    expect(badScopes.code).toBe(1);
    expect(badScopes.stderr).toContain('scopes.0.tools');

    const listed = await cli(['key', 'list', '--user', 'dev@example.test']);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(key.split('_')[2]);

    const authenticate = () =>
      withStore(async (store) => {
        const auth = await createAuthServices({
          store,
          env: { secret, publicUrl: 'https://hub.example.test' },
          logger: silentLogger,
        });
        try {
          return await auth.authenticator.authenticate({ authorization: `Bearer ${key}` });
        } finally {
          await auth.close();
        }
      });
    expect(await authenticate()).toMatchObject({
      email: 'dev@example.test',
      roles: ['developer'],
      keyId: id,
    });

    expect((await cli(['key', 'revoke', id])).stdout).toContain(`revoked ${id}`);
    await expect(authenticate()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await cli(['key', 'revoke', 'AAAAAAAAAAAA'])).stderr).toContain('No API key');
  });

  it('shows roles and manages servers', async () => {
    const roles = await cli(['role', 'list']);
    expect(roles.stdout).toMatch(/admin \(built in\)\s+1/);
    expect(roles.stdout).toMatch(/developer\s+1/);
    const show = await cli(['role', 'show', 'developer']);
    expect(show.stdout).toContain('developer:');
    expect(show.stdout).toMatch(/server: code\n\s+tools: "\*"/);
    expect((await cli(['role', 'show', 'nope'])).stderr).toContain('No role nope');

    await withStore((store) =>
      store.servers.upsert('code', {
        transport: 'http',
        url: 'http://127.0.0.1:9101/mcp',
        headers: { authorization: 'Bearer upstream-secret' },
        enabled: true,
        replicas: 1,
        timeout_ms: 60_000,
        idempotent_tools: [],
      }),
    );
    const shown = await cli(['server', 'show', 'code']);
    expect(shown.stdout).toContain('[redacted]');
    expect(shown.stdout).not.toContain('upstream-secret');
    expect((await cli(['server', 'disable', 'code'])).stdout).toContain('disabled code');
    expect((await cli(['server', 'list'])).stdout).toMatch(/code\s+http\s+no/);
    expect((await cli(['server', 'rm', 'code'])).code).toBe(0);
    expect(await withStore((store) => store.servers.list())).toEqual([]);

    // Every change the CLI made is in the hub's audit log, attributed to the operator, with no secret.
    const events = await withStore((store) =>
      sql<{
        action: string;
        actor_id: string | null;
        target: string | null;
        before: string | null;
        after: string | null;
      }>`
        select action, actor_id, target, before, after from audit_events where type = 'admin' order by seq`.execute(
        store.db,
      ),
    );
    const actions = events.rows.map((r) => r.action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'user.create',
        'user.update',
        'user.password',
        'server.disable',
        'server.delete',
      ]),
    );
    expect(events.rows.every((r) => r.actor_id?.startsWith('cli'))).toBe(true);
    const text = JSON.stringify(events.rows);
    for (const secret of ['a long enough password', 'upstream-secret', 'argon2'])
      expect(text).not.toContain(secret);
  });
});
