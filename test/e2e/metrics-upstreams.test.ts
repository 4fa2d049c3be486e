import { afterAll, beforeAll, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { TEST_SERVER } from '../../src/upstream/testing/helpers.ts';
import { adminHeaders, eventually, startTestHub } from '../helpers/hub.ts';

// The per-replica gauges of a real hub (`startHub`): breaker and health series appear for every replica,
// survive a drain, and go away when the server is deleted.

let hub: RunningHub;

beforeAll(async () => {
  hub = await startTestHub({
    servers: {
      svc: {
        transport: 'stdio',
        command: process.execPath,
        args: [TEST_SERVER, 'stdio'],
        replicas: 2,
        health_check: { interval_ms: 200 },
      },
    },
  });
}, 60_000);

afterAll(async () => {
  await hub?.stop();
});

async function replicaSeries(): Promise<string[]> {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('omnihub_upstream_') && l.includes('server="svc"'))
    .filter((l) => l.endsWith(' 1'));
}

it('breaker and health per replica; a drain keeps them, deleting the server drops them', async () => {
  await eventually(async () =>
    expect((await replicaSeries()).sort()).toEqual([
      'omnihub_upstream_circuit_breaker{server="svc",replica="svc#1",state="closed"} 1',
      'omnihub_upstream_circuit_breaker{server="svc",replica="svc#2",state="closed"} 1',
      'omnihub_upstream_health{server="svc",replica="svc#1",state="healthy"} 1',
      'omnihub_upstream_health{server="svc",replica="svc#2",state="healthy"} 1',
    ]),
  );

  await hub.health.monitor.drain('svc', 'svc#2');
  expect(await replicaSeries()).toHaveLength(4);

  const res = await fetch(`${hub.url}/api/v1/servers/svc`, {
    method: 'DELETE',
    headers: await adminHeaders(hub),
  });
  expect(res.status).toBeLessThan(300);
  await eventually(async () => expect(await replicaSeries()).toEqual([]));
});
