import { afterEach, expect, it } from 'vitest';
import { parseConfig } from '../config/load.ts';
import type { ServerConfig } from '../config/schema.ts';
import { createServerUpstream } from '../upstream/index.ts';
import { TEST_SERVER, until } from '../upstream/testing/helpers.ts';
import type { ResilientUpstream } from '../upstream/types.ts';
import { silentLogger } from './logger.ts';
import { HubMetrics } from './metrics.ts';
import { followReplicaMetrics } from './replica-metrics.ts';

const opened: ResilientUpstream[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((u) => u.close()));
});

function svcConfig(extra: object): ServerConfig {
  const server = { transport: 'stdio', command: process.execPath, args: [TEST_SERVER, 'stdio'], ...extra };
  return parseConfig({ servers: { svc: server } }).servers.svc as ServerConfig;
}

function setup() {
  const metrics = new HubMetrics({ defaultMetrics: false });
  const factory = followReplicaMetrics(metrics, createServerUpstream);
  const create = (extra: object) => {
    const upstream = factory('svc', svcConfig(extra), silentLogger) as ResilientUpstream;
    opened.push(upstream);
    return upstream;
  };
  /** The breaker state whose sample is 1 for the replica, and how many breaker samples it has. */
  const breaker = async (replica: string) => {
    const prefix = `omnihub_upstream_circuit_breaker{server="svc",replica="${replica}",state="`;
    const lines = (await metrics.render()).split('\n').filter((l) => l.startsWith(prefix));
    const current = lines
      .filter((l) => l.endsWith('} 1'))
      .map((l) => l.slice(prefix.length, l.indexOf('"}')));
    return { current, samples: lines.length };
  };
  return { metrics, create, breaker };
}

it('follows a replica breaker through open, half-open and closed; drops the series when the server goes', async () => {
  const { metrics, create, breaker } = setup();
  const upstream = create({ circuit_breaker: { failure_threshold: 1, open_ms: 300 } });
  expect(await breaker('svc#1')).toEqual({ current: ['closed'], samples: 3 });
  await upstream.start();

  const slow = upstream.request('tools/call', { name: 'slow', arguments: { ms: 5_000 } }, { timeoutMs: 100 });
  await expect(slow).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
  expect((await breaker('svc#1')).current).toEqual(['open']);
  await until(async () => (await breaker('svc#1')).current[0] === 'half_open', 'the breaker to half-open');
  await upstream.request('tools/call', { name: 'echo', arguments: { text: 'back' } });
  expect((await breaker('svc#1')).current).toEqual(['closed']);

  metrics.setUpstreamHealth('svc', 'svc#1', 'healthy');
  await upstream.close();
  expect(await metrics.render()).not.toContain('server="svc"');
});

it('a replaced upstream drops only the replicas its successor does not have', async () => {
  const { metrics, create, breaker } = setup();
  const before = create({ replicas: 2 });
  expect((await breaker('svc#2')).current).toEqual(['closed']);
  const after = create({ replicas: 1 });
  await before.close();
  expect((await breaker('svc#1')).current).toEqual(['closed']);
  expect((await breaker('svc#2')).samples).toBe(0);
  await after.close();
  expect(await metrics.render()).not.toContain('server="svc"');
});
