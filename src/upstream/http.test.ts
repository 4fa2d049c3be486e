import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonRpcNotification } from '../mcp/jsonrpc.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { Cancellation } from './cancellation.ts';
import { JsonRpcConnection } from './connection.ts';
import { HttpTransport } from './http.ts';
import { retryPolicy } from './retry-policy.ts';
import { type RunningServer, startTestHttpServer, textOf, until } from './testing/helpers.ts';

function connect(url: string, onNotification?: (n: JsonRpcNotification) => void) {
  const transport = new HttpTransport({
    name: 'test',
    url,
    headers: { 'x-upstream-key': 'k1' },
    logger: silentLogger,
  });
  return new JsonRpcConnection(transport, {
    name: 'test',
    logger: silentLogger,
    timeoutMs: 10_000,
    isRetrySafe: retryPolicy(['echo']),
    ...(onNotification ? { onNotification } : {}),
  });
}

const call = (conn: JsonRpcConnection, name: string, args: Record<string, unknown> = {}) =>
  conn.request('tools/call', { name, arguments: args });

async function stats(conn: JsonRpcConnection) {
  return JSON.parse(textOf(await call(conn, 'stats'))) as {
    slowStarted: number[];
    cancelled: number[];
    calls: Record<string, number>;
    deletes: number;
  };
}

describe.each([
  ['SSE responses', {}],
  ['JSON responses', { JSON_RESPONSE: '1' }],
])('HttpTransport (%s)', (mode, env) => {
  const sse = mode === 'SSE responses';
  let server: RunningServer;
  let conn: JsonRpcConnection;
  const unrelated: JsonRpcNotification[] = [];

  beforeAll(async () => {
    server = await startTestHttpServer(env);
    conn = connect(server.url, (n) => unrelated.push(n));
    await conn.start();
  });
  afterAll(async () => {
    await conn?.close();
    await server?.stop();
  });

  it('initializes and sends session, negotiated version and static headers', async () => {
    expect(conn.info?.protocolVersion).toBe('2025-11-25');
    expect(textOf(await call(conn, 'echo', { text: 'hi' }))).toBe('hi');
    const headers = JSON.parse(textOf(await call(conn, 'headers'))) as Record<string, string>;
    expect(headers['mcp-protocol-version']).toBe('2025-11-25');
    expect(headers['mcp-session-id']).toMatch(/^[\x21-\x7e]+$/);
    expect(headers['x-upstream-key']).toBe('k1');
  });

  it('serves 200 concurrent calls with colliding progress tokens', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const seen: JsonRpcNotification[] = [];
        const result = await conn.request(
          'tools/call',
          { name: 'progress', arguments: { steps: 2, tag: `t${i}` }, _meta: { progressToken: 1 } },
          { onNotification: (n) => seen.push(n) },
        );
        return { i, result, seen };
      }),
    );
    for (const { i, result, seen } of results) {
      expect(JSON.parse(textOf(result)).tag).toBe(`t${i}`);
      for (const n of seen) {
        expect(n.params?.progressToken).toBe(1);
        expect(n.params?.message).toBe(`t${i}`);
      }
      // JSON mode cannot carry request-related messages; the SSE mode carries all of them.
      if (sse) expect(seen.length).toBe(2);
    }
  });

  it.runIf(sse)(
    'relates sampling to its own request exactly, even with other hooked requests in flight',
    async () => {
      const hooks = Array.from({ length: 5 }, (_, i) =>
        conn.request(
          'tools/call',
          { name: 'sample', arguments: { prompt: `p${i}` } },
          {
            onRequest: async (method, params) => {
              const messages = params?.messages as { content: { text: string } }[];
              return {
                role: 'assistant',
                model: 'm',
                content: { type: 'text', text: `${method}:${messages[0]?.content.text}` },
              };
            },
          },
        ),
      );
      const texts = (await Promise.all(hooks)).map(textOf);
      expect(texts).toEqual([0, 1, 2, 3, 4].map((i) => `sampling/createMessage:p${i}`));
    },
  );

  it.runIf(sse)('delivers unrelated notifications from the standalone GET stream', async () => {
    await call(conn, 'notify-list-changed');
    await until(() => unrelated.some((n) => n.method === 'notifications/tools/list_changed'), 'list_changed');
  });

  it('cancels on timeout and tells the upstream', async () => {
    const before = (await stats(conn)).cancelled.length;
    await expect(
      conn.request('tools/call', { name: 'slow', arguments: { ms: 20_000 } }, { timeoutMs: 100 }),
    ).rejects.toMatchObject({ code: 'UPSTREAM_TIMEOUT' });
    await until(async () => (await stats(conn)).cancelled.length === before + 1, 'upstream saw the cancel');
  });

  it("cancels on the caller's cancellation over HTTP and tells the upstream", async () => {
    const { cancelled, slowStarted } = await stats(conn);
    const before = cancelled.length;
    const cancellation = new Cancellation();
    const pending = conn.request('tools/call', { name: 'slow', arguments: { ms: 20_000 } }, { cancellation });
    await until(() => conn.inFlight === 1, 'request in flight');
    // Over HTTP the cancel is a POST of its own: sent before the call reached the upstream, it would
    // name a request the upstream does not know yet, which the protocol lets it ignore.
    await until(
      async () => (await stats(conn)).slowStarted.length === slowStarted.length + 1,
      'upstream started the call',
    );
    cancellation.cancel();
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(conn.inFlight).toBe(0);
    await until(async () => (await stats(conn)).cancelled.length === before + 1, 'upstream saw the cancel');
  });

  it('re-initializes after the upstream session expired; resends only what is safe', async () => {
    const countBefore = (await stats(conn)).calls.once ?? 0;
    await call(conn, 'expire-session');
    // Not idempotent: never sent twice, so it fails and the tool did not run.
    await expect(call(conn, 'count', { key: 'once' })).rejects.toMatchObject({
      code: 'UPSTREAM_UNAVAILABLE',
    });
    // The connection now has a new session: safe and unsafe calls work again.
    expect(textOf(await call(conn, 'echo', { text: 'again' }))).toBe('again');
    expect(textOf(await call(conn, 'count', { key: 'once' }))).toBe(String(countBefore + 1));
    // A safe call that hits an expired session is sent again transparently.
    await call(conn, 'expire-session');
    expect(textOf(await call(conn, 'echo', { text: 'retried' }))).toBe('retried');
    expect(conn.state).toBe('ready');
  });

  it('DELETEs the session on close', async () => {
    const other = connect(server.url);
    await other.start();
    const before = (await stats(conn)).deletes;
    await other.close();
    expect((await stats(conn)).deletes).toBe(before + 1);
  });
});

describe('HttpTransport failures', () => {
  it('reports a refused connection as not sent', async () => {
    const server = await startTestHttpServer();
    const url = server.url;
    await server.stop();
    const conn = connect(url);
    await expect(conn.start()).rejects.toMatchObject({ name: 'NotSentError' });
    await conn.close();
  });
});
