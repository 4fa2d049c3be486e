import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.ts';
import { backends, type TestDatabase } from '../store/test-backends.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { HealthHistory } from './history.ts';
import type { HealthChange } from './types.ts';

const change = (server: string, to: HealthChange['to'], at: string): HealthChange => ({
  kind: 'state',
  server,
  replica: null,
  from: 'healthy',
  to,
  reason: 'x'.repeat(5000),
  at,
});

describe.each(backends)('health history on $kind', (backend) => {
  let database: TestDatabase;
  let store: Store;

  beforeEach(async () => {
    database = await backend.fresh();
    store = await database.open();
  });
  afterEach(async () => {
    await database.dispose();
  });

  it('records changes off the caller path and lists them newest first, per server, with paging', async () => {
    const history = new HealthHistory(store.db, silentLogger);
    history.record(change('a', 'down', '2026-01-01T00:00:00.000Z'));
    history.record(change('b', 'down', '2026-01-01T00:00:01.000Z'));
    history.record(change('a', 'healthy', '2026-01-01T00:00:02.000Z'));
    await history.flush();
    const a = await history.list('a');
    expect(a.map((e) => [e.to, e.at])).toEqual([
      ['healthy', '2026-01-01T00:00:02.000Z'],
      ['down', '2026-01-01T00:00:00.000Z'],
    ]);
    expect(typeof a[0]!.id).toBe('number');
    expect(a[0]!.reason).toHaveLength(1000); // capped
    expect(await history.list('a', { limit: 1, before: a[0]!.id })).toHaveLength(1);
    expect((await history.list('a', { before: a[1]!.id })).length).toBe(0);
    expect(await history.list('nobody')).toEqual([]);
  });

  it('a database error costs history rows, never an exception to the caller', async () => {
    const history = new HealthHistory(store.db, silentLogger);
    history.record({ ...change('a', 'down', '2026-01-01T00:00:00.000Z'), kind: 'bogus' as 'state' });
    await history.flush(); // the check constraint refuses the row; logged and dropped
    history.record(change('a', 'down', '2026-01-01T00:00:00.000Z'));
    await history.flush();
    expect(await history.list('a')).toHaveLength(1);
  });
});
