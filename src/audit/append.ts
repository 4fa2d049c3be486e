/**
 * One audit flush: prepare (redact, cap, hash the arguments) whatever is not prepared yet, then append
 * it to the chain. The same function runs on the hub's thread (PostgreSQL) and inside the embedded
 * database's thread (PGlite: pglite-worker.ts), where the preparation then costs the request path nothing.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { appendToChain, type CopyIn } from './chain-writer.ts';
import { type PreparedEvent, type PrepareOptions, prepareEvent } from './event.ts';
import type { AuditEventsTable } from './tables.ts';
import type { AuditInput } from './types.ts';

/** An event as `record()` queued it: the caller's input, untouched, with its id and time. */
export interface QueuedEvent {
  input: AuditInput;
  id: string;
  time: Date;
}

/** Queued, or already prepared (taken back from the spool, or put back after a failed flush). */
export type PendingEvent = QueuedEvent | PreparedEvent;

export interface AppendRequest {
  events: PendingEvent[];
  prepare: PrepareOptions;
  /** Return the stored rows (someone follows the live stream), not just their number. */
  wantRows: boolean;
}

export interface AppendResult {
  stored: number;
  rows?: AuditEventsTable[];
  /** Events whose preparation threw: they cannot be stored, and the caller says so in its log. */
  dropped: { id: string; message: string }[];
}

export function isQueued(event: PendingEvent): event is QueuedEvent {
  return 'input' in event;
}

/** Prepares the queued events of a batch, in order; one that throws is dropped and reported. */
export function prepareAll(
  events: readonly PendingEvent[],
  options: PrepareOptions,
): { prepared: PreparedEvent[]; dropped: AppendResult['dropped'] } {
  const prepared: PreparedEvent[] = [];
  const dropped: AppendResult['dropped'] = [];
  for (const event of events) {
    if (!isQueued(event)) {
      prepared.push(event);
      continue;
    }
    try {
      prepared.push(prepareEvent(event.input, event.id, event.time, options));
    } catch (err) {
      dropped.push({ id: event.id, message: (err as Error).message });
    }
  }
  return { prepared, dropped };
}

export async function appendEvents(
  db: Kysely<Database>,
  request: AppendRequest,
  copyIn?: CopyIn,
): Promise<AppendResult> {
  const { prepared, dropped } = prepareAll(request.events, request.prepare);
  const rows = await appendToChain(db, prepared, copyIn);
  return request.wantRows ? { stored: rows.length, rows, dropped } : { stored: rows.length, dropped };
}
