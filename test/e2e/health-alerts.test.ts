import type { ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.ts';
import type { ServerConfig } from '../../src/config/schema.ts';
import { AlertNotifier, type AlertPayload } from '../../src/health/alerts.ts';
import { HealthHistory } from '../../src/health/history.ts';
import { HealthMonitor } from '../../src/health/monitor.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { createServerUpstream } from '../../src/upstream/index.ts';
import type { ResilientUpstream } from '../../src/upstream/types.ts';
import { eventually } from '../helpers/hub.ts';
import { freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

// A server going down produces exactly one webhook call at a real HTTP receiver (JSON and Slack
// formats), and its recovery exactly one more. The changes are in the history table.

const FIXTURE = 'test/fixtures/resilience-server.mjs';
let port: number;
let child: ChildProcess | undefined;
let receiver: Server;
let receiverUrl: string;
const received: { path: string; body: unknown }[] = [];
let store: Store;
let upstream: ResilientUpstream;
let monitor: HealthMonitor;
let notifier: AlertNotifier;

const startUpstreamProcess = () =>
  spawnUntil('node', [FIXTURE, '--port', String(port), '--name', 'alerts'], /listening on/);
const posts = (path: string) => received.filter((r) => r.path === path).map((r) => r.body);
/** Lets a few probe rounds pass (each 100 ms) so that a duplicate alert, if any, would have arrived. */
const settle = () => new Promise((r) => setTimeout(r, 1_000));

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  port = await freePort();
  child = await startUpstreamProcess();
  const config = parseConfig({
    servers: {
      svc: {
        transport: 'http',
        url: `http://127.0.0.1:${port}/mcp`,
        health_check: { interval_ms: 100, timeout_ms: 500 },
      },
    },
    alerts: {
      settle_ms: 300,
      cooldown_ms: 200,
      webhooks: [
        { url: `${receiverUrl}/json` },
        { url: `${receiverUrl}/slack`, format: 'slack' },
        { url: `${receiverUrl}/only-down`, events: ['down'] },
      ],
    },
  });
  store = await openStore({ dataDir: ':memory:' });
  const server = config.servers.svc as ServerConfig;
  upstream = createServerUpstream('svc', server, silentLogger, { backoff: { baseMs: 100, maxMs: 300 } });
  monitor = new HealthMonitor({ logger: silentLogger, history: new HealthHistory(store.db, silentLogger) });
  notifier = new AlertNotifier({ config: config.alerts!, logger: silentLogger, retryBaseMs: 50 });
  monitor.onChange((c) => notifier.handle(c));
  await upstream.start();
  monitor.watch('svc', upstream, server.health_check);
  await eventually(() => expect(monitor.server('svc')?.state).toBe('healthy'));
}, 60_000);

afterAll(async () => {
  await notifier?.close();
  await monitor?.close();
  await upstream?.close();
  killGroup(child, 'SIGKILL');
  await store?.close();
  await new Promise((r) => receiver?.close(r));
});

it('down → one webhook per receiver; recovery → one more', async () => {
  await settle();
  expect(received).toEqual([]); // starting healthy is no news

  killGroup(child, 'SIGKILL');
  await eventually(() => expect(posts('/json')).toHaveLength(1));
  await eventually(() => expect(posts('/slack')).toHaveLength(1));
  await eventually(() => expect(posts('/only-down')).toHaveLength(1));
  await settle();
  expect(posts('/json')).toHaveLength(1);
  const down = posts('/json')[0] as AlertPayload;
  expect(down).toMatchObject({ type: 'omnihub.health', server: 'svc', state: 'down', previous: 'healthy' });
  expect((posts('/slack')[0] as { text: string }).text).toMatch(/svc\* is DOWN \(was healthy\)/);

  child = await startUpstreamProcess();
  await eventually(() => expect(posts('/json')).toHaveLength(2), 30_000);
  await eventually(() => expect(posts('/slack')).toHaveLength(2));
  await settle();
  expect(posts('/json')).toHaveLength(2);
  expect(posts('/slack')).toHaveLength(2);
  expect(posts('/only-down')).toHaveLength(1); // filtered: recovery is not a `down` event
  expect(posts('/json')[1]).toMatchObject({ server: 'svc', state: 'healthy', previous: 'down' });
  expect((posts('/slack')[1] as { text: string }).text).toMatch(/svc\* is HEALTHY \(was down\)/);

  // The history table has the story, newest first.
  await eventually(async () => {
    const events = await monitor.history('svc');
    const server = events.filter((e) => e.kind === 'state' && e.replica === null).map((e) => e.to);
    // (a failed probe may have shown `degraded` on the way down: that is history, not an alert)
    expect(server[0]).toBe('healthy');
    expect(server.indexOf('down')).toBeGreaterThan(0);
    expect(server.at(-1)).toBe('healthy');
  });
}, 60_000);
