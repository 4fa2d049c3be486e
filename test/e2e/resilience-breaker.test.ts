import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { ServerConfig } from '../../src/config/schema.ts';
import { HealthMonitor } from '../../src/health/monitor.ts';
import type { HealthChange } from '../../src/health/types.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createServerUpstream } from '../../src/upstream/index.ts';
import type { CallContext, ResilientUpstream } from '../../src/upstream/types.ts';
import { eventually } from '../helpers/hub.ts';
import { freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

// A replica that accepts calls but never answers them: calls time out and are cancelled upstream,
// the breaker opens and traffic moves to the other replica; later the breaker half-opens, and it
// closes once the replica answers again.

const FIXTURE = 'test/fixtures/resilience-server.mjs';
let children: ChildProcess[] = [];
let ports: number[] = [];
let upstream: ResilientUpstream;
let monitor: HealthMonitor;
const changes: HealthChange[] = [];

interface Control {
  calls: { work: number; charge: number };
  cancelled: number[];
  hungOpen: number;
}

async function control(port: number, body?: object): Promise<Control> {
  const res = await fetch(`http://127.0.0.1:${port}/control`, {
    method: body === undefined ? 'GET' : 'POST',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as Control;
}

beforeAll(async () => {
  ports = [await freePort(), await freePort()];
  children = await Promise.all(
    ports.map((port, i) =>
      spawnUntil('node', [FIXTURE, '--port', String(port), '--name', `r${i + 1}`], /listening on/),
    ),
  );
  const config = parseConfig({
    servers: {
      svc: {
        transport: 'http',
        urls: ports.map((p) => `http://127.0.0.1:${p}/mcp`),
        timeout_ms: 300,
        idempotent_tools: ['work'],
        circuit_breaker: { failure_threshold: 2, open_ms: 800, half_open_max_calls: 1 },
        health_check: { interval_ms: 200, timeout_ms: 500 },
      },
    },
  }).servers.svc as ServerConfig;
  upstream = createServerUpstream('svc', config, silentLogger);
  monitor = new HealthMonitor({ logger: silentLogger });
  monitor.onChange((c) => changes.push(c));
  await upstream.start();
  monitor.watch('svc', upstream, config.health_check);
  await eventually(() => expect(monitor.server('svc')?.state).toBe('healthy'));
}, 60_000);

afterAll(async () => {
  await monitor?.close();
  await upstream?.close();
  for (const child of children) killGroup(child, 'SIGKILL');
});

it('a hanging replica: timeouts are cancelled upstream, the breaker opens, traffic moves, then it recovers', async () => {
  let stop = false;
  let ok = 0;
  const served: Record<string, number> = {};
  const failures: string[] = [];
  const traffic = async () => {
    while (!stop) {
      const ctx: CallContext = {};
      try {
        await upstream.request('tools/call', { name: 'work', arguments: {} }, ctx);
        ok++;
        served[ctx.replica!] = (served[ctx.replica!] ?? 0) + 1;
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  };
  const workers = [traffic(), traffic(), traffic()];

  await eventually(() => {
    expect(served['svc#1']).toBeGreaterThan(10);
    expect(served['svc#2']).toBeGreaterThan(10);
  });

  await control(ports[1]!, { hang: true });
  // Calls to the hanging replica time out and the hub tells the upstream it gave up on them.
  await eventually(async () => expect((await control(ports[1]!)).cancelled.length).toBeGreaterThan(0));
  const opened = () =>
    changes.some((c) => c.replica === 'svc#2' && c.to === 'down' && c.reason === 'circuit breaker open');
  await eventually(() => expect(opened()).toBe(true));
  expect(monitor.server('svc')?.state).not.toBe('healthy');

  // While open, the other replica carries the traffic.
  const okAtOpen = ok;
  await eventually(() => expect(ok).toBeGreaterThan(okAtOpen + 50));

  // Later it half-opens and lets a trial call through.
  await eventually(() =>
    expect(changes.some((c) => c.replica === 'svc#2' && c.reason === 'circuit breaker half-open')).toBe(true),
  );

  await control(ports[1]!, { hang: false });
  await eventually(() => {
    const r2 = upstream.replicaStatus().find((r) => r.id === 'svc#2')!;
    expect(r2.breaker).toBe('closed');
    expect(r2.health).toBe('healthy');
  });
  const servedAtClose = served['svc#2'] ?? 0;
  await eventually(() => expect(served['svc#2']).toBeGreaterThan(servedAtClose + 10));
  await eventually(() => expect(monitor.server('svc')?.state).toBe('healthy'));

  stop = true;
  await Promise.all(workers);
  // `work` is marked idempotent: a timed-out call was retried on the healthy replica, so nobody failed.
  expect(failures).toEqual([]);
  // No hung request stays open upstream: every one was aborted.
  await eventually(async () => expect((await control(ports[1]!)).hungOpen).toBe(0));
}, 90_000);
