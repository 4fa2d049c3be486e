import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.ts';
import type { RunningHub } from '../../src/server/start.ts';
import { connectClient } from '../helpers/client.ts';
import { ADMIN, eventually, login, startTestHub } from '../helpers/hub.ts';

/**
 * The seed's scenario, end to end: the demo servers and roles, an official SDK client per demo role,
 * every decision made by the hub's policy at four levels.
 */
let hub: RunningHub;
const clients: Record<string, Client> = {};

async function clientFor(email: string, password = 'change-me-now', path = '/mcp'): Promise<Client> {
  const token = await login(hub, email, password);
  return connectClient(`${hub.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
}

function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((c) => c.text ?? '').join('\n');
}

beforeAll(async () => {
  hub = await startTestHub(await loadConfigFile('examples/demo.yaml'));
  clients.admin = await clientFor(ADMIN.email, ADMIN.password);
  await eventually(async () => {
    const names = (await clients.admin!.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(['database__analyze_sql', 'code__git_commit', 'etl__start_workflow']),
    );
  });
  clients.developer = await clientFor('john@company.com');
  clients.analyst = await clientFor('ana@company.com');
  clients.customer = await clientFor('carl@company.com');
}, 90_000);

afterAll(async () => {
  for (const c of Object.values(clients)) await c.close().catch(() => undefined);
  await hub?.stop();
});

describe('the seed scenario through /mcp, one SDK client per demo role', () => {
  it('admin sees and may call everything', async () => {
    const names = (await clients.admin!.listTools()).tools.map((t) => t.name);
    expect(names).toContain('database__check_access');
    const result = await clients.admin!.callTool({
      name: 'database__analyze_sql',
      arguments: { database: 'prod_db', sql: 'select 1' },
    });
    expect(result.isError).toBeFalsy();
  });

  it('developer: analyze_sql on dev_db is allowed, on prod_db denied with a clear reason', async () => {
    const dev = clients.developer!;
    const ok = await dev.callTool({
      name: 'database__analyze_sql',
      arguments: { database: 'dev_db', sql: 'select * from orders' },
    });
    expect(ok.isError).toBeFalsy();
    expect(text(ok)).toMatch(/dev_db/);
    await expect(
      dev.callTool({ name: 'database__analyze_sql', arguments: { database: 'prod_db', sql: 'select 1' } }),
    ).rejects.toThrow(/access to prod_db is denied/i);
    await expect(
      dev.callTool({ name: 'database__analyze_sql', arguments: { sql: 'select 1' } }),
    ).rejects.toThrow(/denied/i);
  });

  it('developer: sees code tools and the allowed database tools, never check_access', async () => {
    const names = (await clients.developer!.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['code__git_commit', 'database__analyze_sql']));
    expect(names).not.toContain('database__check_access');
    expect(names.some((n) => n.startsWith('etl__'))).toBe(false);
    await expect(
      clients.developer!.callTool({ name: 'database__check_access', arguments: { database: 'dev_db' } }),
    ).rejects.toThrow(/Unknown tool/);
  });

  it('analyst: analyze_sql on any database, but not check_access', async () => {
    const ana = clients.analyst!;
    const names = (await ana.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(['database__analyze_sql']);
    const ok = await ana.callTool({
      name: 'database__analyze_sql',
      arguments: { database: 'prod_db', sql: 'select 1' },
    });
    expect(ok.isError).toBeFalsy();
    await expect(
      ana.callTool({ name: 'database__check_access', arguments: { database: 'prod_db' } }),
    ).rejects.toThrow(/Unknown tool/);
    const prompts = (await ana.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toContain('database__daily_sales_report');
  });

  it('customer: no tools at all, only the daily_sales_report prompt', async () => {
    const carl = clients.customer!;
    expect((await carl.listTools()).tools).toEqual([]);
    const prompts = (await carl.listPrompts()).prompts.map((p) => p.name);
    expect(prompts).toEqual(['database__daily_sales_report']);
    const prompt = await carl.getPrompt({ name: 'database__daily_sales_report', arguments: {} });
    expect(prompt.messages.length).toBeGreaterThan(0);
    await expect(
      carl.callTool({ name: 'database__analyze_sql', arguments: { database: 'dev_db', sql: 'select 1' } }),
    ).rejects.toThrow(/Unknown tool/);
  });

  it('/mcp/{server}: a server the principal may not use does not exist for it', async () => {
    await expect(clientFor('carl@company.com', 'change-me-now', '/mcp/code')).rejects.toThrow(/404|Unknown/);
    const john = await clientFor('john@company.com', 'change-me-now', '/mcp/database');
    try {
      const names = (await john.listTools()).tools.map((t) => t.name);
      expect(names.sort()).toEqual(['analyze_sql', 'compare_plans']);
      await expect(
        john.callTool({ name: 'analyze_sql', arguments: { database: 'prod_db', sql: 'select 1' } }),
      ).rejects.toThrow(/access to prod_db is denied/i);
    } finally {
      await john.close();
    }
  });

  it('no credentials: 401 with the discovery challenge', async () => {
    const res = await fetch(`${hub.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(
      /^Bearer resource_metadata=".*\/\.well-known\/oauth-protected-resource\/mcp"$/,
    );
  });
});
