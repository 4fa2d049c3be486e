import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/logger.ts';
import { AlertNotifier } from './alerts.ts';
import type { HealthChange, HealthState } from './types.ts';

let receiver: Server;
let url: string;
let bodies: unknown[];
/** Status codes to answer with, in order; then 204. */
let script: number[];
let notifier: AlertNotifier | undefined;

beforeEach(async () => {
  bodies = [];
  script = [];
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = script.shift() ?? 204;
      if (status < 300) bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
});

afterEach(async () => {
  await notifier?.close();
  notifier = undefined;
  await new Promise((r) => receiver.close(r));
});

const change = (from: HealthState | null, to: HealthState): HealthChange => ({
  kind: 'state',
  server: 'db',
  replica: null,
  from,
  to,
  reason: null,
  at: new Date().toISOString(),
});

async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function make(settle: number, cooldown: number, retries = 3) {
  notifier = new AlertNotifier({
    config: {
      webhooks: [{ url, format: 'json', headers: {} }],
      settle_ms: settle,
      cooldown_ms: cooldown,
      retries,
    },
    logger: silentLogger,
    retryBaseMs: 20,
  });
  return notifier;
}

it('a server that starts healthy is no news; one that starts down is', async () => {
  const n = make(0, 0);
  n.handle(change(null, 'healthy'));
  await pause(100);
  expect(bodies).toEqual([]);
  n.handle({ ...change(null, 'down'), server: 'other' });
  await until(() => bodies.length === 1);
  expect(bodies[0]).toMatchObject({ server: 'other', state: 'down', previous: 'healthy' });
});

it('changes within the settle window are coalesced; a flap back sends nothing', async () => {
  const n = make(150, 0);
  n.handle(change(null, 'healthy'));
  n.handle(change('healthy', 'degraded'));
  n.handle(change('degraded', 'down'));
  await until(() => bodies.length === 1);
  expect(bodies[0]).toMatchObject({ state: 'down', previous: 'healthy' });
  n.handle(change('down', 'healthy'));
  n.handle(change('healthy', 'down')); // back to what was announced before the timer fired
  await pause(400);
  expect(bodies).toHaveLength(1);
});

it('non-ignorable failures are retried with backoff; a 4xx is not', async () => {
  const n = make(0, 0, 3);
  script = [500, 503];
  n.handle(change('healthy', 'down'));
  await until(() => bodies.length === 1);
  script = [404];
  n.handle(change('down', 'healthy'));
  await pause(300);
  expect(bodies).toHaveLength(1); // the 404 was final
});

it('a cooldown holds the next alert and sends the state current at its end', async () => {
  const n = make(0, 1000);
  n.handle(change('healthy', 'down'));
  await until(() => bodies.length === 1);
  n.handle(change('down', 'degraded'));
  n.handle(change('degraded', 'healthy'));
  await pause(50);
  expect(bodies).toHaveLength(1);
  await until(() => bodies.length === 2);
  expect(bodies[1]).toMatchObject({ state: 'healthy', previous: 'down' });
});
