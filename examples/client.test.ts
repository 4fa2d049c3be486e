import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfigFile } from '../src/config/load.ts';
import type { RunningHub } from '../src/server/start.ts';
import { eventually, login, startTestHub } from '../test/helpers/hub.ts';

const run = promisify(execFile);
let hub: RunningHub;
let token: string;

const client = (...args: string[]) =>
  run('node', ['examples/client.mjs', '--url', `${hub.url}/mcp`, '--token', token, ...args]);

beforeAll(async () => {
  hub = await startTestHub(await loadConfigFile('examples/demo.yaml'));
  token = await login(hub, 'john@company.com', 'change-me-now');
  await eventually(async () => expect((await client('tools')).stdout).toContain('database__analyze_sql'));
}, 60_000);

afterAll(() => hub?.stop());

it('the README tour: John lists his tools, analyzes SQL on dev_db, and is refused prod_db', async () => {
  const tools = (await client('tools')).stdout;
  expect(tools).toContain('code__git_commit');
  expect(tools).not.toContain('check_access');
  const ok = await client('call', 'database__analyze_sql', '{"database":"dev_db","sql":"select 1"}');
  expect(ok.stdout).toMatch(/dev_db/);
  await expect(
    client('call', 'database__analyze_sql', '{"database":"prod_db","sql":"select 1"}'),
  ).rejects.toMatchObject({ stderr: expect.stringMatching(/access to prod_db is denied/i) });
}, 60_000);
