/**
 * The audit HTTP API over real HTTP: administrators only, filters and cursors, the live SSE stream,
 * and an export of a large range that streams with bounded memory.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import v8 from 'node:v8';
import vm from 'node:vm';
import Fastify, { type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.ts';
import { auditRoutes } from '../../src/audit/routes.ts';
import type { Principal } from '../../src/auth/principal.ts';
import { HubError } from '../../src/server/errors.ts';
import type { Store } from '../../src/store/store.ts';
import { backends, TEST_DATABASE_URL, type TestDatabase } from '../../src/store/test-backends.ts';

const principals: Record<string, Principal> = {
  'admin-token': { id: 'user:a', email: 'admin@example.com', roles: ['admin'], method: 'jwt' },
  'dev-token': { id: 'user:j', email: 'john@company.com', roles: ['developer'], method: 'jwt' },
  // An admin's API key narrowed to one server: not an administrator.
  'scoped-admin-key': {
    id: 'key:s',
    email: 'admin@example.com',
    roles: ['admin'],
    scopes: [{ server: 'code', tools: '*' }],
    method: 'api_key',
  },
};

// A full collection before each heap reading, so what is measured is what is retained.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const exec = promisify(execFile);

const backend = backends.find((b) => b.kind === 'postgres') ?? backends[0];

describe(`audit API (${backend?.kind})`, () => {
  let database: TestDatabase;
  let store: Store;
  let audit: AuditLog;
  let app: FastifyInstance;
  let url: string;
  const admin = { authorization: 'Bearer admin-token' };

  beforeAll(async () => {
    database = await (backend as NonNullable<typeof backend>).fresh();
    store = await database.open();
    audit = new AuditLog({ store, dataDir: ':memory:', flushIntervalMs: 20 });
    await audit.start();
    app = Fastify();
    await app.register(auditRoutes, {
      audit,
      store,
      streamPollMs: 200,
      authenticate: async (req) => {
        const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
        const p = principals[token];
        if (!p) throw new HubError('UNAUTHENTICATED', 'Unauthorized');
        return p;
      },
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
    for (let i = 0; i < 30; i++) {
      audit.record({
        type: 'mcp',
        action: 'tools/call',
        actor: { id: 'user:j', email: 'john@company.com', roles: ['developer'] },
        server: i % 3 === 0 ? 'code' : 'database',
        target: 'analyze_sql',
        resource: i % 2 ? 'prod_db' : 'dev_db',
        decision: { allow: i % 2 === 0, rule: 'r', reason: 'x' },
        outcome: i % 2 ? 'denied' : 'ok',
        arguments: { token: 'super-secret-token-value', sql: 'select 1' },
      });
    }
    await audit.flush();
  });

  afterAll(async () => {
    await app.close();
    await audit.close();
    await database.dispose();
  });

  it('refuses anonymous callers (401) and non-administrators, scoped admin keys too (403)', async () => {
    for (const path of ['/api/v1/audit', '/api/v1/audit/export', '/api/v1/audit/stream']) {
      const anon = await fetch(`${url}${path}`);
      expect(anon.status).toBe(401);
      expect((await anon.json()).error.code).toBe('UNAUTHENTICATED');
      for (const token of ['dev-token', 'scoped-admin-key']) {
        const refused = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        expect(refused.status).toBe(403);
      }
    }
    expect((await fetch(`${url}/api/v1/audit/verify`, { method: 'POST' })).status).toBe(401);
  });

  it('lists with filters and cursor pagination; bad filters are a 400', async () => {
    const first = await (
      await fetch(`${url}/api/v1/audit?server=database&decision=deny&limit=5`, { headers: admin })
    ).json();
    expect(first.events).toHaveLength(5);
    for (const e of first.events) expect(e).toMatchObject({ server: 'database', decision: { allow: false } });
    const second = await (
      await fetch(`${url}/api/v1/audit?server=database&decision=deny&limit=5&cursor=${first.next_cursor}`, {
        headers: admin,
      })
    ).json();
    const all = [...first.events, ...second.events].map((e: { seq: number }) => e.seq);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual([...all].sort((a, b) => b - a));
    expect(JSON.stringify(first)).not.toContain('super-secret-token-value');
    for (const bad of ['decision=maybe', 'from=yesterday', 'limit=0', 'cursor=xyz']) {
      const res = await fetch(`${url}/api/v1/audit?${bad}`, { headers: admin });
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe('INVALID_PARAMS');
    }
  });

  it('verifies the chain', async () => {
    const res = await fetch(`${url}/api/v1/audit/verify`, { method: 'POST', headers: admin });
    expect(await res.json()).toMatchObject({ ok: true, checked: 30 });
  });

  it('streams new events over SSE', async () => {
    const ac = new AbortController();
    const res = await fetch(`${url}/api/v1/audit/stream?server=etl`, { headers: admin, signal: ac.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let text = '';
    await reader.read(); // ": connected"
    audit.record({ type: 'mcp', action: 'tools/call', server: 'database', outcome: 'ok' });
    audit.record({ type: 'mcp', action: 'tools/call', server: 'etl', target: 'run_job', outcome: 'ok' });
    while (!text.includes('run_job')) text += decoder.decode((await reader.read()).value);
    ac.abort();
    expect(text).toMatch(/id: \d+\nevent: audit\ndata: \{/);
    expect(text).not.toContain('"server":"database"');
  });

  it.skipIf(backend?.kind !== 'postgres')(
    'exports a large range as a stream with bounded memory',
    async () => {
      // 40,000 rows of ~2 KB arguments, seeded in SQL: about 100 MB of JSONL.
      await sql`insert into audit_events (seq, id, time, type, action, actor_email, server, target, outcome, arguments, prev_hash, hash, search)
      select 1000 + g, gen_random_uuid(), now() - interval '1 day' + g * interval '1 millisecond', 'mcp', 'tools/call',
        'bulk@example.com', 'bulk', 'analyze_sql', 'ok', '{"sql":"' || repeat('x', 2000) || '"}', '', '', ''
      from generate_series(1, 40000) g`.execute(store.db);
      for (const format of ['jsonl', 'csv']) {
        gc();
        const base = process.memoryUsage().heapUsed;
        let peak = base;
        const res = await fetch(`${url}/api/v1/audit/export?format=${format}&server=bulk`, {
          headers: admin,
        });
        expect(res.status).toBe(200);
        let bytes = 0;
        let lines = 0;
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const before = bytes;
          bytes += value.byteLength;
          for (const b of value) if (b === 10) lines++;
          if (Math.floor(bytes / 8e6) !== Math.floor(before / 8e6)) {
            gc();
            peak = Math.max(peak, process.memoryUsage().heapUsed);
          }
        }
        expect(lines).toBe(format === 'csv' ? 40_001 : 40_000);
        expect(bytes).toBeGreaterThan(80_000_000);
        // Buffering the export would retain over 80 MB; streaming retains a page or two (loose bound).
        expect(peak - base).toBeLessThan(40_000_000);
      }
      // The CLI export, in a process whose heap is capped well below the export's size.
      const env = {
        ...process.env,
        DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${database.schema}`)}`,
      };
      const cli = ['--max-old-space-size=48', '--import', 'tsx', 'src/cli/main.ts', 'audit', 'export'];
      const out = await exec(
        process.execPath,
        [...cli, '--server', 'bulk', '--format', 'csv', '-o', '/dev/null'],
        {
          env,
        },
      );
      expect(out.stderr).toBe('');
    },
    120_000,
  );
});
