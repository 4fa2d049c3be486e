/**
 * "Never lost", with a real PostgreSQL that this test owns (its own initdb cluster on a private port;
 * the shared server is never touched): the database is stopped while events flow, events keep coming,
 * it starts again, and every event is stored exactly once. Then a process holding spooled events is
 * killed with SIGKILL; the next start replays the spool and the count still matches.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/audit/log.ts';
import { verifyChain } from '../../src/audit/verify.ts';
import { openStore, type Store } from '../../src/store/store.ts';

const exec = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';
const PORT = 55_400 + Math.floor(Math.random() * 90);
const URL = `postgres://postgres@127.0.0.1:${PORT}/postgres`;
const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary as the postgres user when we are root (PostgreSQL refuses root). */
function pgExec(bin: string, args: string[]) {
  return asRoot
    ? exec('runuser', ['-u', 'postgres', '--', join(BIN, bin), ...args], { timeout: 60_000 })
    : exec(join(BIN, bin), args, { timeout: 60_000 });
}

const available = await exec(join(BIN, 'pg_ctl'), ['--version']).then(
  () => true,
  () => false,
);

async function count(store: Store): Promise<{ total: number; distinct: number }> {
  const row = await store.db
    .selectFrom('audit_events' as never)
    .select((eb) => [
      eb.fn.countAll<string>().as('total'),
      eb.fn
        .count<string>(eb.ref('id' as never))
        .distinct()
        .as('distinct'),
    ])
    .executeTakeFirstOrThrow();
  return { total: Number(row.total), distinct: Number(row.distinct) };
}

async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!available)('audit with the database failing (private PostgreSQL)', () => {
  let dir: string;
  let dataDir: string;
  let spoolDir: string;
  let store: Store;
  let child: ChildProcess | undefined;

  const pgStart = () =>
    pgExec('pg_ctl', [
      '-D',
      dataDir,
      '-w',
      '-l',
      join(dir, 'pg.log'),
      '-o',
      `-p ${PORT} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      'start',
    ]);
  const pgStop = () => pgExec('pg_ctl', ['-D', dataDir, '-w', '-m', 'fast', 'stop']);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'audit-fault-'));
    dataDir = join(dir, 'data');
    spoolDir = join(dir, 'spool');
    if (asRoot) {
      await chown(
        dir,
        Number((await exec('id', ['-u', 'postgres'])).stdout),
        Number((await exec('id', ['-g', 'postgres'])).stdout),
      );
      await chmod(dir, 0o777);
    }
    await pgExec('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync']);
    await pgStart();
    store = await openStore({ databaseUrl: URL });
  });

  afterAll(async () => {
    child?.kill('SIGKILL');
    await store?.close().catch(() => {});
    await pgStop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });

  it('stores every event exactly once across a database outage', async () => {
    const audit = new AuditLog({
      store,
      spoolDir,
      flushIntervalMs: 20,
      retryMs: 100,
      maxRetryMs: 500,
      insertTimeoutMs: 2_000,
    });
    await audit.start();
    let made = 0;
    const flow = setInterval(() => {
      for (let i = 0; i < 10; i++) {
        audit.record({
          type: 'mcp',
          action: 'tools/call',
          server: 'database',
          target: 'analyze_sql',
          outcome: 'ok',
          requestId: `flow-${made}`,
        });
        made++;
      }
    }, 5);
    try {
      await waitUntil(() => audit.stats().inserted > 200);
      await pgStop();
      await waitUntil(() => audit.stats().spooled > 200);
      expect(audit.stats().databaseReachable).toBe(false);
      await pgStart();
      await waitUntil(() => audit.stats().replayed > 0 && audit.stats().databaseReachable);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      clearInterval(flow);
    }
    await audit.close();
    expect(audit.stats()).toMatchObject({ recorded: made, queued: 0, spoolBytes: 0 });
    expect(await count(store)).toEqual({ total: made, distinct: made });
    const chain = await verifyChain(store.db);
    expect(chain).toMatchObject({ ok: true, checked: made });
  });

  it('replays the spool of a process killed with SIGKILL, exactly once', async () => {
    const before = (await count(store)).total;
    const script = join(dir, 'child.mts');
    const src = resolve('src');
    await writeFile(
      script,
      `import { createInterface } from 'node:readline';
import { AuditLog } from '${src}/audit/log.ts';
import { openStore } from '${src}/store/store.ts';
const store = await openStore({ databaseUrl: '${URL}' });
const audit = new AuditLog({ store, spoolDir: '${spoolDir}', flushIntervalMs: 20, retryMs: 60_000, insertTimeoutMs: 2_000 });
await audit.start();
console.log(JSON.stringify({ ready: true }));
for await (const line of createInterface({ input: process.stdin })) {
  const n = Number(line);
  for (let i = 0; i < n; i++) audit.record({ type: 'mcp', action: 'tools/call', outcome: 'ok', requestId: 'crash-' + i });
  await audit.flush();
  console.log(JSON.stringify(audit.stats()));
}
`,
    );
    child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    expect(JSON.parse((await lines.next()).value as string)).toEqual({ ready: true });
    await pgStop();
    child.stdin?.write('300\n');
    const stats = JSON.parse((await lines.next()).value as string);
    expect(stats).toMatchObject({ recorded: 300, spooled: 300, queued: 0, databaseReachable: false });
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    child = undefined;
    await pgStart();
    await waitUntil(() => store.ping());
    // The restarted hub: its start() finds the spool and replays it before anything else.
    const restarted = new AuditLog({ store, spoolDir });
    await restarted.start();
    expect(restarted.stats()).toMatchObject({ replayed: 300, spoolBytes: 0 });
    await restarted.close();
    expect(await count(store)).toEqual({ total: before + 300, distinct: before + 300 });
    expect((await verifyChain(store.db)).ok).toBe(true);
    // Replaying the same spool again (a crash between insert and truncation) adds nothing.
    const again = new AuditLog({ store, spoolDir });
    await again.start();
    await again.close();
    expect((await count(store)).total).toBe(before + 300);
  });
});
