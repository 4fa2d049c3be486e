import type { Generated, Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { HealthChange, HealthEventKind, HealthEventRecord, HealthState } from './types.ts';

/** The table added by migration 4 (src/store/migrations.ts). */
interface HealthEventsTable {
  id: Generated<string | number>;
  server: string;
  replica: string | null;
  kind: HealthEventKind;
  from_state: HealthState | null;
  to_state: HealthState | null;
  reason: string | null;
  at: Date;
}

type HealthDb = Kysely<Database & { health_events: HealthEventsTable }>;

/** Changes waiting to be written; beyond this the oldest are dropped (the database is down for long). */
const MAX_QUEUE = 10_000;
const MAX_REASON = 1000;

export interface HistoryQuery {
  /** At most this many, newest first (1..1000, default 100). */
  limit?: number;
  /** Only events with a smaller id (paging backwards). */
  before?: number;
}

/**
 * The health history table. Writes are queued and batched off the caller's path: a state change never
 * waits for the database, and a database outage costs history rows, not requests.
 */
export class HealthHistory {
  private readonly db: HealthDb;
  private queue: HealthChange[] = [];
  private flushing: Promise<void> | undefined;
  private dropped = 0;

  constructor(
    db: Kysely<Database>,
    private readonly logger: Logger,
  ) {
    this.db = db.withTables<{ health_events: HealthEventsTable }>();
  }

  record(change: HealthChange): void {
    if (this.queue.length >= MAX_QUEUE) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(change);
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.drain());
  }

  /** Resolves when everything recorded so far was written (or failed and was logged). */
  async flush(): Promise<void> {
    while (this.flushing !== undefined) await this.flushing;
  }

  async list(server: string, query: HistoryQuery = {}): Promise<HealthEventRecord[]> {
    const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
    let q = this.db.selectFrom('health_events').selectAll().where('server', '=', server);
    if (query.before !== undefined) q = q.where('id', '<', String(query.before));
    const rows = await q.orderBy('id', 'desc').limit(limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      server: r.server,
      replica: r.replica,
      from: r.from_state,
      to: r.to_state,
      reason: r.reason,
      at: (r.at instanceof Date ? r.at : new Date(r.at)).toISOString(),
    }));
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 500);
        if (this.dropped > 0) {
          this.logger.warn(
            { dropped: this.dropped },
            'health history queue overflowed; oldest changes dropped',
          );
          this.dropped = 0;
        }
        try {
          await this.db
            .insertInto('health_events')
            .values(
              batch.map((c) => ({
                server: c.server,
                replica: c.replica,
                kind: c.kind,
                from_state: c.from,
                to_state: c.to,
                reason: c.reason === null ? null : c.reason.slice(0, MAX_REASON),
                at: new Date(c.at),
              })),
            )
            .execute();
        } catch (err) {
          this.logger.warn({ err, lost: batch.length }, 'could not write health history');
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }
}
