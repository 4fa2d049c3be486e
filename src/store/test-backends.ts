/**
 * The databases the store's tests run against: PGlite in memory always, and the real PostgreSQL at
 * TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). In CI an unreachable
 * PostgreSQL fails the suite; locally it is skipped with a message.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store, type StoreOptions } from './store.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One private database for one test file (or test): every store opened on it shares its data. */
export interface TestDatabase {
  /** Opens a store on this database. PGlite in memory allows one open store at a time. */
  open(options?: Omit<StoreOptions, 'databaseUrl' | 'dataDir' | 'schema'>): Promise<Store>;
  /** The PostgreSQL schema (postgres only). */
  schema?: string;
  /** Closes every store opened here and drops the database (postgres: the schema). */
  dispose(): Promise<void>;
}

export interface TestBackend {
  kind: 'pglite' | 'postgres';
  /** A fresh, empty database no other test sees. */
  fresh(): Promise<TestDatabase>;
}

const pglite: TestBackend = {
  kind: 'pglite',
  async fresh() {
    const opened: Store[] = [];
    return {
      async open(options = {}) {
        if (opened.length > 0) throw new Error('an in-memory PGlite database belongs to one store');
        const store = await openStore({ ...options, dataDir: ':memory:' });
        opened.push(store);
        return store;
      },
      async dispose() {
        await Promise.all(opened.map((s) => s.close()));
      },
    };
  },
};

const postgres: TestBackend = {
  kind: 'postgres',
  async fresh() {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const opened: Store[] = [];
    return {
      schema,
      async open(options = {}) {
        const store = await openStore({ ...options, databaseUrl: TEST_DATABASE_URL, schema });
        opened.push(store);
        return store;
      },
      async dispose() {
        await Promise.all(opened.map((s) => s.close()));
        const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
        await client.connect();
        try {
          // Test files drop their schemas at the same time; PostgreSQL may pick one drop as a deadlock
          // victim (both lock shared objects such as the pg_trgm extension): try again.
          for (let attempt = 1; ; attempt++) {
            try {
              await client.query(`drop schema if exists ${pg.escapeIdentifier(schema)} cascade`);
              break;
            } catch (err) {
              if ((err as { code?: string }).code !== '40P01' || attempt >= 5) throw err;
            }
          }
        } finally {
          await client.end();
        }
      },
    };
  },
};

/** The URL without its password, for messages. */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable TEST_DATABASE_URL)';
  }
}

async function postgresReachable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
    await client.query('select 1');
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => {});
  }
}

async function detect(): Promise<TestBackend[]> {
  const problem = await postgresReachable();
  if (problem === undefined) return [pglite, postgres];
  if (process.env.CI) {
    // Kept in the list: its tests then fail on connect, so CI can't go green without PostgreSQL.
    console.error(`PostgreSQL at ${shown(TEST_DATABASE_URL)} is unreachable (${problem}); failing in CI`);
    return [pglite, postgres];
  }
  console.warn(`Skipping PostgreSQL store tests: ${shown(TEST_DATABASE_URL)} is unreachable (${problem})`);
  return [pglite];
}

export const backends: TestBackend[] = await detect();

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs`. */
export async function waitFor(
  predicate: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
