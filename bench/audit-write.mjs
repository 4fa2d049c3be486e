#!/usr/bin/env node
/**
 * Audit writer cost per event, in-process: preparation (redaction, caps, argument hash), the chain
 * hash, and a whole append (`appendToChain`: hash + one batch transaction) on embedded PGlite in
 * memory, PGlite on disk and PostgreSQL. CPU is this process's own (for PGlite that includes the
 * database; PostgreSQL's server work is not counted).
 *
 *   node --import tsx bench/audit-write.mjs [--events 5000]
 *   env: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test; a scratch schema is used)
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { chainHash, prepareEvent } from '../src/audit/event.ts';
import { openStore } from '../src/store/store.ts';

const { values } = parseArgs({ options: { events: { type: 'string', default: '5000' } } });
const N = Number(values.events);
const URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const OPTIONS = { maxArgumentBytes: 4096, instance: 'bench:1' };

const input = () => ({
  type: 'mcp',
  action: 'tools/call',
  requestId: randomUUID(),
  actor: { id: 'u1', userId: 'u1', email: 'bench@omnihub.test', keyId: 'k1', roles: ['bencher'] },
  client: { ip: '127.0.0.1', userAgent: 'wrk', name: 'bench', version: '1' },
  server: 'echo',
  target: 'echo',
  arguments: { message: 'hello', database: 'dev_db' },
  decision: { allow: true, rule: 'bencher allow#0', reason: 'allowed' },
  outcome: 'ok',
  latencyMs: 0.52,
  replica: 'echo#0',
});
const inputs = Array.from({ length: N }, input);
const prepareAll = () => inputs.map((i) => prepareEvent(i, randomUUID(), new Date(), OPTIONS));
const perEvent = (ms) => ((ms * 1000) / N).toFixed(1);

// Three passes: the first warms the JIT; the last is reported.
let prepareUs;
let hashUs;
for (let pass = 0; pass < 3; pass++) {
  let t = performance.now();
  const prepared = prepareAll();
  prepareUs = perEvent(performance.now() - t);
  t = performance.now();
  let prev = '0'.repeat(64);
  for (const p of prepared) prev = chainHash(prev, p);
  hashUs = perEvent(performance.now() - t);
}
console.log(`prepareEvent ${prepareUs} µs/event, chainHash ${hashUs} µs/event`);

const dataDir = mkdtempSync(join(tmpdir(), 'omnihub-audit-write-'));
const schema = `bench_audit_write_${process.pid}`;
const stores = [
  ['PGlite in memory', { dataDir: ':memory:' }],
  ['PGlite on disk', { dataDir }],
  ['PostgreSQL', { databaseUrl: URL, schema }],
];
console.log('\n| store | batch | wall µs/event | CPU µs/event |\n|---|---|---|---|');
for (const [label, options] of stores) {
  const store = await openStore(options);
  try {
    // As the audit log does it: the batch goes to the database thread, which chains and stores it.
    const append = (events) =>
      store.runInDatabaseThread('appendAudit', { events, prepare: OPTIONS, wantRows: false });
    await append(prepareAll().slice(0, 500)); // warm-up
    for (const batch of [100, 500]) {
      const events = prepareAll();
      const cpu = process.cpuUsage();
      const t = performance.now();
      for (let i = 0; i < N; i += batch) await append(events.slice(i, i + batch));
      const used = process.cpuUsage(cpu);
      console.log(
        `| ${label} | ${batch} | ${perEvent(performance.now() - t)} | ${((used.user + used.system) / N).toFixed(1)} |`,
      );
    }
  } finally {
    if (options.schema) await store.db.schema.dropSchema(schema).cascade().execute();
    await store.close();
  }
}
rmSync(dataDir, { recursive: true, force: true });
