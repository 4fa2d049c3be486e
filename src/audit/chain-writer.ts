import { type Kysely, sql } from 'kysely';
import type { Database } from '../store/schema.ts';
import { chainHash, type PreparedEvent } from './event.ts';
import { type AuditEventsTable, auditDb, CHAIN_ID } from './tables.ts';

/**
 * Appends events to the one chain, in order, exactly once. The chain head row is locked FOR UPDATE
 * for the whole transaction, so hub instances sharing the database append one batch at a time and
 * every hash is computed against the true previous event. Events whose id is already stored (a spool
 * replayed after a crash, or a batch that committed after its timeout) are skipped, not re-chained.
 * Returns the rows that were inserted.
 */
export async function appendToChain(
  db: Kysely<Database>,
  events: readonly PreparedEvent[],
): Promise<AuditEventsTable[]> {
  if (events.length === 0) return [];
  return auditDb(db)
    .transaction()
    .execute(async (tx) => {
      const head = await tx
        .selectFrom('audit_chain')
        .select(['seq', 'hash'])
        .where('id', '=', CHAIN_ID)
        .forUpdate()
        .executeTakeFirst();
      if (!head) throw new Error('audit chain head is missing (migration 3 not applied?)');
      const ids = [...new Set(events.map((e) => e.id))];
      const existing = new Set<string>();
      for (let i = 0; i < ids.length; i += 1_000) {
        const rows = await tx
          .selectFrom('audit_events')
          .select('id')
          .where('id', 'in', ids.slice(i, i + 1_000))
          .execute();
        for (const r of rows) existing.add(r.id);
      }
      let seq = BigInt(head.seq);
      let prev = head.hash;
      const rows: AuditEventsTable[] = [];
      for (const event of events) {
        if (existing.has(event.id)) continue;
        existing.add(event.id);
        seq += 1n;
        const hash = chainHash(prev, event);
        rows.push({ ...event, time: new Date(event.time), seq: seq.toString(), prev_hash: prev, hash });
        prev = hash;
      }
      if (rows.length === 0) return [];
      // ~35 parameters a row: chunks keep a statement well under PostgreSQL's 65,535-parameter limit.
      for (let i = 0; i < rows.length; i += 500) {
        await tx
          .insertInto('audit_events')
          .values(rows.slice(i, i + 500))
          .execute();
      }
      await tx
        .updateTable('audit_chain')
        .set({ seq: seq.toString(), hash: prev, updated_at: sql<Date>`now()` })
        .where('id', '=', CHAIN_ID)
        .execute();
      return rows;
    });
}
