import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { connectClient } from '../helpers/client.ts';
import { adminHeaders, eventually, startTestHub } from '../helpers/hub.ts';
import { freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

// A tool with side effects, on a replica that dies in the middle of the call: the client gets one
// clear error and the call is never sent again (not to the other replica, not after a restart).

const FIXTURE = 'test/fixtures/resilience-server.mjs';
let dir: string;
let ledger: string;
let ports: number[];
let children: ChildProcess[];
let hub: RunningHub;
let client: Client;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'omnihub-once-'));
  ledger = join(dir, 'ledger.txt');
  ports = [await freePort(), await freePort()];
  children = await Promise.all(
    ports.map((port, i) =>
      spawnUntil(
        'node',
        [FIXTURE, '--port', String(port), '--name', `r${i + 1}`, '--ledger', ledger],
        /listening on/,
      ),
    ),
  );
  hub = await startTestHub({
    servers: {
      payments: {
        transport: 'http',
        urls: ports.map((p) => `http://127.0.0.1:${p}/mcp`),
        idempotent_tools: ['work'], // `charge` is not: it must reach an upstream at most once
        timeout_ms: 10_000,
      },
    },
  });
  client = await connectClient(`${hub.url}/mcp`, { headers: await adminHeaders(hub) });
  await eventually(async () =>
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('payments__charge'),
  );
}, 60_000);

afterAll(async () => {
  await client?.close();
  await hub?.stop();
  for (const child of children ?? []) killGroup(child, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

it('a non-idempotent call on a replica that dies mid-call fails once and is not repeated', async () => {
  // Both replicas die on `charge`: a second delivery anywhere would add a second ledger line.
  for (const port of ports) {
    await fetch(`http://127.0.0.1:${port}/control`, {
      method: 'POST',
      body: JSON.stringify({ die_on_charge: true }),
    });
  }
  const errors: string[] = [];
  try {
    const result = await client.callTool({ name: 'payments__charge', arguments: { amount: 42 } });
    errors.push(`unexpected result: ${JSON.stringify(result)}`);
  } catch (err) {
    errors.push((err as Error).message);
  }
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/connection lost|unavailable|request failed/i);

  const lines = (await readFile(ledger, 'utf8')).trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toContain('"amount":42');

  // The survivor never saw a charge, and keeps serving.
  const alive = children.find((c) => c.exitCode === null && c.signalCode === null);
  expect(alive).toBeDefined();
  const survivorPort = ports[children.indexOf(alive!)]!;
  const stats = (await (await fetch(`http://127.0.0.1:${survivorPort}/control`)).json()) as {
    calls: { charge: number };
  };
  expect(stats.calls.charge).toBe(0);
  const work = await client.callTool({ name: 'payments__work', arguments: {} });
  expect(work.isError).toBeFalsy();
  // Still exactly one line, after everything settled.
  expect((await readFile(ledger, 'utf8')).trim().split('\n')).toHaveLength(1);
}, 60_000);
