import { type Kysely, sql } from 'kysely';
import type { Database } from '../store/schema.ts';
import { copyText } from './copy-text.ts';
import { CONTENT_KEYS, chainHash, type PreparedEvent } from './event.ts';
import { type AuditEventsTable, auditDb, CHAIN_ID } from './tables.ts';

/** Every stored column: the hashed content plus the chain position and the search text. */
const COLUMNS: readonly (keyof AuditEventsTable)[] = ['seq', ...CONTENT_KEYS, 'prev_hash', 'hash', 'search'];

/**
 * Loads rows in COPY text format into a table, inside the transaction in progress: a connection that
 * can do this (the embedded database's thread) passes it, the others insert from JSON instead.
 */
export type CopyIn = (table: string, columns: readonly string[], data: string) => Promise<void>;

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
  copyIn?: CopyIn,
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
      // One JSON parameter, not one per id: cheap to send and to plan, on PGlite and PostgreSQL alike.
      // `= any(array(…))` looks each id up in the unique index; `in (select …)` may hash-join against
      // a scan of the whole table, which grows with every event stored.
      const ids = JSON.stringify([...new Set(events.map((e) => e.id))]);
      const stored = await sql<{ id: string }>`
        select id from audit_events
        where id = any(array(select value::uuid from json_array_elements_text(${ids}::json)))`.execute(tx);
      const existing = new Set(stored.rows.map((r) => r.id));
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
      if (copyIn) {
        await copyIn('audit_events', COLUMNS, copyText(rows, COLUMNS));
      } else {
        // The whole batch as one JSON parameter: binding ~35 parameters a row costs far more, in the
        // client and in the server, than one JSON document expanded by json_populate_recordset.
        await sql`
          insert into audit_events (${sql.join(COLUMNS.map((c) => sql.ref(c)))})
          select ${sql.join(COLUMNS.map((c) => sql.ref(c)))}
          from json_populate_recordset(null::audit_events, ${JSON.stringify(rows)}::json)`.execute(tx);
      }
      await tx
        .updateTable('audit_chain')
        .set({ seq: seq.toString(), hash: prev, updated_at: sql<Date>`now()` })
        .where('id', '=', CHAIN_ID)
        .execute();
      return rows;
    });
}
