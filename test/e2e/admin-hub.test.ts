/**
 * The admin API and ForwardAuth inside the real hub app (`build()`), wired the way the hub's start
 * wires them: changes made through the API reach the MCP side (servers, roles) through the store's
 * change topics.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../src/admin/plugin.ts';
import { type AuthServices, createAuthServices, wwwAuthenticate } from '../../src/auth/index.ts';
import { applyConfig } from '../../src/config/apply.ts';
import { readEnv } from '../../src/config/env.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { HubConfig, RoleConfig, ServerConfig } from '../../src/config/schema.ts';
import { build, type Hub } from '../../src/server/app.ts';
import { forwardAuth } from '../../src/server/forward-auth.ts';
import type { Store } from '../../src/store/store.ts';
import { backends, type TestDatabase } from '../../src/store/test-backends.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createServerUpstream } from '../../src/upstream/index.ts';
import { eventually } from '../helpers/hub.ts';

const pglite = backends.find((b) => b.kind === 'pglite');
if (!pglite) throw new Error('PGlite backend missing');

async function configFromStore(store: Store): Promise<HubConfig> {
  const servers: Record<string, ServerConfig> = {};
  for (const s of await store.servers.list()) servers[s.name] = s.config;
  const roles: Record<string, RoleConfig> = {};
  for (const r of await store.roles.list()) roles[r.name] = { allow: r.allow, deny: r.deny };
  return { servers, roles, users: [] };
}

describe('admin API and ForwardAuth in the hub app', () => {
  let database: TestDatabase;
  let store: Store;
  let auth: AuthServices;
  let hub: Hub;
  let app: FastifyInstance;
  let adminKey: string;
  const offs: (() => void)[] = [];

  beforeAll(async () => {
    database = await pglite.fresh();
    store = await database.open();
    await applyConfig(
      store,
      parseConfig({
        servers: { code: { transport: 'stdio', command: 'node', args: ['examples/servers/code.mjs'] } },
        users: [{ email: 'root@example.test', roles: ['admin'] }],
      }),
    );
    const env = readEnv({ OMNIHUB_DATA_DIR: ':memory:', OMNIHUB_LOG_LEVEL: 'silent' });
    auth = await createAuthServices({ store, env, logger: silentLogger });
    const root = await store.users.getByEmail('root@example.test');
    adminKey = (await auth.apiKeys.create({ userId: root?.id as string, name: 'root' })).key;

    // The wiring the hub's start uses: both plugins read the policy and servers of the built hub.
    let built: Hub | undefined;
    const authenticate = (req: { headers: Record<string, string | string[] | undefined> }) =>
      auth.authenticator.authenticate(req.headers);
    const policy = () => (built as Hub).mcp.access.policy;
    hub = await build({
      env,
      logger: silentLogger,
      config: await configFromStore(store),
      createUpstream: createServerUpstream,
      store,
      authenticator: auth.authenticator,
      routes: [
        auth.routes,
        async (a) => {
          await a.register(adminRoutes, {
            store,
            authenticate,
            apiKeys: auth.apiKeys,
            policy,
            logger: silentLogger,
            challenge: wwwAuthenticate(env.publicUrl),
          });
        },
        async (a) => {
          await a.register(forwardAuth, {
            authenticate,
            policy,
            isServerEnabled: (name) => (built as Hub).mcp.hasServer(name),
            challenge: wwwAuthenticate(env.publicUrl),
            logger: silentLogger,
          });
        },
      ],
    });
    built = hub;
    app = hub.app;
    for (const topic of ['config', 'roles']) {
      offs.push(store.onChange(topic, async () => hub.reload(await configFromStore(store))));
    }
  });
  afterAll(async () => {
    for (const off of offs) off();
    await hub?.close();
    await auth?.close();
    await database?.dispose();
  });

  const admin = () => ({ authorization: `Bearer ${adminKey}` });
  const verify = (key: string, uri: string) =>
    app.inject({
      method: 'GET',
      url: '/auth/verify',
      headers: { authorization: `Bearer ${key}`, 'x-forwarded-method': 'POST', 'x-forwarded-uri': uri },
    });

  it('a role, user and key made through the API open /mcp/code; disabling the server closes it', async () => {
    const role = await app.inject({
      method: 'POST',
      url: '/api/v1/roles',
      headers: admin(),
      payload: { name: 'coder', allow: [{ server: 'code', tools: '*' }] },
    });
    expect(role.statusCode).toBe(201);
    const user = await app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: admin(),
      payload: { email: 'kim@example.test', roles: ['coder'] },
    });
    expect(user.statusCode).toBe(201);
    const key = (
      await app.inject({
        method: 'POST',
        url: '/api/v1/keys',
        headers: admin(),
        payload: { name: 'kim', user: 'kim@example.test' },
      })
    ).json().key as string;

    await eventually(async () => {
      const res = await verify(key, '/mcp/code');
      expect(res.statusCode).toBe(200);
      expect(res.headers['x-omnihub-user']).toBe('kim@example.test');
      expect(res.headers['x-omnihub-roles']).toBe('coder');
    }, 10_000);
    const check = await app.inject({
      method: 'POST',
      url: '/api/v1/access/check',
      headers: admin(),
      payload: { user: 'kim@example.test', server: 'code', tool: 'run_tests' },
    });
    expect(check.json()).toMatchObject({ allow: true, rule: 'role coder, allow[0]' });

    const disabled = await app.inject({
      method: 'POST',
      url: '/api/v1/servers/code/disable',
      headers: admin(),
    });
    expect(disabled.statusCode).toBe(200);
    await eventually(async () => expect((await verify(key, '/mcp/code')).statusCode).toBe(403), 10_000);
  });

  it('without credentials: 401 with the challenge on the API and on /auth/verify', async () => {
    const api = await app.inject({ method: 'GET', url: '/api/v1/users' });
    expect(api.statusCode).toBe(401);
    expect(api.headers['www-authenticate']).toContain('resource_metadata=');
    const fwd = await app.inject({
      method: 'GET',
      url: '/auth/verify',
      headers: { 'x-forwarded-uri': '/mcp' },
    });
    expect(fwd.statusCode).toBe(401);
    expect(fwd.headers['www-authenticate']).toContain('resource_metadata=');
  });
});
