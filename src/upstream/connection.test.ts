import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonRpcNotification } from '../mcp/jsonrpc.ts';
import { HubError } from '../server/errors.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { Cancellation } from './cancellation.ts';
import { JsonRpcConnection } from './connection.ts';
import { StdioTransport } from './stdio.ts';
import { processAlive, TEST_SERVER, textOf, until } from './testing/helpers.ts';

function stdioConnection(
  extra: Partial<ConstructorParameters<typeof JsonRpcConnection>[1]> = {},
  env: Record<string, string> = {},
) {
  const transport = new StdioTransport({
    name: 'test',
    command: process.execPath,
    args: [TEST_SERVER, 'stdio'],
    env,
    logger: silentLogger,
  });
  const conn = new JsonRpcConnection(transport, {
    name: 'test',
    logger: silentLogger,
    timeoutMs: 10_000,
    ...extra,
  });
  return { transport, conn };
}

const call = (conn: JsonRpcConnection, name: string, args: Record<string, unknown> = {}, extra = {}) =>
  conn.request('tools/call', { name, arguments: args, ...extra });

async function stats(
  conn: JsonRpcConnection,
): Promise<{ cancelled: number[]; calls: Record<string, number> }> {
  return JSON.parse(textOf(await call(conn, 'stats')));
}

describe('JsonRpcConnection over stdio', () => {
  const unrelated: JsonRpcNotification[] = [];
  const unrelatedRequests: string[] = [];
  const { conn } = stdioConnection(
    {
      onNotification: (n) => unrelated.push(n),
      onUnrelatedRequest: async (method) => {
        unrelatedRequests.push(method);
        return { role: 'assistant', model: 'unrelated', content: { type: 'text', text: 'from-unrelated' } };
      },
    },
    { EXTRA_VAR: 'given' },
  );

  beforeAll(async () => {
    process.env.OMNIHUB_TEST_SECRET = 'must-not-leak';
    await conn.start();
  });
  afterAll(async () => {
    delete process.env.OMNIHUB_TEST_SECRET;
    await conn.close();
  });

  it('initializes (skipping non-JSON stdout lines) and calls a tool', async () => {
    expect(conn.state).toBe('ready');
    expect(conn.info?.serverInfo.name).toBe('upstream-test');
    expect(conn.info?.protocolVersion).toBe('2025-11-25');
    expect(textOf(await call(conn, 'echo', { text: 'hello' }))).toBe('hello');
  });

  it('gives the child a minimal environment plus its configured env', async () => {
    const { keys } = JSON.parse(textOf(await call(conn, 'env'))) as { keys: string[] };
    expect(keys).toContain('EXTRA_VAR');
    expect(keys).toContain('PATH');
    expect(keys).not.toContain('OMNIHUB_TEST_SECRET');
  });

  it('remaps colliding progress tokens and routes 200 concurrent calls to their callers', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const seen: JsonRpcNotification[] = [];
        const result = await conn.request(
          'tools/call',
          { name: 'progress', arguments: { steps: 2, tag: `t${i}` }, _meta: { progressToken: 'same' } },
          { onNotification: (n) => seen.push(n) },
        );
        return { i, result, seen };
      }),
    );
    const upstreamTokens = new Set<unknown>();
    for (const { i, result, seen } of results) {
      const body = JSON.parse(textOf(result)) as { tag: string; seenToken: unknown };
      expect(body.tag).toBe(`t${i}`);
      upstreamTokens.add(body.seenToken);
      expect(seen.map((n) => n.params?.progress)).toEqual([1, 2]);
      for (const n of seen) {
        expect(n.params?.progressToken).toBe('same');
        expect(n.params?.message).toBe(`t${i}`);
      }
    }
    expect(upstreamTokens.size).toBe(200);
  });

  it('hands a sampling request to the single in-flight request with hooks', async () => {
    const asked: string[] = [];
    // Without hooks the request goes to the unrelated handler.
    const result = await call(conn, 'sample', { prompt: 'hi' });
    expect(textOf(result)).toBe('from-unrelated');
    const hooked = await conn.request(
      'tools/call',
      { name: 'sample', arguments: { prompt: 'hi' } },
      {
        onRequest: async (method) => {
          asked.push(method);
          return { role: 'assistant', model: 'm', content: { type: 'text', text: 'from-hook' } };
        },
      },
    );
    expect(textOf(hooked)).toBe('from-hook');
    expect(asked).toEqual(['sampling/createMessage']);
  });

  it('cannot attribute when two requests have hooks: the unrelated handler answers', async () => {
    unrelatedRequests.length = 0;
    const cancellation = new Cancellation();
    const slow = conn
      .request(
        'tools/call',
        { name: 'slow', arguments: { ms: 20_000 } },
        { cancellation, onNotification: () => {} },
      )
      .catch((e: unknown) => e);
    const hookCalls: string[] = [];
    const result = await conn.request(
      'tools/call',
      { name: 'sample', arguments: { prompt: 'x' } },
      {
        onRequest: async (m) => {
          hookCalls.push(m);
          return { role: 'assistant', model: 'm', content: { type: 'text', text: 'from-hook' } };
        },
      },
    );
    expect(textOf(result)).toBe('from-unrelated');
    expect(hookCalls).toEqual([]);
    expect(unrelatedRequests).toEqual(['sampling/createMessage']);
    cancellation.cancel();
    expect(await slow).toMatchObject({ code: 'CANCELLED' });
  });

  it('routes a log message to the single hooked request', async () => {
    const seen: JsonRpcNotification[] = [];
    await conn.request(
      'tools/call',
      { name: 'log', arguments: { tag: 'L1' } },
      { onNotification: (n) => seen.push(n) },
    );
    expect(seen.map((n) => [n.method, n.params?.data])).toEqual([['notifications/message', 'L1']]);
  });

  it('times out, tells the upstream (notifications/cancelled) and rejects with UPSTREAM_TIMEOUT', async () => {
    const before = (await stats(conn)).cancelled.length;
    await expect(
      conn.request('tools/call', { name: 'slow', arguments: { ms: 20_000 } }, { timeoutMs: 100 }),
    ).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
    await until(async () => (await stats(conn)).cancelled.length === before + 1, 'upstream saw the cancel');
    expect(conn.inFlight).toBe(0);
  });

  it('cancels on cancellation: CANCELLED here, notifications/cancelled upstream', async () => {
    const before = (await stats(conn)).cancelled.length;
    const cancellation = new Cancellation();
    const pending = conn.request('tools/call', { name: 'slow', arguments: { ms: 20_000 } }, { cancellation });
    await until(() => conn.inFlight === 1, 'request in flight');
    cancellation.cancel();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    await until(async () => (await stats(conn)).cancelled.length === before + 1, 'upstream saw the cancel');
  });

  it('rejects an already-cancelled request without sending', async () => {
    const cancellation = new Cancellation();
    cancellation.cancel();
    await expect(
      conn.request('tools/call', { name: 'echo', arguments: { text: 'x' } }, { cancellation }),
    ).rejects.toBeInstanceOf(HubError);
  });

  it('passes upstream JSON-RPC errors through as RpcError', async () => {
    await expect(conn.request('no/such/method', {})).rejects.toMatchObject({
      name: 'RpcError',
      rpcCode: -32601,
    });
  });

  it('close() ends the child process', async () => {
    const { conn: c2, transport: t2 } = stdioConnection();
    await c2.start();
    const pid = t2.pid!;
    expect(processAlive(pid)).toBe(true);
    await c2.close();
    expect(c2.state).toBe('closed');
    expect(processAlive(pid)).toBe(false);
  });
});
