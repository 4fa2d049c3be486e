import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Authenticator, Principal } from '../../src/auth/principal.ts';
import { readEnv } from '../../src/config/env.ts';
import { parseConfig } from '../../src/config/load.ts';
import { createHealthServices, type HealthServices } from '../../src/health/services.ts';
import type { ServerHealth } from '../../src/health/types.ts';
import { build, type Hub, listen } from '../../src/server/app.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createServerUpstream } from '../../src/upstream/index.ts';
import { connectClient } from '../helpers/client.ts';
import { eventually } from '../helpers/hub.ts';
import { childrenRunning } from '../helpers/processes.ts';

// The health services plugged into a real hub the way the server wires them: the upstream factory is
// wrapped so every server is watched, the health API is one of build()'s routes. A replica killed under
// traffic shows as degraded, then healthy again, with no failed call.

const SCRIPT = 'examples/servers/database.mjs';
const ADMIN: Principal = { id: 'user:admin', roles: ['admin'], method: 'jwt' };
const authenticator: Authenticator = { authenticate: async () => ADMIN };
let store: Store;
let health: HealthServices;
let hub: Hub;
let url: string;
let client: Client;

async function servers(): Promise<ServerHealth[]> {
  const res = await fetch(`${url}/api/v1/health/servers`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { servers: ServerHealth[] }).servers;
}

beforeAll(async () => {
  const config = parseConfig({
    servers: {
      database: {
        command: 'node',
        args: [SCRIPT],
        replicas: 2,
        resource_argument: 'database',
        idempotent_tools: ['analyze_sql'],
        health_check: { interval_ms: 200, timeout_ms: 2000 },
      },
    },
    roles: { admin: { allow: [{ server: '*', tools: '*', prompts: '*', uris: '*', resources: '*' }] } },
  });
  store = await openStore({ dataDir: ':memory:' });
  health = createHealthServices({
    logger: silentLogger,
    db: store.db,
    authenticate: (req) => authenticator.authenticate(req.headers),
  });
  hub = await build({
    env: readEnv({ OMNIHUB_PORT: '0', OMNIHUB_DATA_DIR: ':memory:', OMNIHUB_LOG_LEVEL: 'silent' }),
    config,
    logger: silentLogger,
    createUpstream: health.watchUpstreams(createServerUpstream),
    store,
    authenticator,
    routes: [health.routes],
  });
  url = await listen(hub, 0, '127.0.0.1');
  client = await connectClient(`${url}/mcp`);
  await eventually(async () =>
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('database__analyze_sql'),
  );
  await eventually(async () => expect((await servers())[0]?.state).toBe('healthy'));
}, 60_000);

afterAll(async () => {
  await client?.close();
  await hub?.close();
  await health?.close();
  await store?.close();
});

it('watches the hub servers; a killed replica is degraded, then healthy again, calls never fail', async () => {
  let stop = false;
  const failures: string[] = [];
  let ok = 0;
  const traffic = (async () => {
    while (!stop) {
      try {
        await client.callTool({
          name: 'database__analyze_sql',
          arguments: { database: 'dev_db', sql: 'select 1' },
        });
        ok++;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  })();
  try {
    await eventually(() => expect(ok).toBeGreaterThan(10));
    const [victim] = childrenRunning(SCRIPT);
    process.kill(victim!, 'SIGKILL');
    await eventually(async () => {
      const events = (await health.monitor.history('database')).filter((e) => e.replica === null);
      expect(events[0]?.to).toBe('degraded');
    });
    await eventually(async () => {
      const [db] = await servers();
      expect(db?.state).toBe('healthy');
      expect(db?.replicas.map((r) => r.connection)).toEqual(['ready', 'ready']);
    }, 30_000);
  } finally {
    stop = true;
    await traffic;
  }
  expect(failures).toEqual([]);

  const res = await fetch(`${url}/api/v1/health/servers/database/history`);
  const { events } = (await res.json()) as { events: { replica: string | null; to: string }[] };
  const serverStates = events.filter((e) => e.replica === null).map((e) => e.to);
  expect(serverStates[0]).toBe('healthy');
  expect(serverStates).toContain('degraded');
}, 90_000);

it('stops watching a server the hub removes', async () => {
  await hub.reload({ servers: {}, roles: {}, users: [] });
  await eventually(() => expect(health.monitor.snapshot()).toEqual([]));
});
