/**
 * Rate limits and alert webhooks follow the store like servers and roles: a config applied to the
 * database of a running hub (what `omnihub apply -f` does) takes effect without a restart, and
 * `--prune` clears them again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { applyConfig } from '../../src/config/apply.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { RunningHub } from '../../src/server/start.ts';
import { eventually, startTestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/processes.ts';

const alice: Principal = { id: 'user:alice', roles: ['developer'], method: 'jwt' };
let hub: RunningHub;
let receiver: Server;
let receiverUrl: string;
const alerts: { server: string; state: string }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      alerts.push(JSON.parse(body) as { server: string; state: string });
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
  hub = await startTestHub({ servers: {} });
}, 60_000);

afterAll(async () => {
  await hub?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

it('applies rate limits and alerts from a config change, and clears them with prune', async () => {
  expect(hub.limiter.backend).toBe('off');
  expect(hub.limiter.check(alice)).toBe(0);

  // Nothing listens on this port: the server is down from its start, which is news for the webhook.
  const unreachable = `http://127.0.0.1:${await freePort()}/mcp`;
  await applyConfig(
    hub.store,
    parseConfig({
      servers: { gone: { transport: 'http', url: unreachable, health_check: { interval_ms: 200 } } },
      rate_limits: { default: { rate: 1, per: '1h' } },
      alerts: { settle_ms: 0, cooldown_ms: 0, retries: 0, webhooks: [{ url: receiverUrl }] },
    }),
  );
  await eventually(() => expect(hub.limiter.backend).toBe('memory'));
  expect(hub.limiter.check(alice)).toBe(0);
  expect(hub.limiter.check(alice)).toBeGreaterThan(0);
  await eventually(() =>
    expect(alerts).toContainEqual(expect.objectContaining({ server: 'gone', state: 'down' })),
  );

  await applyConfig(hub.store, parseConfig({}), { prune: true });
  await eventually(() => expect(hub.limiter.backend).toBe('off'));
  expect(hub.limiter.check(alice)).toBe(0);
});
