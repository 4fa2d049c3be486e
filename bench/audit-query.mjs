#!/usr/bin/env node
/**
 * Audit query benchmark: seeds 1,000,000 events into a dedicated schema of a PostgreSQL database
 * (the real migrations, then INSERT … SELECT generate_series), runs the filtered queries the console
 * and API make, and prints p50/p95 per query.
 *
 *   node --import tsx bench/audit-query.mjs [--events 1000000] [--runs 40] [--keep]
 *   env: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import pg from 'pg';
import { listEvents } from '../src/audit/query.ts';
import { openStore } from '../src/store/store.ts';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    runs: { type: 'string', default: '40' },
    keep: { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const RUNS = Number(values.runs);
const URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCHEMA = 'bench_audit';

const admin = new pg.Client({ connectionString: URL });
await admin.connect();
await admin.query(`drop schema if exists ${SCHEMA} cascade`);
const store = await openStore({ databaseUrl: URL, schema: SCHEMA });
const db = store.db;

// 1,000 users, 20 servers × 10 tools, 50 resources, 30 days; ~8% denied, ~3% errors.
const t0 = performance.now();
await sql`insert into audit_events (seq, id, time, type, action, actor_id, user_id, actor_email, roles, client_ip,
    server, target, resource, arguments, arguments_hash, arguments_bytes, allowed, rule, reason, outcome, latency_ms,
    replica, instance, prev_hash, hash, search)
  select g, gen_random_uuid(),
    now() - interval '30 days' + (g::double precision / ${EVENTS}) * interval '30 days',
    'mcp', case when g % 10 = 0 then 'tools/list' else 'tools/call' end,
    'user:' || (g % 1000), null, 'user' || (g % 1000) || '@example.com', '["developer"]', '10.0.' || (g % 250) || '.1',
    'server' || (g % 20), 'tool' || (g % 10) || '_' || (g % 20), case when g % 3 = 0 then 'prod_db_' || (g % 50) else 'dev_db_' || (g % 50) end,
    '{"sql":"select * from t' || (g % 997) || ' where id = ' || g || '"}', md5(g::text), 60,
    (g % 12 <> 0), case when g % 12 = 0 then 'default-deny' else 'developer.allow[0]' end, 'bench',
    case when g % 12 = 0 then 'denied' when g % 33 = 0 then 'tool_error' when g % 97 = 0 then 'timeout' else 'ok' end,
    (g % 500) / 10.0, 'server' || (g % 20) || '#' || (g % 2), 'bench', '', md5(g::text),
    lower('tools/call user' || (g % 1000) || '@example.com server' || (g % 20) || ' tool' || (g % 10) || '_' || (g % 20) ||
      ' select * from t' || (g % 997) || ' where id = ' || g)
  from generate_series(1, ${EVENTS}) g`.execute(db);
await sql`update audit_chain set seq = ${EVENTS}`.execute(db);
await sql`analyze audit_events`.execute(db);
const seeded = performance.now() - t0;

const day = 86_400_000;
const now = Date.now();
const queries = {
  'newest page (no filter)': {},
  user: { user: 'user42@example.com' },
  'user + last 7 days': { user: 'user42@example.com', from: new Date(now - 7 * day) },
  'server + tool': { server: 'server7', tool: 'tool7_7' },
  resource: { resource: 'prod_db_9' },
  'denied, last 24 h': { decision: 'deny', from: new Date(now - day) },
  'outcome timeout': { outcome: 'timeout' },
  'server + denied + 3-day range': {
    server: 'server3',
    decision: 'deny',
    from: new Date(now - 10 * day),
    to: new Date(now - 7 * day),
  },
  'free text (table name)': { q: 'from t123 ' },
  'free text + user': { q: 'where id = 4242', user: 'user242@example.com' },
};

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

console.log(`seeded ${EVENTS.toLocaleString()} events in ${(seeded / 1000).toFixed(1)} s (schema ${SCHEMA})`);
console.log('query                                   rows   p50 ms   p95 ms');
for (const [name, filters] of Object.entries(queries)) {
  const times = [];
  let rows = 0;
  let cursor;
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    // Alternate first pages and next pages, as a console scrolling would.
    const page = await listEvents(db, filters, { limit: 50, cursor: i % 2 ? cursor : undefined });
    times.push(performance.now() - start);
    rows = page.events.length;
    cursor = page.nextCursor ?? undefined;
  }
  times.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(38)} ${String(rows).padStart(5)} ${pct(times, 50).toFixed(1).padStart(8)} ${pct(times, 95).toFixed(1).padStart(8)}`,
  );
}

await store.close();
if (!values.keep) await admin.query(`drop schema if exists ${SCHEMA} cascade`);
await admin.end();
