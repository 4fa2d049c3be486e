import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { connectClient } from '../helpers/client.ts';
import { adminHeaders, eventually, startTestHub } from '../helpers/hub.ts';
import { childrenRunning } from '../helpers/processes.ts';

// Two stdio replicas of the demo database server behind the hub, constant traffic of an idempotent
// tool, kill -9 of one replica: no call fails, the replica restarts and takes traffic again.

const SCRIPT = 'examples/servers/database.mjs';
let hub: RunningHub;
let client: Client;

beforeAll(async () => {
  hub = await startTestHub({
    servers: {
      database: {
        transport: 'stdio',
        command: 'node',
        args: [SCRIPT],
        replicas: 2,
        idempotent_tools: ['analyze_sql'],
        timeout_ms: 10_000,
      },
    },
  });
  client = await connectClient(`${hub.url}/mcp`, { headers: await adminHeaders(hub) });
  await eventually(async () =>
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('database__analyze_sql'),
  );
  await eventually(() => expect(childrenRunning(SCRIPT)).toHaveLength(2));
}, 60_000);

afterAll(async () => {
  await client?.close();
  await hub?.stop();
});

async function replicaConnections(): Promise<string[]> {
  const res = await fetch(`${hub.url}/api/v1/health/servers`, { headers: await adminHeaders(hub) });
  expect(res.status).toBe(200);
  const { servers } = (await res.json()) as {
    servers: { name: string; replicas: { connection: string }[] }[];
  };
  return servers.find((s) => s.name === 'database')?.replicas.map((r) => r.connection) ?? [];
}

it('kill -9 of a replica under constant traffic: zero failed calls; it restarts and rejoins', async () => {
  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const call = async () => {
    while (!stop) {
      try {
        const result = await client.callTool({
          name: 'database__analyze_sql',
          arguments: { database: 'dev_db', sql: 'select * from orders where id = 1' },
        });
        if (result.isError) failures.push(JSON.stringify(result.content));
        else ok++;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const workers = [call(), call(), call(), call()];
  await eventually(() => expect(ok).toBeGreaterThan(50));

  const [first, second] = childrenRunning(SCRIPT);
  process.kill(first!, 'SIGKILL');
  // The supervisor starts a new copy; two replicas run again.
  await eventually(() => {
    const pids = childrenRunning(SCRIPT);
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(first);
  }, 30_000);
  // Its process exists before it has answered initialize: wait until the hub has it ready again.
  await eventually(async () => expect(await replicaConnections()).toEqual(['ready', 'ready']), 30_000);
  const okAfterRestart = ok;
  await eventually(() => expect(ok).toBeGreaterThan(okAfterRestart + 50));

  // The restarted replica really serves: kill the other original one; traffic still never fails.
  process.kill(second!, 'SIGKILL');
  await eventually(() => {
    const pids = childrenRunning(SCRIPT);
    expect(pids).toHaveLength(2);
    expect(pids).not.toContain(second);
  }, 30_000);
  const okAfterSecond = ok;
  await eventually(() => expect(ok).toBeGreaterThan(okAfterSecond + 50));

  stop = true;
  await Promise.all(workers);
  expect(failures).toEqual([]);
}, 120_000);
