import { Agent, createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../telemetry/logger.ts';
import { DrainGate, gracefulShutdown } from './lifecycle.ts';

interface Answer {
  status: number;
  body: string;
  connection?: string;
}

function get(port: number, path: string, agent: Agent | false, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A server whose `/slow` requests wait until the test releases them. */
async function serve(): Promise<{
  server: Server;
  port: number;
  release: () => void;
  started: () => number;
}> {
  const waiting: (() => void)[] = [];
  let started = 0;
  const server = createServer((req, res) => {
    if (req.url === '/slow') {
      started++;
      waiting.push(() => res.end('slow done'));
      return;
    }
    res.end(req.url === '/ready' ? 'ready' : 'ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    release: () => {
      for (const w of waiting.splice(0)) w();
    },
    started: () => started,
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

describe('DrainGate', () => {
  it('reports not ready first, then refuses new requests but keeps /health', async () => {
    const { server, port } = await serve();
    servers.push(server);
    const gate = new DrainGate(server);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    expect((await get(port, '/ready', agent)).status).toBe(200);

    gate.markNotReady();
    expect(gate.isDraining).toBe(true);
    const ready = await get(port, '/ready', agent);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({ status: 'draining' });
    expect((await get(port, '/api/v1/things', agent)).status).toBe(200);

    gate.start();
    const refused = await get(port, '/mcp', agent, 'POST');
    expect(refused.status).toBe(503);
    expect(refused.connection).toBe('close');
    expect(JSON.parse(refused.body).error.code).toBe(-32000);
    expect((await get(port, '/api/v1/things', agent)).status).toBe(503);
    expect((await get(port, '/health', agent)).status).toBe(200);
    agent.destroy();
  });
});

describe('gracefulShutdown', () => {
  it('lets in-flight requests finish, refuses new connections, then runs the closers in order', async () => {
    const { server, port, release, started } = await serve();
    servers.push(server);
    const gate = new DrainGate(server);
    const calls = [1, 2, 3].map(() => get(port, '/slow', false));
    await until(() => started() === 3);
    expect(gate.inFlight).toBe(3);

    const order: string[] = [];
    const shutdown = gracefulShutdown({
      server,
      gate,
      logger: silentLogger,
      timeoutMs: 60_000,
      closers: [
        { name: 'hub', close: () => void order.push(`hub after ${gate.inFlight} in flight`) },
        {
          name: 'audit',
          close: async () => {
            order.push('audit');
          },
        },
        { name: 'store', close: () => void order.push('store') },
      ],
    });
    // No new connection is accepted while the three are still running.
    await until(() => !server.listening);
    await expect(get(port, '/health', false)).rejects.toThrow(/ECONNREFUSED/);
    expect(order).toEqual([]);

    release();
    const answers = await Promise.all(calls);
    expect(answers.map((a) => [a.status, a.body])).toEqual([
      [200, 'slow done'],
      [200, 'slow done'],
      [200, 'slow done'],
    ]);
    expect(await shutdown).toEqual({ drained: true, abandoned: 0, failed: [] });
    expect(order).toEqual(['hub after 0 in flight', 'audit', 'store']);
  });

  it('stops waiting at the timeout and reports what was cut off and which closer failed', async () => {
    const { server, port, started } = await serve();
    servers.push(server);
    const gate = new DrainGate(server);
    const stuck = get(port, '/slow', false).catch((err: Error) => err);
    await until(() => started() === 1);
    const report = await gracefulShutdown({
      server,
      gate,
      logger: silentLogger,
      timeoutMs: 50,
      closers: [
        {
          name: 'audit',
          close: () => {
            throw new Error('disk full');
          },
        },
        { name: 'store', close: () => undefined },
      ],
    });
    expect(report).toEqual({ drained: false, abandoned: 1, failed: ['audit'] });
    expect(await stuck).toBeInstanceOf(Error);
  });
});
