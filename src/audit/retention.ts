import { type Kysely, sql } from 'kysely';
import type { Database } from '../store/schema.ts';
import { auditDb, CHAIN_ID } from './tables.ts';

const STEP = 10_000;

/**
 * Deletes the oldest part of the chain whose events are all older than `cutoff`, in steps of 10,000
 * events, each in its own transaction under the chain lock. The chain row keeps the position and
 * hash of the last deleted event as the anchor, so what remains still verifies from there. An event
 * recorded long ago but appended late (a spool replay) stays until everything before it is old too.
 */
export async function pruneBefore(db: Kysely<Database>, cutoff: Date): Promise<number> {
  let total = 0;
  for (;;) {
    const deleted = await auditDb(db)
      .transaction()
      .execute(async (tx) => {
        const head = await tx
          .selectFrom('audit_chain')
          .select(['anchor_seq'])
          .where('id', '=', CHAIN_ID)
          .forUpdate()
          .executeTakeFirst();
        if (!head) return 0;
        const rows = await tx
          .selectFrom('audit_events')
          .select(['seq', 'time', 'hash'])
          .where('seq', '>', head.anchor_seq)
          .orderBy('seq')
          .limit(STEP)
          .execute();
        let last: { seq: string | number | bigint; hash: string } | undefined;
        for (const row of rows) {
          if (row.time.getTime() >= cutoff.getTime()) break;
          last = row;
        }
        if (!last) return 0;
        const result = await tx
          .deleteFrom('audit_events')
          .where('seq', '>', head.anchor_seq)
          .where('seq', '<=', last.seq)
          .executeTakeFirst();
        await tx
          .updateTable('audit_chain')
          .set({ anchor_seq: last.seq, anchor_hash: last.hash, updated_at: sql<Date>`now()` })
          .where('id', '=', CHAIN_ID)
          .execute();
        return Number(result.numDeletedRows);
      });
    total += deleted;
    if (deleted < STEP) return total;
  }
}
