/**
 * The audit writer's thread for PostgreSQL: redaction, hashing and the batch insert run here, on a
 * connection of their own, so the hub's event loop only queues events and hands each batch over.
 * Requests come from database-thread.ts: procedures (thread-procedures.ts) and close.
 */
import { workerData } from 'node:worker_threads';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { PostgresInit } from './database-thread.ts';
import type { Database } from './schema.ts';
import { procedures } from './thread-procedures.ts';
import { serve, threadPort } from './thread-server.ts';

const port = threadPort('omnihub-audit');
const init = workerData as PostgresInit;

// One connection is enough: the audit log appends one batch at a time. It is opened on first use,
// and a broken one is replaced by the pool on the next batch.
const pool = new pg.Pool({ ...init.client, max: 1, idleTimeoutMillis: 30_000 });
// An idle connection that dies emits here; without a listener it would end the thread.
pool.on('error', () => {});
pool.on('connect', (client) => client.on('error', () => {}));
const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });

serve(port, { procedures: procedures(kysely), close: () => kysely.destroy() });
