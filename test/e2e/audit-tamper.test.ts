/**
 * Tamper evidence against the real PostgreSQL: rows are edited, deleted, inserted and reordered with
 * plain SQL, as someone with database access would, and verification names the event each time
 * (library and `omnihub audit verify`, which exits 1).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chainHash, contentOfRow } from '../../src/audit/event.ts';
import { AuditLog } from '../../src/audit/log.ts';
import type { AuditEventsTable } from '../../src/audit/tables.ts';
import { verifyChain } from '../../src/audit/verify.ts';
import type { Store } from '../../src/store/store.ts';
import { backends, TEST_DATABASE_URL, type TestDatabase } from '../../src/store/test-backends.ts';

const run = promisify(execFile);
const postgres = backends.find((b) => b.kind === 'postgres');

describe.skipIf(!postgres)('audit chain tampering (PostgreSQL)', () => {
  let database: TestDatabase;
  let store: Store;
  let sql: pg.Client;
  let spoolDir: string;
  let ids: string[];

  beforeEach(async () => {
    database = await (postgres as NonNullable<typeof postgres>).fresh();
    store = await database.open();
    spoolDir = await mkdtemp(join(tmpdir(), 'audit-tamper-'));
    const audit = new AuditLog({ store, spoolDir });
    await audit.start();
    for (let i = 1; i <= 10; i++) {
      audit.record({
        type: 'mcp',
        action: 'tools/call',
        actor: { id: 'user:x', email: 'john@company.com', roles: ['developer'] },
        server: 'database',
        target: 'analyze_sql',
        resource: i === 5 ? 'prod_db' : 'dev_db',
        decision: { allow: i !== 5, rule: i === 5 ? 'default-deny' : 'developer.allow[1]', reason: '' },
        outcome: i === 5 ? 'denied' : 'ok',
        arguments: { database: 'dev_db', sql: `select ${i}` },
      });
    }
    await audit.close();
    sql = new pg.Client({
      connectionString: TEST_DATABASE_URL,
      options: `-c search_path=${database.schema}`,
    });
    await sql.connect();
    ids = (await sql.query<{ id: string }>('select id from audit_events order by seq')).rows.map((r) => r.id);
    expect((await verifyChain(store.db)).ok).toBe(true);
  });

  afterEach(async () => {
    await sql.end();
    await database.dispose();
    await rm(spoolDir, { recursive: true, force: true });
  });

  it('names an edited event', async () => {
    await sql.query(`update audit_events set resource = 'dev_db', allowed = true where seq = 5`);
    const r = await verifyChain(store.db);
    expect(r.ok).toBe(false);
    expect(r.problem).toMatchObject({ kind: 'edited', seq: 5, id: ids[4] });
    expect(r.checked).toBe(4);
  });

  it('names an edited event whose hash was recomputed to match', async () => {
    const row = (await sql.query<AuditEventsTable>('select * from audit_events where seq = 5'))
      .rows[0] as AuditEventsTable;
    const forged = { ...row, outcome: 'ok' };
    await sql.query('update audit_events set outcome = $1, hash = $2 where seq = 5', [
      'ok',
      chainHash(row.prev_hash, contentOfRow(forged)),
    ]);
    const r = await verifyChain(store.db);
    expect(r.problem).toMatchObject({ kind: 'edited', seq: 5, id: ids[4] });
  });

  it('names a deleted event', async () => {
    await sql.query('delete from audit_events where seq = 5');
    const r = await verifyChain(store.db);
    expect(r.problem).toMatchObject({ kind: 'deleted', seq: 5, id: ids[5] });
    expect(r.problem?.message).toContain('seq 5..5');
  });

  it('names deleted events at the end of the chain', async () => {
    await sql.query('delete from audit_events where seq >= 9');
    const r = await verifyChain(store.db);
    expect(r.problem).toMatchObject({ kind: 'deleted', seq: 9 });
  });

  it('names an inserted event (renumbered in, with a plausible hash)', async () => {
    await sql.query('update audit_events set seq = seq + 1000 where seq > 5');
    await sql.query('update audit_events set seq = seq - 999 where seq > 1000');
    const five = (await sql.query<AuditEventsTable>('select * from audit_events where seq = 5'))
      .rows[0] as AuditEventsTable;
    const forged = {
      ...five,
      id: '00000000-0000-4000-8000-000000000001',
      resource: 'prod_db',
      outcome: 'ok',
      allowed: true,
    };
    const hash = chainHash(five.hash, contentOfRow(forged));
    await sql.query(
      `insert into audit_events select (json_populate_record(null::audit_events, $1::json)).*`,
      [JSON.stringify({ ...forged, seq: 6, prev_hash: five.hash, hash })],
    );
    const r = await verifyChain(store.db);
    expect(r.problem).toMatchObject({ kind: 'inserted', seq: 6, id: forged.id });
  });

  it('names an inserted event appended after the head', async () => {
    const ten = (await sql.query<AuditEventsTable>('select * from audit_events where seq = 10'))
      .rows[0] as AuditEventsTable;
    const forged = { ...ten, id: '00000000-0000-4000-8000-000000000002' };
    await sql.query(
      `insert into audit_events select (json_populate_record(null::audit_events, $1::json)).*`,
      [
        JSON.stringify({
          ...forged,
          seq: 11,
          prev_hash: ten.hash,
          hash: chainHash(ten.hash, contentOfRow(forged)),
        }),
      ],
    );
    const r = await verifyChain(store.db);
    expect(r.problem).toMatchObject({ kind: 'inserted', seq: 11, id: forged.id });
  });

  it('names reordered events', async () => {
    await sql.query('update audit_events set seq = 1000 where seq = 4');
    await sql.query('update audit_events set seq = 4 where seq = 5');
    await sql.query('update audit_events set seq = 5 where seq = 1000');
    const r = await verifyChain(store.db);
    expect(r.problem).toMatchObject({ kind: 'reordered', seq: 4, id: ids[4] });
  });

  it('`omnihub audit verify` exits 1 and names the event; 0 on an intact chain', async () => {
    const env = {
      ...process.env,
      DATABASE_URL: `${TEST_DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${database.schema}`)}`,
      OMNIHUB_LOG_LEVEL: 'silent',
    };
    const cli = ['--import', 'tsx', 'src/cli/main.ts', 'audit', 'verify'];
    const good = await run(process.execPath, cli, { env });
    expect(good.stdout).toContain('audit chain OK: 10 events');
    await sql.query(`update audit_events set target = 'drop_table' where seq = 7`);
    const bad = await run(process.execPath, cli, { env }).then(
      () => undefined,
      (err: { code: number; stdout: string }) => err,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stdout).toContain(`edited: event ${ids[6]} (seq 7)`);
  });
});
