import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseThread } from './database-thread.ts';

const CHANNEL = 'thread_test';
const init = { location: 'memory://', postgresqlconf: ['shared_buffers=16MB'], channel: CHANNEL };

describe('the embedded database thread', () => {
  let thread: DatabaseThread;
  const notified: string[] = [];

  beforeAll(async () => {
    thread = await DatabaseThread.open('pglite', init, { onNotify: (payload) => notified.push(payload) });
  });
  afterAll(async () => {
    await thread.close();
  });

  it('runs parameterised queries and returns typed rows and the command tag', async () => {
    await thread.query('create table t (id int primary key, at timestamptz, blob bytea, doc jsonb)', []);
    const at = new Date('2026-01-02T03:04:05.678Z');
    const inserted = await thread.query('insert into t values ($1, $2, $3, $4), ($5, $2, $3, $4)', [
      1,
      at,
      new Uint8Array([1, 2, 3]),
      JSON.stringify({ a: [1, 'x'] }),
      2,
    ]);
    expect(inserted).toMatchObject({ command: 'INSERT', rowCount: 2 });
    const { rows, command } = await thread.query('select * from t where id = $1', [1]);
    expect(command).toBe('SELECT');
    expect(rows).toEqual([{ id: 1, at, blob: new Uint8Array([1, 2, 3]), doc: { a: [1, 'x'] } }]);
  });

  it('rejects a failing query with PostgreSQL’s message and fields, and keeps serving', async () => {
    const failure = await thread.query('select * from missing_table', []).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(Error);
    expect(failure).toMatchObject({ message: 'relation "missing_table" does not exist', code: '42P01' });
    const { rows } = await thread.query('select 41 + $1::int as n', [1]);
    expect(rows).toEqual([{ n: 42 }]);
  });

  it('answers queries in the order they were sent', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => thread.query('select $1::int as i', [i])),
    );
    expect(answers.map((a) => (a.rows[0] as { i: number }).i)).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
  });

  it('forwards notifications on its channel and no other', async () => {
    await thread.query('select pg_notify($1, $2)', ['other_channel', 'ignored']);
    await thread.query('select pg_notify($1, $2)', [CHANNEL, 'servers']);
    await expect.poll(() => notified).toEqual(['servers']);
  });

  it('refuses a payload that cannot cross threads without losing the thread', async () => {
    await expect(thread.query('select $1::text', [() => 1])).rejects.toThrow(/could not be cloned/);
    expect((await thread.query('select 1 as one', [])).rows).toEqual([{ one: 1 }]);
  });
});

describe('opening and closing the embedded database thread', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'database-thread-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps data on disk across a close and a new thread', async () => {
    const location = join(dir, 'data');
    const first = await DatabaseThread.open('pglite', { ...init, location }, { onNotify: () => {} });
    await first.query('create table kept (v text)', []);
    await first.query('insert into kept values ($1)', ['still here']);
    await first.close();
    await expect(first.query('select 1', [])).rejects.toThrow('The database thread is closed');
    const second = await DatabaseThread.open('pglite', { ...init, location }, { onNotify: () => {} });
    expect((await second.query('select v from kept', [])).rows).toEqual([{ v: 'still here' }]);
    await second.close();
  });

  it('fails to open with the reason when the location is unusable', async () => {
    const file = join(dir, 'not-a-directory');
    await writeFile(file, 'x');
    await expect(
      DatabaseThread.open('pglite', { ...init, location: join(file, 'data') }, { onNotify: () => {} }),
    ).rejects.toMatchObject({ code: 'ENOTDIR', message: expect.stringContaining(join(file, 'data')) });
  });
});
