// The official reference server (server-everything) over all three transports, through ServerUpstream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerConfig } from '../config/schema.ts';
import type { JsonRpcNotification, Params } from '../mcp/jsonrpc.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { createServerUpstream } from './index.ts';
import { EVERYTHING, type RunningServer, startEverything, textOf } from './testing/helpers.ts';
import type { ServerUpstream } from './types.ts';

const common = { enabled: true, replicas: 1, timeout_ms: 20_000, idempotent_tools: [] };

/** A downstream client's answers to what the upstream asks while one of its calls runs. */
async function answer(method: string, params: Params | undefined): Promise<unknown> {
  if (method === 'sampling/createMessage') {
    const messages = params?.messages as { content: { text: string } }[];
    return {
      role: 'assistant',
      model: 'test-model',
      content: { type: 'text', text: `echo:${messages[0]?.content.text}` },
    };
  }
  if (method === 'elicitation/create') return { action: 'accept', content: { name: 'Ada', check: true } };
  // stdio/sse cannot say which request a roots/list belongs to: it may land here (see docs/upstreams.md).
  if (method === 'roots/list') return { roots: [] };
  throw new Error(`unexpected ${method}`);
}

describe.each(['stdio', 'streamableHttp', 'sse'] as const)('server-everything over %s', (mode) => {
  let server: RunningServer | undefined;
  let upstream: ServerUpstream;

  beforeAll(async () => {
    let config: ServerConfig;
    if (mode === 'stdio') {
      config = {
        transport: 'stdio',
        command: process.execPath,
        args: [EVERYTHING, 'stdio'],
        env: {},
        ...common,
      };
    } else {
      server = await startEverything(mode);
      config = { transport: mode === 'sse' ? 'sse' : 'http', url: server.url, headers: {}, ...common };
    }
    upstream = createServerUpstream('everything', config, silentLogger);
    upstream.setUnrelatedRequestHandler(async (method) => (method === 'roots/list' ? { roots: [] } : {}));
    await upstream.start();
  });
  afterAll(async () => {
    await upstream?.close();
    await server?.stop();
  });

  it('initializes and lists tools', async () => {
    expect(upstream.state).toBe('ready');
    expect(upstream.info?.serverInfo.name).toBe('mcp-servers/everything');
    const { tools } = (await upstream.request('tools/list', {})) as { tools: { name: string }[] };
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['echo', 'get-sum', 'trigger-long-running-operation']));
  });

  it('calls echo and get-sum', async () => {
    const echo = await upstream.request('tools/call', { name: 'echo', arguments: { message: 'hello' } });
    expect(textOf(echo)).toContain('hello');
    const sum = await upstream.request('tools/call', { name: 'get-sum', arguments: { a: 2, b: 3 } });
    expect(textOf(sum)).toContain('5');
  });

  it('relays progress with the caller token', async () => {
    const seen: JsonRpcNotification[] = [];
    const result = await upstream.request(
      'tools/call',
      {
        name: 'trigger-long-running-operation',
        arguments: { duration: 0.1, steps: 2 },
        _meta: { progressToken: 'p-1' },
      },
      { onNotification: (n) => seen.push(n) },
    );
    expect(textOf(result)).toContain('completed');
    const progress = seen.filter((n) => n.method === 'notifications/progress');
    expect(progress.map((n) => n.params?.progressToken)).toEqual(['p-1', 'p-1']);
  });

  it('relays sampling to the calling request', async () => {
    const result = await upstream.request(
      'tools/call',
      { name: 'trigger-sampling-request', arguments: { prompt: 'ping' } },
      { onRequest: answer },
    );
    expect(textOf(result)).toContain('echo:');
  });

  it('relays elicitation to the calling request', async () => {
    const result = await upstream.request(
      'tools/call',
      { name: 'trigger-elicitation-request', arguments: {} },
      { onRequest: answer },
    );
    expect(JSON.stringify(result)).toContain('Ada');
  });
});
