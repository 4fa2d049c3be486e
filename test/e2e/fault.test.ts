import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { connectClient } from '../helpers/client.ts';
import { adminHeaders, eventually, startTestHub } from '../helpers/hub.ts';
import { childrenRunning } from '../helpers/processes.ts';

let hub: RunningHub;
let client: Client;
let listChanged = 0;

const toolNames = async () => (await client.listTools()).tools.map((t) => t.name);

beforeAll(async () => {
  hub = await startTestHub({
    servers: {
      database: { transport: 'stdio', command: 'node', args: ['examples/servers/database.mjs'] },
      code: { transport: 'stdio', command: 'node', args: ['examples/servers/code.mjs'] },
    },
  });
  client = await connectClient(`${hub.url}/mcp`, { headers: await adminHeaders(hub) });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged++;
  });
  await eventually(async () => expect(await toolNames()).toContain('database__analyze_sql'));
  await eventually(async () => expect(await toolNames()).toContain('code__code_review'));
}, 60_000);

afterAll(async () => {
  await client?.close();
  await hub?.stop();
});

it('kill -9 of an upstream under traffic: the others keep serving, it restarts and its tools return', async () => {
  // A GET stream is what carries list_changed to the client.
  await eventually(() => expect(hub.mcp.sessions.size).toBeGreaterThan(0));
  const [pid] = childrenRunning('examples/servers/database.mjs');
  expect(pid).toBeGreaterThan(0);

  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const traffic = (async () => {
    while (!stop) {
      try {
        await client.callTool({ name: 'code__code_review', arguments: { repo: 'omnihub', diff: '+x' } });
        ok++;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  })();

  await eventually(() => expect(ok).toBeGreaterThan(20));
  process.kill(pid!, 'SIGKILL');
  await eventually(async () => expect(await toolNames()).not.toContain('database__analyze_sql'));
  const okWhileDown = ok;
  await eventually(async () => expect(await toolNames()).toContain('database__analyze_sql'), 30_000);
  await eventually(() => expect(ok).toBeGreaterThan(okWhileDown + 20));
  stop = true;
  await traffic;

  expect(failures).toEqual([]);
  expect(listChanged).toBeGreaterThanOrEqual(2);
  const [newPid] = childrenRunning('examples/servers/database.mjs');
  expect(newPid).not.toBe(pid);
  const result = await client.callTool({
    name: 'database__analyze_sql',
    arguments: { database: 'dev_db', sql: 'select 1' },
  });
  expect(result.isError).toBeFalsy();
}, 90_000);
