/**
 * The audit log against real databases (PGlite in memory and the PostgreSQL at TEST_DATABASE_URL):
 * events land in order with a verifiable chain, filters and cursors work, redaction holds everywhere
 * an event can be read back, and retention keeps the rest verifiable.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.ts';
import { exportLines, listEvents } from '../../src/audit/query.ts';
import type { AuditInput } from '../../src/audit/types.ts';
import { verifyChain } from '../../src/audit/verify.ts';
import type { Store } from '../../src/store/store.ts';
import { backends, type TestDatabase } from '../../src/store/test-backends.ts';

const API_KEY = 'omh_AbCdEf123456_0123456789abcdefghijABCDEFGHIJ0123_a1B2c3';
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const PASSWORD = 'hunter2-very-secret';

function call(i: number, extra: Partial<AuditInput> = {}): AuditInput {
  return {
    type: 'mcp',
    action: 'tools/call',
    requestId: `r-${i}`,
    actor: {
      id: 'user:11111111-1111-1111-1111-111111111111',
      userId: '11111111-1111-1111-1111-111111111111',
      email: 'john@company.com',
      roles: ['developer'],
    },
    client: { ip: '127.0.0.1', userAgent: 'vitest', name: 'test-client', version: '1.0' },
    server: 'database',
    target: 'analyze_sql',
    resource: i % 2 === 0 ? 'dev_db' : 'prod_db',
    arguments: { database: i % 2 === 0 ? 'dev_db' : 'prod_db', sql: `select ${i}` },
    decision:
      i % 2 === 0
        ? { allow: true, rule: 'developer.allow[1]', reason: 'allowed' }
        : { allow: false, rule: 'default-deny', reason: 'no rule allows it' },
    outcome: i % 2 === 0 ? 'ok' : 'denied',
    latencyMs: 1.5,
    replica: 'database#0',
    ...extra,
  };
}

describe.each(backends)('audit log on $kind', (backend) => {
  let database: TestDatabase;
  let store: Store;
  let spoolDir: string;
  let audit: AuditLog;

  beforeAll(async () => {
    database = await backend.fresh();
    store = await database.open();
    spoolDir = await mkdtemp(join(tmpdir(), 'audit-log-test-'));
    audit = new AuditLog({ store, spoolDir, flushIntervalMs: 20 });
    await audit.start();
  });
  afterAll(async () => {
    await audit.close();
    await database.dispose();
    await rm(spoolDir, { recursive: true, force: true });
  });
  afterEach(async () => {
    await audit.flush();
  });

  it('stores every recorded event once, in order, with a chain that verifies', async () => {
    for (let i = 0; i < 120; i++) audit.record(call(i));
    await audit.flush();
    const result = await verifyChain(store.db);
    expect(result.ok).toBe(true);
    expect(result.checked).toBe(120);
    expect(result.head.seq).toBe(120);
    const page = await listEvents(store.db, { resource: 'prod_db', decision: 'deny' }, { limit: 500 });
    expect(page.events).toHaveLength(60);
    const e = page.events[0];
    expect(e?.actor?.email).toBe('john@company.com');
    expect(e?.decision).toEqual({ allow: false, rule: 'default-deny', reason: 'no rule allows it' });
    expect(e?.outcome).toBe('denied');
    expect(e?.arguments).toEqual({ database: 'prod_db', sql: 'select 119' });
    expect(e?.argumentsHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('stores an event whose input cannot cross threads, and hands live followers each stored batch', async () => {
    const seen: string[] = [];
    const stop = audit.onAppend((events) => seen.push(...events.map((e) => e.requestId ?? '')));
    const before = (await verifyChain(store.db)).checked;
    // A function cannot be sent to the embedded database's thread: this batch is prepared here instead.
    audit.record(
      call(1000, { requestId: 'odd-input', arguments: { database: 'dev_db', callback: () => 1 } }),
    );
    audit.record(call(1001, { requestId: 'plain-input' }));
    await audit.flush();
    stop();
    expect(seen).toEqual(['odd-input', 'plain-input']);
    const result = await verifyChain(store.db);
    expect(result.ok).toBe(true);
    expect(result.checked).toBe(before + 2);
    const stats = audit.stats();
    expect(stats.spooled).toBe(0);
    expect(stats.databaseReachable).toBe(true);
  });

  it('stores every character exactly: tabs, line breaks, backslashes, COPY markers, non-ASCII', async () => {
    const awkward = 'a\tb\nc\r\nd\\e \\N \\.\n\\.\n"q" \'s\' null é 🚀 \u2028 end\\';
    audit.record(
      call(3000, {
        requestId: 'awkward',
        target: awkward,
        error: awkward,
        client: { ip: '127.0.0.1', userAgent: awkward, name: '\\N', version: '' },
        arguments: { sql: awkward, nested: { '\t\\name\n': ['\\N', '\n'] } },
      }),
    );
    await audit.flush();
    const { events } = await listEvents(store.db, { q: 'awkward' }, { limit: 5 });
    const stored = events.find((e) => e.requestId === 'awkward');
    expect(stored?.target).toBe(awkward);
    expect(stored?.error).toBe(awkward);
    expect(stored?.client).toEqual({ ip: '127.0.0.1', userAgent: awkward, name: '\\N', version: '' });
    expect(stored?.arguments).toEqual({ sql: awkward, nested: { '\t\\name\n': ['\\N', '\n'] } });
    expect((await verifyChain(store.db)).ok).toBe(true);
  });

  it('leaves what arrives during a background flush to the next batch; flush() drains everything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'audit-log-batches-'));
    const log = new AuditLog({ store, spoolDir: dir, batchSize: 10, flushIntervalMs: 60_000 });
    try {
      await log.start();
      for (let i = 0; i < 10; i++) log.record(call(2000 + i)); // a full batch: written in the background
      for (let i = 0; i < 3; i++) log.record(call(2010 + i)); // arrives while that batch is written
      await expect.poll(() => log.stats().inserted).toBe(10);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(log.stats()).toMatchObject({ batches: 1, inserted: 10, queued: 3 });
      await log.flush();
      expect(log.stats()).toMatchObject({ batches: 2, inserted: 13, queued: 0 });
    } finally {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('pages newest first with a cursor that neither skips nor repeats', async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await listEvents(store.db, { user: 'john@company.com' }, { limit: 7, cursor });
      seen.push(...page.events.map((e) => e.seq));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const total = (await listEvents(store.db, {}, { limit: 1000 })).events.length;
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
  });

  it('filters by free text, time range, server, tool, outcome and user id', async () => {
    const t0 = new Date('2020-01-01T00:00:00Z');
    audit.record(
      call(1000, { time: t0, target: 'compare_plans', error: 'Upstream timed out', outcome: 'timeout' }),
    );
    await audit.flush();
    const byText = await listEvents(store.db, { q: 'TIMED OUT' });
    expect(byText.events.map((e) => e.target)).toEqual(['compare_plans']);
    const byRange = await listEvents(store.db, { from: new Date('2019-12-31'), to: new Date('2020-01-02') });
    expect(byRange.events).toHaveLength(1);
    expect((await listEvents(store.db, { tool: 'compare_plans', outcome: 'timeout' })).events).toHaveLength(
      1,
    );
    expect(
      (
        await listEvents(
          store.db,
          { user: '11111111-1111-1111-1111-111111111111', server: 'database' },
          { limit: 1000 },
        )
      ).events.length,
    ).toBeGreaterThan(100);
    expect((await listEvents(store.db, { server: 'nope' })).events).toHaveLength(0);
    // LIKE wildcards in the text are literal.
    expect((await listEvents(store.db, { q: '%' })).events).toHaveLength(0);
  });

  it('never lets a secret reach the store, an export, or the list API', async () => {
    audit.record(
      call(2000, {
        arguments: {
          database: 'dev_db',
          password: PASSWORD,
          apiKey: 'plain-value-by-name',
          headers: { Authorization: `Bearer ${JWT}`, Cookie: 'sid=abc123def456' },
          note: `use ${API_KEY} or ${JWT}`,
          dsn: `postgres://app:${PASSWORD}@db.internal/app`,
          nested: [
            { client_secret: 'xyz-secret-value' },
            '-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----',
          ],
        },
        error: `upstream said: Bearer ${JWT}`,
      }),
    );
    audit.record({
      type: 'admin',
      action: 'user.update',
      outcome: 'ok',
      before: { email: 'a@b.c', password_hash: '$argon2id$v=19$xyz' },
      after: { email: 'a@b.c', token: API_KEY },
    });
    await audit.flush();
    const secrets = [
      PASSWORD,
      'plain-value-by-name',
      JWT,
      API_KEY,
      'abc123def456',
      'xyz-secret-value',
      'MIIEabc',
      '$argon2id$',
    ];
    const dump = await store.db
      .selectFrom('audit_events' as never)
      .selectAll()
      .execute();
    const stored = JSON.stringify(dump);
    for (const s of secrets) expect(stored).not.toContain(s);
    for (const format of ['jsonl', 'csv'] as const) {
      let text = '';
      for await (const chunk of exportLines(store.db, {}, format)) text += chunk;
      expect(text).toContain('dev_db');
      for (const s of secrets) expect(text).not.toContain(s);
    }
    const listed = JSON.stringify(await listEvents(store.db, {}, { limit: 1000 }));
    for (const s of secrets) expect(listed).not.toContain(s);
    expect(listed).toContain('[redacted:api-key]');
    expect(listed).toContain('[redacted:jwt]');
    expect((await verifyChain(store.db)).ok).toBe(true);
  });

  it('caps large arguments but hashes them whole', async () => {
    const big = 'x'.repeat(50_000);
    audit.record(call(3000, { arguments: { sql: big } }));
    audit.record(call(3001, { arguments: { sql: `${big}y` } }));
    await audit.flush();
    const events = (await listEvents(store.db, { q: 'r-300' }, { limit: 2 })).events;
    const a = events.find((e) => e.requestId === 'r-3000');
    const b = events.find((e) => e.requestId === 'r-3001');
    expect(JSON.stringify(a?.arguments).length).toBeLessThan(5_000);
    expect((a?.arguments as { _truncated?: boolean } | undefined)?._truncated).toBe(true);
    expect(a?.argumentsBytes).toBeGreaterThan(50_000);
    expect(a?.argumentsHash).not.toBe(b?.argumentsHash);
  });

  it('retention deletes the oldest prefix and the rest still verifies', async () => {
    const before = await verifyChain(store.db);
    const old = new Date(Date.now() - 40 * 86_400_000);
    // A fresh log on the same store, with retention on: only events older than 30 days may go.
    const pruner = new AuditLog({ store, spoolDir, retentionDays: 30 });
    for (let i = 0; i < 5; i++) audit.record(call(4000 + i, { time: old }));
    await audit.flush();
    const deleted = await pruner.prune();
    // The 2020 event sits mid-chain after recent ones: only the prefix before the first recent event goes.
    expect(deleted).toBe(0);
    const after = await verifyChain(store.db);
    expect(after.ok).toBe(true);
    expect(after.checked).toBe(before.checked + 5);
    // Cut at "now + 1 day": everything is older, the chain is emptied up to its head and stays valid.
    const all = await pruner.prune(new Date(Date.now() + 31 * 86_400_000));
    expect(all).toBe(after.checked);
    const empty = await verifyChain(store.db);
    expect(empty).toMatchObject({ ok: true, checked: 0, anchor: { seq: after.head.seq } });
    audit.record(call(5000));
    await audit.flush();
    expect(await verifyChain(store.db)).toMatchObject({ ok: true, checked: 1 });
  });
});
