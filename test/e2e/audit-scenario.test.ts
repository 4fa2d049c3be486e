/**
 * The seed scenario, end to end through a real hub (demo config, real stdio database server): John
 * (developer) is denied analyze_sql on prod_db and allowed on dev_db; the audit trail shows exactly
 * those two calls with the right actor, resource, decision, rule and outcome, and the chain verifies.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { RunningHub } from '../../src/server/start.ts';
import { connectClient } from '../helpers/client.ts';
import { adminHeaders, eventually, login, startTestHub } from '../helpers/hub.ts';

interface Listed {
  events: {
    action: string;
    actor: { email: string; roles: string[] } | null;
    server: string;
    target: string;
    resource: string;
    arguments: { database: string; sql: string };
    decision: { allow: boolean; rule: string; reason: string } | null;
    outcome: string;
  }[];
}

describe('audit: the seed scenario', () => {
  let hub: RunningHub;

  beforeAll(async () => {
    hub = await startTestHub(parse(await readFile('examples/demo.yaml', 'utf8')));
  });
  afterAll(async () => {
    await hub?.stop();
  });

  it("records John's denied prod_db call and allowed dev_db call", async () => {
    const token = await login(hub, 'john@company.com', 'change-me-now');
    const client = await connectClient(`${hub.url}/mcp`, { headers: { authorization: `Bearer ${token}` } });
    // The stdio demo servers start with the hub: wait until their tools are listed.
    await eventually(async () => {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('database__analyze_sql');
    });
    const denied = await client
      .callTool({
        name: 'database__analyze_sql',
        arguments: { database: 'prod_db', sql: 'select * from customers' },
      })
      .then(
        (r) => r,
        (err: Error) => err,
      );
    expect(denied).toBeInstanceOf(Error);
    const allowed = await client.callTool({
      name: 'database__analyze_sql',
      arguments: { database: 'dev_db', sql: 'select * from customers' },
    });
    expect(allowed.isError).toBeFalsy();
    await client.close();

    const headers = await adminHeaders(hub);
    const listed = await eventually(async () => {
      const res = await fetch(`${hub.url}/api/v1/audit?user=john@company.com&tool=analyze_sql`, { headers });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Listed;
      expect(body.events).toHaveLength(2);
      return body;
    });
    const [devCall, prodCall] = listed.events; // newest first
    expect(prodCall).toMatchObject({
      action: 'tools/call',
      actor: { email: 'john@company.com', roles: ['developer'] },
      server: 'database',
      target: 'analyze_sql',
      resource: 'prod_db',
      decision: { allow: false },
      outcome: 'denied',
    });
    expect(prodCall?.decision?.rule).toEqual(expect.any(String));
    expect(prodCall?.decision?.reason).toEqual(expect.any(String));
    expect(devCall).toMatchObject({
      action: 'tools/call',
      actor: { email: 'john@company.com' },
      server: 'database',
      target: 'analyze_sql',
      resource: 'dev_db',
      arguments: { database: 'dev_db', sql: 'select * from customers' },
      decision: { allow: true },
      outcome: 'ok',
    });
    expect(devCall?.decision?.rule).toMatch(/developer/);

    const verify = await fetch(`${hub.url}/api/v1/audit/verify`, { method: 'POST', headers });
    expect(await verify.json()).toMatchObject({ ok: true });
  });
});
