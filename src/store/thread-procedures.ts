/**
 * Work a database thread does itself, beside its connection: the same procedures run in the embedded
 * database's thread (pglite-worker.ts) and in the PostgreSQL writer thread (pg-worker.ts).
 */
import type { Kysely } from 'kysely';
import { appendEvents } from '../audit/append.ts';
import type { CopyIn } from '../audit/chain-writer.ts';
import type { ProcedureName, ThreadProcedures } from './database-thread.ts';
import type { Database } from './schema.ts';

export type Procedures = {
  [P in ProcedureName]: (payload: ThreadProcedures[P][0]) => Promise<ThreadProcedures[P][1]>;
};

/** `copyIn`: bulk loading on this thread's connection, where it has one (see CopyIn). */
export function procedures(db: Kysely<Database>, copyIn?: CopyIn): Procedures {
  return {
    appendAudit: (request) => appendEvents(db, request, copyIn),
  };
}

/** Runs a named procedure; an unknown name is an error, not a crash of the thread. */
export function runProcedure(all: Procedures, name: string, payload: unknown): Promise<unknown> {
  const procedure = all[name as ProcedureName];
  if (!procedure) return Promise.reject(new Error(`Unknown database thread procedure ${name}`));
  return procedure(payload as never);
}
