import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/schema.ts';
import { chainHash, contentOfRow } from './event.ts';
import { type AuditDatabase, type AuditEventsTable, auditDb, CHAIN_ID } from './tables.ts';

export type TamperKind = 'edited' | 'deleted' | 'inserted' | 'reordered';

export interface VerifyProblem {
  kind: TamperKind;
  /** Chain position of the event named (for `deleted`: the first missing position). */
  seq: number;
  /** The event named: the edited/inserted/misplaced one; for `deleted`, the event the chain resumes at (if any). */
  id: string | null;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Events checked. */
  checked: number;
  /** Where the stored chain starts (after retention) and where it ends. */
  anchor: { seq: number; hash: string };
  head: { seq: number; hash: string };
  problem?: VerifyProblem;
}

const PAGE = 2_000;

type Row = AuditEventsTable;

/**
 * Walks the chain from the retention anchor to the head in one consistent snapshot and reports the
 * first break. Each event must (1) hash to its stored hash from its own content and stored
 * prev_hash, and (2) link to the event before it. Which of the two fails, and how the neighbours
 * link, tells an edit from a deletion, an insertion or a reordering.
 */
export async function verifyChain(
  db: Kysely<Database>,
  options: { onProgress?: (checked: number) => void } = {},
): Promise<VerifyResult> {
  return auditDb(db)
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute((tx) => walk(tx, options.onProgress));
}

async function walk(tx: Transaction<AuditDatabase>, onProgress?: (n: number) => void): Promise<VerifyResult> {
  const chain = await tx.selectFrom('audit_chain').selectAll().where('id', '=', CHAIN_ID).executeTakeFirst();
  if (!chain) throw new Error('audit chain head is missing (migration 3 not applied?)');
  const anchor = { seq: Number(chain.anchor_seq), hash: chain.anchor_hash };
  const head = { seq: Number(chain.seq), hash: chain.hash };
  const result = (problem?: VerifyProblem): VerifyResult => ({
    ok: problem === undefined,
    checked,
    anchor,
    head,
    ...(problem ? { problem } : {}),
  });

  let checked = 0;
  let prev = { seq: anchor.seq, hash: anchor.hash, id: null as string | null };
  let buffer: Row[] = [];
  let afterSeq: string | number | bigint = chain.anchor_seq;
  let exhausted = false;
  const refill = async () => {
    if (exhausted) return;
    const page = await tx
      .selectFrom('audit_events')
      .selectAll()
      .where('seq', '>', afterSeq)
      .orderBy('seq')
      .limit(PAGE)
      .execute();
    if (page.length < PAGE) exhausted = true;
    const last = page.at(-1);
    if (last) afterSeq = last.seq;
    buffer = buffer.concat(page);
  };
  await refill();
  // Events that sort before the anchor were left behind by retention or inserted: they don't belong.
  const stray = await tx
    .selectFrom('audit_events')
    .select(['seq', 'id'])
    .where('seq', '<=', chain.anchor_seq)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  if (stray) {
    return result({
      kind: 'inserted',
      seq: Number(stray.seq),
      id: stray.id,
      message: `event ${stray.id} (seq ${stray.seq}) sits before the chain's start (seq ${anchor.seq}): inserted`,
    });
  }

  while (buffer.length > 0) {
    if (buffer.length < 2) await refill();
    const row = buffer.shift() as Row;
    const next = buffer[0];
    const seq = Number(row.seq);
    if (seq > head.seq) {
      return result({
        kind: 'inserted',
        seq,
        id: row.id,
        message: `event ${row.id} (seq ${seq}) is beyond the chain head (seq ${head.seq}): inserted`,
      });
    }
    const consistent = chainHash(row.prev_hash, contentOfRow(row)) === row.hash;
    const links = row.prev_hash === prev.hash;
    if (consistent && links) {
      prev = { seq, hash: row.hash, id: row.id };
      checked++;
      if (onProgress && checked % 10_000 === 0) onProgress(checked);
      continue;
    }
    return result(await diagnose(tx, row, next, prev, consistent, links));
  }

  if (prev.seq < head.seq) {
    const missing = head.seq - prev.seq;
    return result({
      kind: 'deleted',
      seq: prev.seq + 1,
      id: null,
      message: `the last ${missing} event(s) (seq ${prev.seq + 1}..${head.seq}) are missing: deleted`,
    });
  }
  if (prev.hash !== head.hash) {
    return result({
      kind: 'edited',
      seq: prev.seq,
      id: prev.id,
      message: `event ${prev.id} (seq ${prev.seq}) does not match the chain head's hash: edited`,
    });
  }
  return result();
}

async function diagnose(
  tx: Transaction<AuditDatabase>,
  row: Row,
  next: Row | undefined,
  prev: { seq: number; hash: string; id: string | null },
  consistent: boolean,
  links: boolean,
): Promise<VerifyProblem> {
  const seq = Number(row.seq);
  const named = `event ${row.id} (seq ${seq})`;
  if (!consistent) {
    if (next && next.prev_hash === prev.hash && next.prev_hash !== row.hash) {
      return {
        kind: 'inserted',
        seq,
        id: row.id,
        message: `${named} is not part of the chain (the next event links past it): inserted`,
      };
    }
    if (links || (next && next.prev_hash === row.hash)) {
      return { kind: 'edited', seq, id: row.id, message: `${named} no longer matches its hash: edited` };
    }
    return {
      kind: 'edited',
      seq,
      id: row.id,
      message: `${named} matches neither its hash nor its predecessor: edited or forged`,
    };
  }
  // A well-formed event that does not follow the one before it: where is its real predecessor?
  const predecessor = await tx
    .selectFrom('audit_events')
    .select(['seq', 'id'])
    .where('hash', '=', row.prev_hash)
    .orderBy('seq')
    .limit(1)
    .executeTakeFirst();
  if (predecessor && Number(predecessor.seq) > seq) {
    return {
      kind: 'reordered',
      seq,
      id: row.id,
      message: `${named} is out of order: the event before it in the chain, ${predecessor.id}, is stored after it (seq ${predecessor.seq}): reordered`,
    };
  }
  if (predecessor) {
    // Its predecessor is further back: whatever sits between them was inserted.
    const intruder = await tx
      .selectFrom('audit_events')
      .select(['seq', 'id'])
      .where('seq', '>', predecessor.seq)
      .orderBy('seq')
      .limit(1)
      .executeTakeFirst();
    const iseq = Number(intruder?.seq ?? prev.seq);
    const iid = intruder?.id ?? prev.id;
    return {
      kind: 'inserted',
      seq: iseq,
      id: iid,
      message: `event ${iid} (seq ${iseq}) is not part of the chain (${named} links to ${predecessor.id}, before it): inserted`,
    };
  }
  if (seq > prev.seq + 1) {
    return {
      kind: 'deleted',
      seq: prev.seq + 1,
      id: row.id,
      message: `${seq - prev.seq - 1} event(s) (seq ${prev.seq + 1}..${seq - 1}) before ${named} are missing: deleted`,
    };
  }
  // Contiguous positions, but the predecessor's hash is unknown: either the previous event was
  // edited and re-hashed, or events were deleted and the rest renumbered.
  if (prev.id !== null) {
    return {
      kind: 'edited',
      seq: prev.seq,
      id: prev.id,
      message: `event ${prev.id} (seq ${prev.seq}) was changed and re-hashed (${named} links to a different hash): edited`,
    };
  }
  return {
    kind: 'deleted',
    seq,
    id: row.id,
    message: `the event(s) before ${named} are missing (it links to a hash no stored event has): deleted`,
  };
}
