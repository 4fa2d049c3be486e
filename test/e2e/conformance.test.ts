import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { startCredentialProxy } from '../helpers/credential-proxy.ts';
import { adminHeaders, eventually, startTestHub } from '../helpers/hub.ts';
import { freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

// The official conformance suite (server mode) against /mcp/{server}, the upstream being our fixture
// server that implements the scenarios' names. Every active scenario must pass through the hub.
let fixture: ChildProcess;
let hub: RunningHub;
let proxy: Awaited<ReturnType<typeof startCredentialProxy>>;

beforeAll(async () => {
  const port = await freePort();
  fixture = await spawnUntil(
    'node',
    ['test/fixtures/conformance-server.mjs', '--port', String(port)],
    /listening on/,
  );
  hub = await startTestHub({
    servers: { conformance: { transport: 'http', url: `http://127.0.0.1:${port}/mcp` } },
  });
  await eventually(() => expect(hub.mcp.catalog.list('conformance', 'tools').length).toBeGreaterThan(5));
  // The suite's client sends no credentials: a proxy in front adds the administrator's.
  proxy = await startCredentialProxy(hub.url, await adminHeaders(hub));
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await hub?.stop();
  killGroup(fixture);
});

it('passes every active scenario of @modelcontextprotocol/conformance through the hub', async () => {
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('bash', ['test/conformance/run.sh', `${proxy.url}/mcp/conformance`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c) => {
      output += c;
    });
    child.stderr.on('data', (c) => {
      output += c;
    });
    child.on('close', (code) => resolve({ code, output }));
  });
  const summary = output.slice(output.indexOf('=== SUMMARY ==='));
  expect(summary, output).toMatch(/Total: \d+ passed, 0 failed/);
  expect(code, summary).toBe(0);
}, 240_000);
