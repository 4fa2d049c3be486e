/**
 * The admin REST API end to end: real store (PGlite and PostgreSQL), real authenticator and API keys,
 * HTTP through Fastify's inject.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_EMAIL, type AdminFixture, adminFixture, bearer } from '../../src/admin/test-fixture.ts';
import { backends } from '../../src/store/test-backends.ts';
import { eventually } from '../helpers/hub.ts';

describe.each(backends)('admin API on $kind', (backend) => {
  let f: AdminFixture;
  let admin: Record<string, string>;

  beforeAll(async () => {
    f = await adminFixture(backend);
    admin = bearer(f.adminKey);
  });
  afterAll(async () => {
    await f?.dispose();
  });

  const call = (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
    headers = admin,
  ) => f.app.inject({ method, url, headers, ...(body !== undefined ? { payload: body as object } : {}) });

  describe('authentication and authorization', () => {
    it('answers 401 with a challenge without credentials, and with bad ones', async () => {
      const none = await f.app.inject({ method: 'GET', url: '/api/v1/users' });
      expect(none.statusCode).toBe(401);
      expect(none.headers['www-authenticate']).toContain('resource_metadata=');
      expect(none.json().error.code).toBe('UNAUTHENTICATED');
      const bad = await call('GET', '/api/v1/users', undefined, bearer('omh_notakey'));
      expect(bad.statusCode).toBe(401);
    });

    it('answers 403 to a signed-in user without the admin role, and to a scoped admin key', async () => {
      const { key } = await f.userWithKey('plain@example.test', []);
      const res = await call('GET', '/api/v1/users', undefined, bearer(key));
      expect(res.statusCode).toBe(403);
      expect(res.json().error.code).toBe('ACCESS_DENIED');

      const scoped = await f.auth.apiKeys.create({
        userId: f.adminId,
        name: 'narrow',
        scopes: [{ server: 'code', tools: '*' }],
      });
      expect((await call('GET', '/api/v1/users', undefined, bearer(scoped.key))).statusCode).toBe(403);
      expect((await call('GET', '/api/v1/users')).statusCode).toBe(200);
    });

    it('serves the OpenAPI document without credentials', async () => {
      const res = await f.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
      expect(res.statusCode).toBe(200);
      expect(res.json().openapi).toBe('3.1.0');
    });
  });

  describe('users', () => {
    it('creates, reads by id and email, updates, and refuses duplicates', async () => {
      const created = await call('POST', '/api/v1/users', {
        email: 'Alice@Example.test',
        name: 'Alice',
        password: 'correct horse battery',
        roles: [],
      });
      expect(created.statusCode).toBe(201);
      const alice = created.json();
      expect(alice).toMatchObject({
        email: 'alice@example.test',
        name: 'Alice',
        enabled: true,
        has_password: true,
      });
      expect(JSON.stringify(alice)).not.toMatch(/argon2|password_hash|correct horse/);

      expect((await call('GET', `/api/v1/users/${alice.id}`)).json().email).toBe('alice@example.test');
      expect((await call('GET', '/api/v1/users/ALICE@example.test')).json().id).toBe(alice.id);

      const patched = await call('PATCH', `/api/v1/users/${alice.id}`, { name: 'Alice B.' });
      expect(patched.statusCode).toBe(200);
      expect(patched.json().name).toBe('Alice B.');

      const dup = await call('POST', '/api/v1/users', { email: 'alice@example.test' });
      expect(dup.statusCode).toBe(409);
      expect(dup.json().error.code).toBe('CONFLICT');
    });

    it('names every bad field, and changes nothing on error', async () => {
      const bad = await call('POST', '/api/v1/users', { email: 'not-an-email', password: 'short', extra: 1 });
      expect(bad.statusCode).toBe(400);
      const paths = bad.json().error.data.problems.map((p: { path: string }) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['body.email', 'body.password', 'body']));
      expect(bad.json().error.message).toContain('body.email');

      const unknownRole = await call('POST', '/api/v1/users', {
        email: 'ghost@example.test',
        roles: ['nope'],
      });
      expect(unknownRole.statusCode).toBe(400);
      expect(unknownRole.json().error.message).toContain('nope');
      expect(await f.store.users.getByEmail('ghost@example.test')).toBeUndefined();

      await call('POST', '/api/v1/users', { email: 'bob@example.test', name: 'Bob' });
      const half = await call('PATCH', '/api/v1/users/bob@example.test', { name: 'Robert', roles: ['nope'] });
      expect(half.statusCode).toBe(400);
      expect((await f.store.users.getByEmail('bob@example.test'))?.name).toBe('Bob');

      expect((await call('GET', '/api/v1/users/nobody@example.test')).statusCode).toBe(404);
      expect((await call('GET', '/api/v1/users/not-a-uuid')).statusCode).toBe(404);
      expect((await call('PATCH', '/api/v1/users/nobody@example.test', { name: 'x' })).statusCode).toBe(404);
      const notJson = await f.app.inject({
        method: 'POST',
        url: '/api/v1/users',
        headers: { ...admin, 'content-type': 'application/json' },
        payload: '{"email":',
      });
      expect(notJson.statusCode).toBe(400);
      expect(notJson.json().error.code).toBe('BAD_REQUEST');
    });

    it('pages through users with limit and cursor', async () => {
      for (const n of [1, 2, 3, 4, 5])
        await call('POST', '/api/v1/users', { email: `page${n}@example.test` });
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const url: string = `/api/v1/users?q=page&limit=2${cursor ? `&cursor=${cursor}` : ''}`;
        const page = (await call('GET', url)).json();
        seen.push(...page.items.map((u: { email: string }) => u.email));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual([1, 2, 3, 4, 5].map((n) => `page${n}@example.test`));
      expect(pages).toBe(3);

      // A cursor stays valid when the items before it are gone.
      const first = (await call('GET', '/api/v1/users?q=page&limit=2')).json();
      expect((await call('DELETE', '/api/v1/users/page1@example.test')).statusCode).toBe(204);
      const next = (await call('GET', `/api/v1/users?q=page&limit=2&cursor=${first.next_cursor}`)).json();
      expect(next.items.map((u: { email: string }) => u.email)).toEqual([
        'page3@example.test',
        'page4@example.test',
      ]);
      expect((await call('GET', '/api/v1/users?limit=0')).statusCode).toBe(400);
      expect((await call('GET', '/api/v1/users?cursor=garbage')).statusCode).toBe(400);
    });

    it('disabling a user stops their API key on the next request; enabling restores it', async () => {
      const { key } = await f.userWithKey('carol@example.test', []);
      const me = () => f.app.inject({ method: 'GET', url: '/api/v1/keys', headers: bearer(key) });
      expect((await me()).statusCode).toBe(200);
      const disabled = await call('POST', '/api/v1/users/carol@example.test/disable');
      expect(disabled.json().enabled).toBe(false);
      await eventually(async () => expect((await me()).statusCode).toBe(401), 5_000);
      await call('POST', '/api/v1/users/carol@example.test/enable');
      await eventually(async () => expect((await me()).statusCode).toBe(200), 5_000);
    });

    it('sets roles and passwords; a generated password is returned once and signs in', async () => {
      await call('POST', '/api/v1/roles', { name: 'viewer', allow: [{ server: 'code', tools: 'read_*' }] });
      await call('POST', '/api/v1/users', { email: 'dave@example.test' });
      const roles = await call('PUT', '/api/v1/users/dave@example.test/roles', { roles: ['viewer'] });
      expect(roles.json().roles).toEqual(['viewer']);
      expect(
        (await call('PUT', '/api/v1/users/dave@example.test/roles', { roles: 'viewer' })).statusCode,
      ).toBe(400);

      const reset = await call('POST', '/api/v1/users/dave@example.test/password');
      expect(reset.statusCode).toBe(200);
      const generated = reset.json().password as string;
      expect(generated).toMatch(/^[0-9A-Za-z]{24}$/);
      const login = await f.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'dave@example.test', password: generated },
      });
      expect(login.statusCode).toBe(200);
      expect(login.json().access_token).toBeTruthy();

      const chosen = await call('POST', '/api/v1/users/dave@example.test/password', {
        password: 'a new long password',
      });
      expect(chosen.json().password).toBeUndefined();
      const relogin = await f.app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'dave@example.test', password: 'a new long password' },
      });
      expect(relogin.statusCode).toBe(200);
      // A hub JWT authenticates the admin API too; dave is no admin.
      const asDave = await call('GET', '/api/v1/users', undefined, bearer(relogin.json().access_token));
      expect(asDave.statusCode).toBe(403);
    });

    it('deletes a user with their keys, and never removes the last enabled admin', async () => {
      const { key } = await f.userWithKey('erin@example.test', []);
      expect((await call('DELETE', '/api/v1/users/erin@example.test')).statusCode).toBe(204);
      expect((await call('GET', '/api/v1/users/erin@example.test')).statusCode).toBe(404);
      await eventually(async () => {
        const res = await f.app.inject({ method: 'GET', url: '/api/v1/keys', headers: bearer(key) });
        expect(res.statusCode).toBe(401);
      }, 5_000);

      for (const attempt of [
        call('POST', `/api/v1/users/${ADMIN_EMAIL}/disable`),
        call('DELETE', `/api/v1/users/${ADMIN_EMAIL}`),
        call('PUT', `/api/v1/users/${ADMIN_EMAIL}/roles`, { roles: [] }),
      ]) {
        const res = await attempt;
        expect(res.statusCode).toBe(409);
        expect(res.json().error.message).toContain('admin');
      }
      const root = await f.store.users.getByEmail(ADMIN_EMAIL);
      expect(root).toMatchObject({ enabled: true, roles: ['admin'] });
    });
  });

  describe('roles', () => {
    it('validates rules with the config schema and names the bad field', async () => {
      const bad = await call('POST', '/api/v1/roles', {
        name: 'broken',
        allow: [{ server: 'db', tools: 42 }],
        deny: [{ server: 'db', bogus: true }],
      });
      expect(bad.statusCode).toBe(400);
      const paths = bad.json().error.data.problems.map((p: { path: string }) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['body.allow.0.tools', 'body.deny.0']));
      expect(await f.store.roles.get('broken')).toBeUndefined();
      expect((await call('POST', '/api/v1/roles', { name: 'has,comma' })).statusCode).toBe(400);
    });

    it('creates, lists, replaces and deletes; built-in roles stay', async () => {
      const created = await call('POST', '/api/v1/roles', {
        name: 'ops',
        description: 'Operations',
        allow: [{ server: 'etl', tools: '*' }],
      });
      expect(created.statusCode).toBe(201);
      expect(created.json()).toMatchObject({ name: 'ops', allow: [{ server: 'etl', tools: '*' }], deny: [] });
      expect((await call('POST', '/api/v1/roles', { name: 'ops' })).statusCode).toBe(409);
      const names = (await call('GET', '/api/v1/roles')).json().items.map((r: { name: string }) => r.name);
      expect(names).toEqual(expect.arrayContaining(['admin', 'ops']));

      const replaced = await call('PUT', '/api/v1/roles/ops', { deny: [{ server: 'etl' }] });
      expect(replaced.json()).toMatchObject({ allow: [], deny: [{ server: 'etl' }], description: null });
      expect((await call('PUT', '/api/v1/roles/missing', {})).statusCode).toBe(404);

      expect((await call('DELETE', '/api/v1/roles/ops')).statusCode).toBe(204);
      expect((await call('GET', '/api/v1/roles/ops')).statusCode).toBe(404);
      expect((await call('DELETE', '/api/v1/roles/admin')).statusCode).toBe(409);
      expect((await call('DELETE', '/api/v1/roles/ops')).statusCode).toBe(404);
    });
  });

  describe('API keys', () => {
    it('shows the secret once, lets users manage only their own, and revocation works at once', async () => {
      const { key: frankKey } = await f.userWithKey('frank@example.test', []);
      const frank = bearer(frankKey);
      const created = await call('POST', '/api/v1/keys', { name: 'laptop', expires_in_days: 30 }, frank);
      expect(created.statusCode).toBe(201);
      const body = created.json();
      expect(body.key).toMatch(/^omh_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
      expect(body.key.startsWith(body.prefix)).toBe(true);
      expect(body.expires_at).toBeTruthy();

      const listed = (await call('GET', '/api/v1/keys', undefined, frank)).json();
      expect(listed.items.map((k: { id: string }) => k.id)).toContain(body.id);
      expect(JSON.stringify(listed)).not.toContain(body.key.split('_')[2]);
      const one = (await call('GET', `/api/v1/keys/${body.id}`, undefined, frank)).json();
      expect(one.key).toBeUndefined();

      // The new key works, and frank cannot see or revoke anybody else's.
      expect((await call('GET', '/api/v1/keys', undefined, bearer(body.key))).statusCode).toBe(200);
      const { key: ginaKey } = await f.userWithKey('gina@example.test', []);
      const ginaKeys = (await call('GET', '/api/v1/keys', undefined, bearer(ginaKey))).json().items;
      expect((await call('GET', `/api/v1/keys/${ginaKeys[0].id}`, undefined, frank)).statusCode).toBe(404);
      expect((await call('DELETE', `/api/v1/keys/${ginaKeys[0].id}`, undefined, frank)).statusCode).toBe(404);
      expect((await call('GET', '/api/v1/keys?user=gina@example.test', undefined, frank)).statusCode).toBe(
        403,
      );
      expect(
        (await call('POST', '/api/v1/keys', { name: 'x', user: 'gina@example.test' }, frank)).statusCode,
      ).toBe(403);

      expect((await call('DELETE', `/api/v1/keys/${body.id}`, undefined, frank)).statusCode).toBe(204);
      expect((await call('GET', '/api/v1/keys', undefined, bearer(body.key))).statusCode).toBe(401);
    });

    it('lets admins list, create and revoke keys of any user', async () => {
      await f.userWithKey('hank@example.test', []);
      const created = await call('POST', '/api/v1/keys', {
        name: 'ci',
        user: 'hank@example.test',
        scopes: [{ server: 'code', tools: ['run_tests'] }],
      });
      expect(created.statusCode).toBe(201);
      expect(created.json().scopes).toEqual([{ server: 'code', tools: ['run_tests'] }]);
      const hank = await f.store.users.getByEmail('hank@example.test');
      expect(created.json().user_id).toBe(hank?.id);

      const listed = (await call('GET', '/api/v1/keys?user=hank@example.test')).json();
      expect(listed.items).toHaveLength(2);
      expect((await call('DELETE', `/api/v1/keys/${created.json().id}`)).statusCode).toBe(204);
      expect((await call('GET', `/api/v1/keys/${created.json().id}`)).json().revoked_at).toBeTruthy();

      // A narrowed key cannot mint an unnarrowed one.
      const scoped = await call('POST', '/api/v1/keys', {
        name: 'scoped',
        user: 'hank@example.test',
        scopes: [{ server: 'code', tools: '*' }],
      });
      const mint = await call('POST', '/api/v1/keys', { name: 'escalate' }, bearer(scoped.json().key));
      expect(mint.statusCode).toBe(403);

      const bad = await call('POST', '/api/v1/keys', { name: '', scopes: [], expires_at: 'tomorrow' });
      expect(bad.statusCode).toBe(400);
      const paths = bad.json().error.data.problems.map((p: { path: string }) => p.path);
      expect(paths).toEqual(expect.arrayContaining(['body.name', 'body.scopes', 'body.expires_at']));
      const past = await call('POST', '/api/v1/keys', { name: 'old', expires_at: '2001-01-01T00:00:00Z' });
      expect(past.statusCode).toBe(400);
    });
  });

  describe('servers', () => {
    const httpServer = {
      name: 'search',
      transport: 'http',
      url: 'http://127.0.0.1:9999/mcp',
      headers: { authorization: 'Bearer upstream-secret-123' },
      resource_argument: 'index',
    };

    it('creates, redacts credentials, keeps them on replace, toggles and deletes, notifying `config`', async () => {
      const heard: string[] = [];
      const off = f.store.onChange('config', (t) => {
        heard.push(t);
      });
      try {
        const created = await call('POST', '/api/v1/servers', httpServer);
        expect(created.statusCode).toBe(201);
        expect(created.json().config.headers).toEqual({ authorization: '[redacted]' });
        expect(JSON.stringify((await call('GET', '/api/v1/servers')).json())).not.toContain(
          'upstream-secret',
        );
        await eventually(() => expect(heard.length).toBeGreaterThan(0), 5_000);

        const view = (await call('GET', '/api/v1/servers/search')).json();
        const replaced = await call('PUT', '/api/v1/servers/search', { ...view.config, timeout_ms: 5_000 });
        expect(replaced.statusCode).toBe(200);
        const stored = await f.store.servers.get('search');
        expect(stored?.config).toMatchObject({
          timeout_ms: 5_000,
          headers: { authorization: 'Bearer upstream-secret-123' },
        });

        expect((await call('POST', '/api/v1/servers/search/disable')).json().enabled).toBe(false);
        expect((await f.store.servers.get('search'))?.enabled).toBe(false);
        expect((await call('POST', '/api/v1/servers/search/enable')).json().enabled).toBe(true);
        expect((await call('POST', '/api/v1/servers', httpServer)).statusCode).toBe(409);
        expect((await call('DELETE', '/api/v1/servers/search')).statusCode).toBe(204);
        expect((await call('GET', '/api/v1/servers/search')).statusCode).toBe(404);
      } finally {
        off();
      }
    });

    it('refuses bad configs with field paths and changes nothing', async () => {
      const noUrl = await call('POST', '/api/v1/servers', { name: 'broken', transport: 'http' });
      expect(noUrl.statusCode).toBe(400);
      expect(noUrl.json().error.data.problems[0].path).toBe('body.url');
      const badName = await call('POST', '/api/v1/servers', { name: 'a/b', command: 'node' });
      expect(badName.json().error.data.problems[0].path).toBe('body.name');
      const badField = await call('POST', '/api/v1/servers', { name: 'x', command: 'node', replicas: 0 });
      expect(badField.json().error.data.problems[0].path).toBe('body.replicas');
      const badRedacted = await call('POST', '/api/v1/servers', {
        name: 'y',
        transport: 'http',
        url: 'http://127.0.0.1:1/mcp',
        headers: { 'x-token': '[redacted]' },
      });
      expect(badRedacted.statusCode).toBe(400);
      expect((await f.store.servers.list()).map((s) => s.name)).not.toEqual(
        expect.arrayContaining(['broken', 'x', 'y']),
      );
    });
  });

  describe('access check', () => {
    beforeAll(async () => {
      await f.store.servers.upsert('database', {
        transport: 'stdio',
        command: 'node',
        args: ['examples/servers/database.mjs'],
        env: {},
        enabled: true,
        replicas: 1,
        timeout_ms: 60_000,
        idempotent_tools: [],
        resource_argument: 'database',
      });
      const roles = {
        developer: {
          allow: [
            { server: 'code', tools: '*' },
            { server: 'database', tools: ['analyze_sql', 'compare_plans'], resources: ['dev_*'] },
          ],
          deny: [{ server: 'database', tools: ['check_access'] }],
        },
        analyst: {
          allow: [
            { server: 'database', tools: ['analyze_sql'] },
            { server: 'database', prompts: '*' },
          ],
        },
        customer: { allow: [{ server: 'database', prompts: ['daily_sales_report'] }] },
      };
      for (const [name, rules] of Object.entries(roles)) {
        expect((await call('POST', '/api/v1/roles', { name, ...rules })).statusCode).toBe(201);
      }
      for (const [email, role] of [
        ['john@company.test', 'developer'],
        ['ana@company.test', 'analyst'],
        ['carl@company.test', 'customer'],
      ]) {
        await call('POST', '/api/v1/users', { email, roles: [role] });
      }
      await eventually(() => expect(f.policy.current.roleNames).toContain('customer'), 5_000);
    });

    const check = (body: unknown) => call('POST', '/api/v1/access/check', body);

    it('decides the seed scenario with the deciding rule and reason', async () => {
      const prod = (
        await check({
          user: 'john@company.test',
          server: 'database',
          tool: 'analyze_sql',
          arguments: { database: 'prod_db' },
        })
      ).json();
      expect(prod).toMatchObject({ allow: false, rule: 'default deny' });
      expect(prod.reason).toContain('prod_db');
      expect(prod.request).toEqual({
        server: 'database',
        kind: 'tool',
        name: 'analyze_sql',
        resource: 'prod_db',
      });

      const dev = (
        await check({
          user: 'john@company.test',
          server: 'database',
          tool: 'analyze_sql',
          arguments: { database: 'dev_db' },
        })
      ).json();
      expect(dev).toMatchObject({ allow: true, rule: 'role developer, allow[1]' });
      expect(dev.explanation.rules.length).toBeGreaterThan(0);

      const analyst = (
        await check({ user: 'ana@company.test', server: 'database', tool: 'check_access' })
      ).json();
      expect(analyst.allow).toBe(false);
      const customer = (
        await check({ user: 'carl@company.test', server: 'database', prompt: 'daily_sales_report' })
      ).json();
      expect(customer).toMatchObject({ allow: true, rule: 'role customer, allow[0]' });
      const customerTool = (
        await check({ user: 'carl@company.test', server: 'database', tool: 'analyze_sql', arguments: {} })
      ).json();
      expect(customerTool.allow).toBe(false);
    });

    it('follows role changes, key scopes and disabled users', async () => {
      const before = (
        await check({ user: 'ana@company.test', server: 'database', tool: 'compare_plans' })
      ).json();
      expect(before.allow).toBe(false);
      await call('PUT', '/api/v1/roles/analyst', {
        allow: [{ server: 'database', tools: ['analyze_sql', 'compare_plans'] }],
      });
      await eventually(async () => {
        const after = (
          await check({ user: 'ana@company.test', server: 'database', tool: 'compare_plans' })
        ).json();
        expect(after).toMatchObject({ allow: true, rule: 'role analyst, allow[0]' });
      }, 5_000);

      const scoped = (
        await check({
          user: 'ana@company.test',
          server: 'database',
          tool: 'compare_plans',
          scopes: [{ server: 'database', tools: 'analyze_sql' }],
        })
      ).json();
      expect(scoped).toMatchObject({ allow: false, rule: 'key scope' });

      await call('POST', '/api/v1/users/ana@company.test/disable');
      const disabled = (
        await check({ user: 'ana@company.test', server: 'database', tool: 'analyze_sql' })
      ).json();
      expect(disabled).toMatchObject({ allow: false, rule: 'user disabled' });
      expect(disabled.explanation.policy_decision.allow).toBe(true);
      await call('POST', '/api/v1/users/ana@company.test/enable');
    });

    it('refuses bad questions clearly', async () => {
      const both = await check({ user: 'ana@company.test', server: 'database', tool: 'a', prompt: 'b' });
      expect(both.statusCode).toBe(400);
      expect(both.json().error.data.problems[0].path).toBe('body.tool');
      expect((await check({ server: 'database' })).json().error.data.problems[0].path).toBe('body.user');
      expect((await check({ user: 'nobody@company.test', server: 'database' })).statusCode).toBe(404);
      expect((await check({ user: 'ana@company.test', server: 'nope' })).statusCode).toBe(404);
      const { key } = await f.userWithKey('nosy@company.test', []);
      const forbidden = await call(
        'POST',
        '/api/v1/access/check',
        { user: 'ana@company.test', server: 'database' },
        bearer(key),
      );
      expect(forbidden.statusCode).toBe(403);
    });
  });

  describe('audit', () => {
    it('records every change with before and after, and no secret', async () => {
      f.audit.events.length = 0;
      await call('POST', '/api/v1/users', { email: 'ivy@example.test', password: 'ivy secret password' });
      await call('PATCH', '/api/v1/users/ivy@example.test', { name: 'Ivy', password: 'another secret pw' });
      await call('POST', '/api/v1/servers', {
        name: 'vault',
        transport: 'http',
        url: 'http://127.0.0.1:9/mcp',
        headers: { 'x-api-key': 'vault-credential-xyz' },
      });
      const key = (await call('POST', '/api/v1/keys', { name: 'audited' })).json().key as string;
      await call('DELETE', '/api/v1/users/ivy@example.test');

      expect(f.audit.actions()).toEqual(
        expect.arrayContaining(['user.create', 'user.update', 'server.create', 'key_created', 'user.delete']),
      );
      const update = f.audit.events.find((e) => e.action === 'user.update');
      expect(update).toMatchObject({
        type: 'admin',
        target: 'ivy@example.test',
        actor: { email: ADMIN_EMAIL },
        before: { name: null },
        after: { name: 'Ivy', password_changed: true },
      });
      const text = JSON.stringify(f.audit.events);
      for (const secret of [
        'ivy secret password',
        'another secret pw',
        'vault-credential-xyz',
        key,
        'argon2',
      ]) {
        expect(text).not.toContain(secret);
      }
    });
  });
});
