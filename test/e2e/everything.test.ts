import type { ChildProcess } from 'node:child_process';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { connectClient } from '../helpers/client.ts';
import { adminHeaders, eventually, startTestHub } from '../helpers/hub.ts';
import { EVERYTHING, freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

let hub: RunningHub;
let everythingHttp: ChildProcess;
let client: Client;
const sampled: string[] = [];
const logs: string[] = [];

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('\n');
}

beforeAll(async () => {
  const port = await freePort();
  everythingHttp = await spawnUntil('node', [EVERYTHING, 'streamableHttp'], /listening|running|port/i, {
    PORT: String(port),
  });
  hub = await startTestHub({
    servers: {
      everything: { transport: 'stdio', command: 'node', args: [EVERYTHING, 'stdio'] },
      remote: { transport: 'http', url: `http://127.0.0.1:${port}/mcp` },
      database: { transport: 'stdio', command: 'node', args: ['examples/servers/database.mjs'] },
    },
  });
  client = await connectClient(`${hub.url}/mcp`, {
    headers: await adminHeaders(hub),
    capabilities: { sampling: {}, elicitation: {} },
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    const first = request.params.messages[0]?.content;
    sampled.push(first && 'text' in first ? String(first.text) : '');
    return {
      model: 'test-model',
      role: 'assistant',
      content: { type: 'text', text: 'sampled by the test client' },
    };
  });
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(JSON.stringify(n.params.data));
  });
  await eventually(async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(['everything__echo', 'remote__echo', 'database__analyze_sql']),
    );
  });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await hub?.stop();
  killGroup(everythingHttp);
});

describe('the hub in front of the official reference server and the demo servers', () => {
  it('aggregates tools with server__tool names and calls them over stdio and HTTP', async () => {
    expect(text(await client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }))).toContain(
      'hi',
    );
    expect(text(await client.callTool({ name: 'remote__get-sum', arguments: { a: 1, b: 41 } }))).toContain(
      '42',
    );
  });

  it('serves one server with its own names at /mcp/{server}', async () => {
    const scoped = await connectClient(`${hub.url}/mcp/everything`, { headers: await adminHeaders(hub) });
    try {
      const names = (await scoped.listTools()).tools.map((t) => t.name);
      expect(names).toContain('echo');
      expect(names).not.toContain('everything__echo');
      expect(text(await scoped.callTool({ name: 'echo', arguments: { message: 'scoped' } }))).toContain(
        'scoped',
      );
    } finally {
      await scoped.close();
    }
  });

  it('lists and reads resources, gets prompts', async () => {
    const resources = (await client.listResources()).resources;
    const doc = resources.find((r) => r.uri.startsWith('demo://resource/static/document/'));
    expect(doc).toBeDefined();
    const read = await client.readResource({ uri: doc!.uri });
    expect(read.contents[0]?.uri).toBe(doc!.uri);
    const schema = resources.find((r) => r.uri === 'db://dev_db/schema');
    expect(schema).toBeDefined();
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toEqual(
      expect.arrayContaining(['everything__simple-prompt', 'database__daily_sales_report']),
    );
    const prompt = await client.getPrompt({
      name: 'database__daily_sales_report',
      arguments: { region: 'EMEA' },
    });
    expect(JSON.stringify(prompt.messages)).toContain('EMEA');
  });

  it('relays progress notifications with the client’s own token', async () => {
    for (const name of [
      'everything__trigger-long-running-operation',
      'remote__trigger-long-running-operation',
    ]) {
      const progress: number[] = [];
      const result = await client.callTool({ name, arguments: { duration: 0.3, steps: 3 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      expect(text(result)).toContain('completed');
      expect(progress).toEqual([1, 2, 3]);
    }
  });

  it('relays log messages sent during a call', async () => {
    logs.length = 0;
    await client.callTool({
      name: 'database__analyze_sql',
      arguments: { database: 'dev_db', sql: 'select 1' },
    });
    expect(logs.length).toBeGreaterThan(0);
  });

  it('relays sampling to the client that caused it and returns its answer (stdio and HTTP)', async () => {
    for (const name of ['everything__trigger-sampling-request', 'remote__trigger-sampling-request']) {
      const result = await client.callTool({ name, arguments: { prompt: `from ${name}` } });
      expect(text(result)).toContain('sampled by the test client');
    }
    expect(sampled.some((s) => s.includes('from everything__trigger-sampling-request'))).toBe(true);
  });

  it('relays elicitation and returns the client’s answer', async () => {
    for (const name of ['everything__trigger-elicitation-request', 'remote__trigger-elicitation-request']) {
      const result = await client.callTool({ name, arguments: {} });
      expect(text(result)).toContain('declined');
    }
  });
});
