/**
 * The embedded database's own thread. PGlite is PostgreSQL compiled to WebAssembly: every query
 * runs on the thread that owns it. Here that is this worker, so writing the audit log and serving
 * the admin API never hold up the hub's event loop, and on a machine with two or more cores the
 * database runs beside the request path instead of inside it.
 *
 * Requests come from database-thread.ts: queries, procedures (thread-procedures.ts) and close. NOTIFY
 * payloads on the change channel are forwarded as `{ notify }`.
 */
import { workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { Kysely } from 'kysely';
import type { CopyIn } from '../audit/chain-writer.ts';
import type { EmbeddedSession, PGliteInit, ThreadResult } from './database-thread.ts';
import { PGliteDialect, quoteIdent } from './pglite-dialect.ts';
import type { Database } from './schema.ts';
import { procedures } from './thread-procedures.ts';
import { announce, serve, threadPort } from './thread-server.ts';

const port = threadPort('omnihub-db');
const init = workerData as PGliteInit;

let db: PGlite;
try {
  db = await PGlite.create(init.location, { postgresqlconf: init.postgresqlconf });
  // LISTEN before any other query, so it never lands inside a caller's transaction.
  await db.listen(init.channel, (payload) => port.postMessage({ notify: payload }));
  if (init.schema !== undefined) await db.exec(`set search_path to ${init.schema}`);
} catch (err) {
  announce(port, err);
  port.close();
  throw err;
}

async function query(sql: string, params: unknown[]): Promise<ThreadResult> {
  const results = await db.query<unknown>(sql, params, { rowMode: 'object' });
  const result: ThreadResult = { rows: results.rows };
  if (results.command !== undefined) result.command = results.command;
  const changed = results.rowCount ?? results.affectedRows;
  if (changed !== undefined) result.rowCount = changed;
  return result;
}

// Procedures query through Kysely, on this thread's own session. The parent holds the session (its
// driver's lock) while one runs, and PGlite runs queries one at a time in call order, so answers
// leave in request order and nothing interleaves with a transaction.
const session: EmbeddedSession = { query: (sql, params) => query(sql, [...params]), close: () => db.close() };
const kysely = new Kysely<Database>({ dialect: new PGliteDialect({ database: session }) });

// COPY from PGlite's in-memory blob device: the same session, so it joins the transaction in progress.
const copyIn: CopyIn = async (table, columns, data) => {
  await db.query(`copy ${quoteIdent(table)} (${columns.map(quoteIdent).join(', ')}) from '/dev/blob'`, [], {
    blob: new Blob([data]),
  });
};

serve(port, {
  query,
  procedures: procedures(kysely, copyIn),
  close: async () => {
    if (!db.closed) await db.close();
  },
});
