/**
 * SIGTERM during load: a real hub process (`omnihub start`) with calls in flight to a slow tool. Every
 * in-flight call completes successfully, new connections are refused once draining starts, the
 * process exits 0, and the audit trail has one record per call (flushed before the store closed).
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { connectClient } from '../helpers/client.ts';
import { eventually } from '../helpers/hub.ts';
import { EVERYTHING, freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

const IN_FLIGHT = 6;
const SLOW_TOOL = 'trigger-long-running-operation';

let hub: ChildProcess;
let url: string;
let output = '';
let dataDir: string;
const clients: Client[] = [];

/** A GET on a fresh connection: resolves with the status, rejects when the connection is refused. */
function freshGet(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'omnihub-shutdown-'));
  dataDir = join(dir, 'data');
  const config = join(dir, 'hub.yaml');
  writeFileSync(
    config,
    [
      'servers:',
      '  everything:',
      '    transport: stdio',
      '    command: node',
      `    args: [${EVERYTHING}, stdio]`,
      'roles:',
      '  admin:',
      '    allow:',
      '      - { server: "*", tools: "*" }',
    ].join('\n'),
  );
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  hub = await spawnUntil(
    'node',
    ['bin/omnihub.mjs', 'start', '--config', config, '--port', String(port)],
    /is running/,
    {
      OMNIHUB_DATA_DIR: dataDir,
      OMNIHUB_AUTH: 'off',
      OMNIHUB_LOG_LEVEL: 'info',
      OMNIHUB_SHUTDOWN_TIMEOUT_MS: '60000',
    },
    60_000,
  );
  hub.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  hub.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  for (let i = 0; i < 3; i++) clients.push(await connectClient(`${url}/mcp/everything`));
  await eventually(async () => {
    const tools = (await clients[0]?.listTools())?.tools.map((t) => t.name);
    expect(tools).toContain(SLOW_TOOL);
  }, 30_000);
}, 90_000);

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  killGroup(hub, 'SIGKILL');
});

it('finishes every in-flight call on SIGTERM, refuses new connections, exits 0, and audits every call', async () => {
  const exited = new Promise<number | null>((resolve) => hub.once('exit', (code) => resolve(code)));
  const progressed = new Set<number>();
  const calls = Array.from({ length: IN_FLIGHT }, (_, i) =>
    (clients[i % clients.length] as Client).callTool(
      { name: SLOW_TOOL, arguments: { duration: 3, steps: 6 } },
      undefined,
      { onprogress: () => progressed.add(i), timeout: 60_000 },
    ),
  );
  // Every call has reached the upstream (it reported progress) before the signal.
  await eventually(() => expect(progressed.size).toBe(IN_FLIGHT), 30_000, 20);
  expect(hub.pid).toBeDefined();
  process.kill(hub.pid as number, 'SIGTERM');

  // New connections are refused while the calls are still running.
  await eventually(() => expect(freshGet('/health')).rejects.toThrow(/ECONNREFUSED/), 10_000, 20);
  const results = await Promise.all(calls);
  for (const result of results) {
    expect(result.isError).not.toBe(true);
    const text = (result.content as { type: string; text?: string }[]).map((c) => c.text).join('');
    expect(text).toMatch(/Long running operation completed/);
  }
  expect(await exited).toBe(0);
  expect(output).toMatch(/draining/);
  expect(output).toMatch(/drained: no request in flight/);

  // Every call is in the audit trail, written before the database closed.
  const exported = execFileSync(
    'node',
    ['bin/omnihub.mjs', 'audit', 'export', '--action', 'tools/call', '--format', 'jsonl'],
    { env: { ...process.env, OMNIHUB_DATA_DIR: dataDir, OMNIHUB_LOG_LEVEL: 'silent' }, encoding: 'utf8' },
  );
  const events = exported
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { target?: string; outcome?: string });
  expect(events).toHaveLength(IN_FLIGHT);
  for (const event of events) expect(event).toMatchObject({ target: SLOW_TOOL, outcome: 'ok' });
}, 90_000);
