import type { ChildProcess } from 'node:child_process';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ServerConfig } from '../../src/config/schema.ts';
import { HealthHistory } from '../../src/health/history.ts';
import { HealthMonitor } from '../../src/health/monitor.ts';
import { healthRoutes } from '../../src/health/routes.ts';
import type { HealthChange, ServerHealth } from '../../src/health/types.ts';
import { HubError } from '../../src/server/errors.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createServerUpstream } from '../../src/upstream/index.ts';
import type { CallContext, ResilientUpstream } from '../../src/upstream/types.ts';
import { eventually } from '../helpers/hub.ts';
import { freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

// The admin health API over real HTTP (snapshot, history, SSE), and the admin controls behind it:
// drain / undrain a replica, auto-disable after repeated failures, re-enable.

const FIXTURE = 'test/fixtures/resilience-server.mjs';
let children: ChildProcess[] = [];
let ports: number[] = [];
let store: Store;
let upstream: ResilientUpstream;
let monitor: HealthMonitor;
let app: FastifyInstance;
let base: string;

/** The hub's authenticator is injected; here tokens name the caller directly. */
async function authenticate(req: FastifyRequest): Promise<Principal> {
  const header = req.headers.authorization;
  if (header === 'Bearer admin') return { id: 'user:admin', roles: ['admin'], method: 'jwt' };
  if (header === 'Bearer dev') return { id: 'user:dev', roles: ['developer'], method: 'jwt' };
  throw new HubError('UNAUTHENTICATED', 'Authentication required');
}

const admin = { authorization: 'Bearer admin' };
const control = (port: number, body: object) =>
  fetch(`http://127.0.0.1:${port}/control`, { method: 'POST', body: JSON.stringify(body) });

async function call(): Promise<string> {
  const ctx: CallContext = {};
  await upstream.request('tools/call', { name: 'work', arguments: {} }, ctx);
  return ctx.replica!;
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
        timeout_ms: 200,
        circuit_breaker: { failure_threshold: 1, open_ms: 100 },
        auto_disable: { max_failures: 3, window_ms: 60_000 },
        health_check: { interval_ms: 200, timeout_ms: 500 },
      },
    },
  }).servers.svc as ServerConfig;
  store = await openStore({ dataDir: ':memory:' });
  upstream = createServerUpstream('svc', config, silentLogger);
  monitor = new HealthMonitor({ logger: silentLogger, history: new HealthHistory(store.db, silentLogger) });
  await upstream.start();
  monitor.watch('svc', upstream, config.health_check);
  app = Fastify();
  await app.register(healthRoutes, { monitor, authenticate, keepAliveMs: 60_000 });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  await eventually(() => expect(monitor.server('svc')?.state).toBe('healthy'));
}, 60_000);

afterAll(async () => {
  await app?.close();
  await monitor?.close();
  await upstream?.close();
  for (const child of children) killGroup(child, 'SIGKILL');
  await store?.close();
});

it('is for administrators only', async () => {
  expect((await fetch(`${base}/api/v1/health/servers`)).status).toBe(401);
  const dev = await fetch(`${base}/api/v1/health/servers`, { headers: { authorization: 'Bearer dev' } });
  expect(dev.status).toBe(403);
  expect(await dev.json()).toEqual({
    error: { code: 'ACCESS_DENIED', message: 'Administrator role required' },
  });
  expect((await fetch(`${base}/api/v1/health/events`)).status).toBe(401);
});

it('GET /api/v1/health/servers: state, replicas, latency', async () => {
  await monitor.probeNow('svc');
  const res = await fetch(`${base}/api/v1/health/servers`, { headers: admin });
  expect(res.status).toBe(200);
  const { servers } = (await res.json()) as { servers: ServerHealth[] };
  expect(servers).toHaveLength(1);
  const svc = servers[0]!;
  expect(svc).toMatchObject({ name: 'svc', state: 'healthy', disabled: false, last_error: null });
  expect(svc.latency_ms).toBeGreaterThanOrEqual(0);
  expect(svc.replicas.map((r) => [r.id, r.state, r.connection, r.breaker])).toEqual([
    ['svc#1', 'healthy', 'ready', 'closed'],
    ['svc#2', 'healthy', 'ready', 'closed'],
  ]);
  expect(svc.replicas[0]!.last_probe_at).not.toBeNull();

  const one = await fetch(`${base}/api/v1/health/servers/svc`, { headers: admin });
  expect(((await one.json()) as ServerHealth).name).toBe('svc');
  expect((await fetch(`${base}/api/v1/health/servers/nope`, { headers: admin })).status).toBe(404);
});

it('history: validated query, stored changes newest first', async () => {
  const bad = await fetch(`${base}/api/v1/health/servers/svc/history?limit=0`, { headers: admin });
  expect(bad.status).toBe(400);
  const badName = await fetch(`${base}/api/v1/health/servers/${encodeURIComponent('a b')}/history`, {
    headers: admin,
  });
  expect(badName.status).toBe(400);
  await eventually(async () => {
    const res = await fetch(`${base}/api/v1/health/servers/svc/history?limit=10`, { headers: admin });
    const { events } = (await res.json()) as { events: { id: number; to: string; replica: string | null }[] };
    expect(events.some((e) => e.replica === null && e.to === 'healthy')).toBe(true);
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
  });
});

it('drain: no new calls to the replica, the SSE stream reports it; undrain takes it back', async () => {
  const res = await fetch(`${base}/api/v1/health/events`, { headers: admin });
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const nextEvent = async (name: string): Promise<unknown> => {
    for (;;) {
      const match = buffer.match(new RegExp(`event: ${name}\\ndata: (.*)\\n\\n`));
      if (match) {
        buffer = buffer.slice(buffer.indexOf(match[0]) + match[0].length);
        return JSON.parse(match[1]!);
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += decoder.decode(value, { stream: true });
    }
  };
  expect(((await nextEvent('snapshot')) as { servers: unknown[] }).servers).toHaveLength(1);

  await monitor.drain('svc', 'svc#1');
  expect(await nextEvent('change')).toMatchObject({ kind: 'drain', server: 'svc', replica: 'svc#1' });
  const served = new Set<string>();
  for (let i = 0; i < 20; i++) served.add(await call());
  expect([...served]).toEqual(['svc#2']);

  monitor.undrain('svc', 'svc#1');
  expect(await nextEvent('change')).toMatchObject({ kind: 'undrain', replica: 'svc#1' });
  await eventually(async () => {
    const [a, b] = await Promise.all([call(), call()]);
    expect(new Set([a, b]).size).toBe(2); // both in rotation again (least in flight spreads them)
  });
  await reader.cancel();
});

it('auto-disables a server that keeps failing; an admin enables it again', async () => {
  const changes: HealthChange[] = [];
  const off = monitor.onChange((c) => changes.push(c));
  for (const port of ports) await control(port, { hang: true });
  // Every call times out: the breakers trip again and again until the server is disabled.
  await eventually(async () => {
    await call().catch(() => undefined);
    expect(upstream.disabled).toBe(true);
  });
  await expect(call()).rejects.toThrow(/disabled .*an administrator can enable it again/);
  expect(monitor.server('svc')).toMatchObject({ state: 'down', disabled: true });
  expect(changes.some((c) => c.kind === 'disabled')).toBe(true);

  for (const port of ports) await control(port, { hang: false });
  monitor.enable('svc');
  expect(await call()).toMatch(/^svc#[12]$/);
  await eventually(() => expect(monitor.server('svc')?.state).toBe('healthy'));
  expect(changes.some((c) => c.kind === 'enabled')).toBe(true);
  await eventually(async () =>
    expect((await monitor.history('svc')).map((e) => e.kind)).toEqual(
      expect.arrayContaining(['disabled', 'enabled', 'drain', 'undrain']),
    ),
  );
  off();
}, 60_000);

it('a closed upstream is no longer watched', async () => {
  const config = parseConfig({
    servers: { tmp: { transport: 'http', url: `http://127.0.0.1:${ports[0]}/mcp` } },
  }).servers.tmp as ServerConfig;
  const tmp = createServerUpstream('tmp', config, silentLogger);
  await tmp.start();
  monitor.watch('tmp', tmp, config.health_check);
  await eventually(() => expect(monitor.server('tmp')?.state).toBe('healthy'));
  await tmp.close();
  expect(monitor.has('tmp')).toBe(false);
  expect(monitor.snapshot().map((s) => s.name)).toEqual(['svc']);
});
