// The demo servers, driven by the official SDK client over stdio and over streamable HTTP.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  LoggingMessageNotificationSchema,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('.', import.meta.url));
const children: ChildProcess[] = [];

/** Starts `node <file> ...args` and resolves with the URL it prints (`listening on http://…/mcp`). */
async function startListening(file: string, args: string[]): Promise<string> {
  const child = spawn(process.execPath, [`${dir}${file}`, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let err = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const m = err.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/mcp)/);
      if (m?.[1]) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}: ${err}`)));
  });
}

afterAll(async () => {
  await Promise.all(
    children.map(async (c) => {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await once(c, 'exit');
      }
    }),
  );
});

type Mode = 'stdio' | 'http';

async function connect(file: string, mode: Mode): Promise<{ client: Client; logs: unknown[] }> {
  const client = new Client({ name: 'servers-test', version: '1.0.0' });
  const logs: unknown[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
    logs.push(n.params);
  });
  if (mode === 'stdio') {
    await client.connect(
      new StdioClientTransport({ command: process.execPath, args: [`${dir}${file}`], stderr: 'ignore' }),
    );
  } else {
    const url = await startListening(file, ['--http', '--port', '0']);
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  }
  return { client, logs };
}

function text(result: unknown): string {
  const content = (result as CallToolResult).content;
  const first = content[0];
  return first?.type === 'text' ? first.text : '';
}

async function call(client: Client, name: string, args: Record<string, unknown>, progress?: Progress[]) {
  const onprogress = progress ? (p: Progress) => progress.push(p) : undefined;
  return (await client.callTool({ name, arguments: args }, undefined, { onprogress })) as CallToolResult;
}

describe.each<Mode>(['stdio', 'http'])('demo servers over %s', (mode) => {
  describe('database', () => {
    let client: Client;
    let logs: unknown[];
    beforeAll(async () => {
      ({ client, logs } = await connect('database.mjs', mode));
    });
    afterAll(() => client.close());

    it('declares logging and lists its tools, prompt and resources', async () => {
      expect(client.getServerVersion()?.name).toBe('database');
      expect(client.getServerCapabilities()?.logging).toBeDefined();
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['analyze_sql', 'check_access', 'compare_plans']);
      for (const tool of tools.tools) expect(tool.inputSchema.required).toContain('database');
      const resources = await client.listResources();
      expect(resources.resources.map((r) => r.uri)).toEqual(
        expect.arrayContaining([
          'db://dev_db/schema',
          'db://prod_db/schema',
          'db://staging_db/tables/orders',
        ]),
      );
      const templates = await client.listResourceTemplates();
      expect(templates.resourceTemplates.map((t) => t.uriTemplate)).toEqual([
        'db://{database}/tables/{table}',
      ]);
    });

    it('analyze_sql is deterministic, reports progress and logs', async () => {
      const progress: Progress[] = [];
      const args = {
        database: 'prod_db',
        sql: 'SELECT * FROM orders o JOIN customers c ON c.id = o.customer_id',
      };
      const a = await call(client, 'analyze_sql', args, progress);
      const b = await call(client, 'analyze_sql', args);
      expect(a.isError).toBeFalsy();
      expect(a.structuredContent).toEqual(b.structuredContent);
      expect(a.structuredContent).toMatchObject({ statementType: 'SELECT', tables: ['orders', 'customers'] });
      expect((a.structuredContent as { estimatedCost: number }).estimatedCost).toBeGreaterThan(0);
      expect(progress.map((p) => p.progress)).toEqual([1, 2, 3]);
      expect(logs).toContainEqual(expect.objectContaining({ level: 'info', logger: 'database' }));
    });

    it('logging/setLevel filters the log messages', async () => {
      await client.setLoggingLevel('error');
      const before = logs.length;
      await call(client, 'analyze_sql', { database: 'dev_db', sql: 'SELECT 1' });
      expect(logs.length).toBe(before);
      await client.setLoggingLevel('info');
    });

    it('rejects unknown databases with an isError result', async () => {
      for (const [name, args] of [
        ['analyze_sql', { database: 'nope_db', sql: 'SELECT 1' }],
        ['compare_plans', { database: 'nope_db', sql_a: 'SELECT 1', sql_b: 'SELECT 2' }],
        ['check_access', { database: 'nope_db', user: 'john@company.com' }],
      ] as const) {
        const r = await call(client, name, args);
        expect(r.isError).toBe(true);
        expect(text(r)).toMatch(/Unknown database "nope_db"/);
      }
    });

    it('compare_plans and check_access', async () => {
      const cmp = await call(client, 'compare_plans', {
        database: 'staging_db',
        sql_a: 'SELECT id FROM orders WHERE id = 1',
        sql_b: 'SELECT * FROM orders',
      });
      expect(cmp.structuredContent).toMatchObject({ cheaper: 'a' });
      const access = await call(client, 'check_access', { database: 'dev_db', user: 'john@company.com' });
      expect(access.structuredContent).toMatchObject({ canRead: true, canWrite: true });
    });

    it('gets the daily_sales_report prompt', async () => {
      const listed = await client.listPrompts();
      expect(listed.prompts.map((p) => p.name)).toEqual(['daily_sales_report']);
      const prompt = await client.getPrompt({
        name: 'daily_sales_report',
        arguments: { date: '2026-11-23', region: 'EMEA' },
      });
      expect(prompt.messages[0]?.content).toMatchObject({
        type: 'text',
        text: expect.stringContaining('2026-11-23'),
      });
      const plain = await client.getPrompt({ name: 'daily_sales_report' });
      expect(plain.messages[0]?.content).toMatchObject({ text: expect.stringContaining('all regions') });
    });

    it('reads the schemas and a table from the template; unknown table is -32002', async () => {
      const schema = await client.readResource({ uri: 'db://prod_db/schema' });
      expect(schema.contents[0]).toMatchObject({
        mimeType: 'text/plain',
        text: expect.stringContaining('CREATE TABLE payments'),
      });
      const dev = await client.readResource({ uri: 'db://dev_db/schema' });
      expect(dev.contents[0]).toMatchObject({ text: expect.stringContaining('CREATE TABLE customers') });
      const table = await client.readResource({ uri: 'db://staging_db/tables/orders' });
      const row = table.contents[0];
      expect(JSON.parse(row && 'text' in row ? row.text : '')).toMatchObject({
        database: 'staging_db',
        table: 'orders',
      });
      await expect(client.readResource({ uri: 'db://dev_db/tables/nope' })).rejects.toMatchObject({
        code: -32002,
      });
      const done = await client.complete({
        ref: { type: 'ref/resource', uri: 'db://{database}/tables/{table}' },
        argument: { name: 'database', value: 'pr' },
      });
      expect(done.completion.values).toEqual(['prod_db']);
    });
  });

  describe('code', () => {
    let client: Client;
    beforeAll(async () => {
      ({ client } = await connect('code.mjs', mode));
    });
    afterAll(() => client.close());

    it('lists and calls every tool', async () => {
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['code_review', 'git_commit', 'run_tests']);

      const commit = await call(client, 'git_commit', {
        repo: 'acme/shop',
        message: 'Fix checkout rounding',
      });
      expect(commit.structuredContent).toMatchObject({
        repo: 'acme/shop',
        commit: expect.stringMatching(/^[0-9a-f]{40}$/),
      });

      const diff = ['+++ b/app.js', '@@ -1,1 +1,2 @@', ' const x = 1;', "+const password = 'hunter2';"].join(
        '\n',
      );
      const review = await call(client, 'code_review', { repo: 'acme/shop', diff });
      expect(review.structuredContent).toMatchObject({ verdict: 'request_changes', added: 1 });

      const progress: Progress[] = [];
      const tests = await call(client, 'run_tests', { repo: 'acme/shop', pattern: 'api' }, progress);
      expect((tests.structuredContent as { suites: unknown[] }).suites).toHaveLength(2);
      expect(progress.map((p) => p.progress)).toEqual([0, 1]);

      const bad = await call(client, 'git_commit', { repo: '../etc', message: 'x' });
      expect(bad.isError).toBe(true);
    });
  });

  describe('etl', () => {
    let client: Client;
    beforeAll(async () => {
      ({ client } = await connect('etl.mjs', mode));
    });
    afterAll(() => client.close());

    it('starts a workflow, monitors it and reads its logs', async () => {
      const tools = await client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['get_logs', 'monitor_job', 'start_workflow']);

      const started = await call(client, 'start_workflow', {
        workflow: 'customer_sync',
        params: { full: true },
      });
      const jobId = (started.structuredContent as { job_id: string }).job_id;
      expect(jobId).toMatch(/^job-\d{4}$/);

      const status = await call(client, 'monitor_job', { job_id: jobId });
      expect(status.structuredContent).toMatchObject({
        job_id: jobId,
        status: 'running',
        params: { full: true },
      });

      const logs = await call(client, 'get_logs', { job_id: jobId, tail: 1 });
      expect(text(logs).split('\n')).toHaveLength(1);

      expect((await call(client, 'monitor_job', { job_id: 'job-9999' })).isError).toBe(true);
      expect((await call(client, 'start_workflow', { workflow: 'nope' })).isError).toBe(true);
    });
  });
});

describe('HTTP session handling and DNS-rebinding defence', () => {
  it('evicts a session on DELETE (then 404) and refuses foreign Host/Origin', async () => {
    const url = await startListening('etl.mjs', ['--http', '--port', '0']);
    const client = new Client({ name: 'servers-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await client.connect(transport);
    const sessionId = transport.sessionId ?? '';
    expect(sessionId).not.toBe('');
    await transport.terminateSession();
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': sessionId,
    };
    const after = await fetch(url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(after.status).toBe(404);
    await client.close();

    const init = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } },
    });
    const accept = 'application/json, text/event-stream';
    const badOrigin = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept, origin: 'http://evil.example.com' },
      body: init,
    });
    expect(badOrigin.status).toBe(403);
    const noSession = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }),
    });
    expect(noSession.status).toBe(400);
  });
});

describe('echo-http (raw, no SDK)', () => {
  it('initializes, lists and echoes with the SDK client', async () => {
    const url = await startListening('echo-http.mjs', ['--port', '0']);
    const client = new Client({ name: 'servers-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(url));
    await client.connect(transport);
    expect(transport.sessionId).toBeTruthy();
    await client.ping();
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(['echo']);
    expect(text(await call(client, 'echo', { message: 'hello' }))).toBe('hello');
    await expect(client.listPrompts()).rejects.toMatchObject({ code: -32601 });
    await transport.terminateSession();
    await client.close();
  });
});
