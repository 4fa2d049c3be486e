import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Store } from '../store/store.ts';
import { type Logger, silentLogger } from '../telemetry/logger.ts';
import {
  type AppendRequest,
  type AppendResult,
  type PendingEvent,
  prepareAll,
  type QueuedEvent,
} from './append.ts';
import {
  type AuditEvent,
  type PreparedEvent,
  type PrepareOptions,
  prepareEvent,
  toAuditEvent,
} from './event.ts';
import { pruneBefore } from './retention.ts';
import { Spool } from './spool.ts';
import type { AuditInput, AuditSink } from './types.ts';

export interface AuditLogOptions {
  store: Pick<Store, 'db' | 'kind' | 'runInDatabaseThread'>;
  /** The hub's data directory: the spool lives in `<dataDir>/audit`. Ignored when `spoolDir` is set. */
  dataDir?: string;
  spoolDir?: string;
  logger?: Logger;
  /** Written on every event (which hub wrote it). Default `<hostname>:<pid>`. */
  instance?: string;
  /** Events per database transaction (default 500). */
  batchSize?: number;
  /** Longest an event waits in memory before a flush (default 100 ms). */
  flushIntervalMs?: number;
  /** A batch insert slower than this counts as a failure and the batch is spooled (default 5,000 ms). */
  insertTimeoutMs?: number;
  /** After a failure, first wait before trying the database again; doubles up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Redacted arguments are capped at this many bytes (default 4,096); the hash covers them whole. */
  maxArgumentBytes?: number;
  /** fsync the spool after each appended batch (default true). */
  spoolFsync?: boolean;
  /** Delete events older than this many days (0 or unset: keep forever). */
  retentionDays?: number;
  /** How often retention runs (default hourly). */
  retentionIntervalMs?: number;
}

export interface AuditStats {
  recorded: number;
  inserted: number;
  spooled: number;
  replayed: number;
  failedFlushes: number;
  /** Batches stored (each one transaction). */
  batches: number;
  queued: number;
  spoolBytes: number;
  databaseReachable: boolean;
}

/**
 * The audit sink. `record()` only timestamps and queues (no I/O, no redaction, never throws); a single
 * worker hands batches to the store's database thread, which redacts, hashes and writes them. When the
 * database fails, batches go to the spool file and are replayed in order, exactly once, when it
 * answers again; `close()` flushes everything.
 */
export class AuditLog implements AuditSink {
  readonly #db: Store['db'];
  readonly #runInDatabaseThread: Store['runInDatabaseThread'];
  readonly #logger: Logger;
  readonly #spool: Spool;
  readonly #batchSize: number;
  readonly #flushIntervalMs: number;
  readonly #insertTimeoutMs: number;
  readonly #retryMs: number;
  readonly #maxRetryMs: number;
  readonly #prepareOptions: PrepareOptions;
  readonly #retentionDays: number;
  readonly #retentionIntervalMs: number;
  readonly #events = new EventEmitter();
  #queue: PendingEvent[] = [];
  #worker: Promise<void> | undefined;
  #again = false;
  /** Callers waiting in flush(): while any do, a cycle drains the queue to empty. */
  #flushing = 0;
  #timer: NodeJS.Timeout | undefined;
  #retentionTimer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;
  #down = false;
  #retryAt = 0;
  #retryDelay: number;
  #stats = { recorded: 0, inserted: 0, spooled: 0, replayed: 0, failedFlushes: 0, batches: 0 };

  constructor(options: AuditLogOptions) {
    this.#db = options.store.db;
    this.#runInDatabaseThread = options.store.runInDatabaseThread;
    this.#logger = options.logger ?? silentLogger;
    const dataDir =
      options.dataDir && !options.dataDir.startsWith(':memory:') && !options.dataDir.startsWith('memory://')
        ? options.dataDir
        : join(tmpdir(), `omnihub-audit-${process.pid}`);
    const dir = resolve(options.spoolDir ?? join(dataDir, 'audit'));
    this.#spool = new Spool(dir, { fsync: options.spoolFsync ?? true, logger: this.#logger });
    this.#batchSize = options.batchSize ?? 500;
    this.#flushIntervalMs = options.flushIntervalMs ?? 100;
    this.#insertTimeoutMs = options.insertTimeoutMs ?? 5_000;
    this.#retryMs = options.retryMs ?? 500;
    this.#maxRetryMs = options.maxRetryMs ?? 10_000;
    this.#retryDelay = this.#retryMs;
    this.#prepareOptions = {
      maxArgumentBytes: options.maxArgumentBytes ?? 4_096,
      instance: options.instance ?? `${hostname()}:${process.pid}`,
    };
    this.#retentionDays = options.retentionDays ?? 0;
    this.#retentionIntervalMs = options.retentionIntervalMs ?? 3_600_000;
    this.#events.setMaxListeners(0);
  }

  /** The spool file (replayed at start when a previous run left events in it). */
  get spoolFile(): string {
    return this.#spool.file;
  }

  /** Opens the spool, replays what a previous run left, and starts the flush timer. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.#spool.open();
    if (this.#spool.hasData) {
      this.#logger.warn(
        { file: this.#spool.file, bytes: this.#spool.bytes },
        'audit: replaying spooled events',
      );
    }
    await this.flush();
    this.#timer = setInterval(() => this.#tick(), this.#flushIntervalMs);
    this.#timer.unref();
    if (this.#retentionDays > 0) {
      const run = () =>
        void this.prune().catch((err) => this.#logger.error({ err }, 'audit retention failed'));
      run();
      this.#retentionTimer = setInterval(run, this.#retentionIntervalMs);
      this.#retentionTimer.unref();
    }
  }

  record(input: AuditInput): void {
    try {
      const queued: QueuedEvent = { input, id: randomUUID(), time: input.time ?? new Date() };
      this.#stats.recorded++;
      if (this.#closed) {
        // Late events (a request finishing during shutdown): straight to disk, next start replays them.
        this.#spool.appendSync([prepareEvent(queued.input, queued.id, queued.time, this.#prepareOptions)]);
        this.#stats.spooled++;
        return;
      }
      this.#queue.push(queued);
      if (this.#queue.length >= this.#batchSize && this.#started) this.#kick();
    } catch (err) {
      // Never the caller's problem; but say so loudly.
      this.#logger.error({ err }, 'audit: an event could not be recorded');
    }
  }

  /** Writes everything queued so far (to the database, or to the spool when it is unreachable). */
  async flush(): Promise<void> {
    this.#flushing++;
    try {
      this.#kick();
      while (this.#worker) await this.#worker;
    } finally {
      this.#flushing--;
    }
  }

  /** Flushes, replays what it can, stops timers. Call before closing the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#retentionTimer) clearInterval(this.#retentionTimer);
    this.#timer = undefined;
    this.#retentionTimer = undefined;
    if (!this.#started) await this.#spool.open();
    this.#started = true;
    // A last attempt at the database even if it was down a moment ago.
    this.#retryAt = 0;
    await this.flush();
    this.#closed = true;
    this.#events.removeAllListeners();
  }

  stats(): AuditStats {
    return {
      ...this.#stats,
      queued: this.#queue.length,
      spoolBytes: this.#spool.bytes,
      databaseReachable: !this.#down,
    };
  }

  /** Calls `listener` with each batch this instance stored (the SSE stream wakes on it). */
  onAppend(listener: (events: AuditEvent[]) => void): () => void {
    this.#events.on('append', listener);
    return () => this.#events.off('append', listener);
  }

  /** Retention: deletes the oldest chain prefix older than the retention period. */
  async prune(now = new Date()): Promise<number> {
    if (this.#retentionDays <= 0) return 0;
    const cutoff = new Date(now.getTime() - this.#retentionDays * 86_400_000);
    const deleted = await pruneBefore(this.#db, cutoff);
    if (deleted > 0)
      this.#logger.info({ deleted, before: cutoff.toISOString() }, 'audit retention: events deleted');
    return deleted;
  }

  #tick(): void {
    if (this.#worker) return;
    if (this.#queue.length > 0 || (this.#spool.hasData && Date.now() >= this.#retryAt)) this.#kick();
  }

  #kick(): void {
    if (this.#worker) {
      this.#again = true;
      return;
    }
    this.#worker = (async () => {
      do {
        this.#again = false;
        try {
          await this.#cycle();
        } catch (err) {
          this.#logger.error({ err }, 'audit: flush failed');
        }
      } while (this.#again && !this.#closed);
    })().finally(() => {
      this.#worker = undefined;
    });
  }

  /** The next batch, as queued: preparation happens where it is appended (or spooled). */
  #take(): PendingEvent[] {
    const batch = this.#queue.length <= this.#batchSize ? this.#queue : this.#queue.slice(0, this.#batchSize);
    this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#batchSize);
    return batch;
  }

  /** Prepares the queued events of a batch here (for the spool); one that throws is logged and dropped. */
  #prepareHere(batch: readonly PendingEvent[]): PreparedEvent[] {
    const { prepared, dropped } = prepareAll(batch, this.#prepareOptions);
    this.#logDropped(dropped);
    return prepared;
  }

  #logDropped(dropped: AppendResult['dropped']): void {
    for (const { id, message } of dropped) {
      this.#logger.error({ id, err: { message } }, 'audit: an event could not be prepared');
    }
  }

  /** Prepares and appends a batch in the store's database thread. */
  async #append(request: AppendRequest): Promise<AppendResult> {
    try {
      return await this.#runInDatabaseThread('appendAudit', request);
    } catch (err) {
      // An input holding something that cannot cross threads (a function, say): prepare it here.
      if ((err as Error).name !== 'DataCloneError') throw err;
      const { prepared, dropped } = prepareAll(request.events, this.#prepareOptions);
      const result = await this.#runInDatabaseThread('appendAudit', { ...request, events: prepared });
      return { ...result, dropped: [...dropped, ...result.dropped] };
    }
  }

  #mayTryDatabase(): boolean {
    return !this.#down || Date.now() >= this.#retryAt;
  }

  async #cycle(): Promise<void> {
    // Spooled events are older than anything queued: they go first, or the queue follows them to disk.
    if (this.#spool.hasData) {
      const replayed = this.#mayTryDatabase() && (await this.#replay());
      if (!replayed) {
        while (this.#queue.length > 0) await this.#toSpool(this.#take());
        return;
      }
    }
    // Drain what is queued now. What arrives meanwhile waits for the next tick (or a full batch), so
    // a busy hub writes a few large batches instead of a stream of tiny ones, each a transaction.
    // flush() (and so close()) drains to empty.
    let due = this.#flushing > 0 ? Number.POSITIVE_INFINITY : this.#queue.length;
    while (due > 0 && this.#queue.length > 0) {
      const batch = this.#take();
      due -= batch.length;
      if (!this.#mayTryDatabase()) {
        await this.#toSpool(batch);
        continue;
      }
      try {
        await this.#insert(batch);
      } catch (err) {
        this.#markDown(err);
        await this.#toSpool(batch);
      }
    }
  }

  async #insert(batch: PendingEvent[]): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`audit insert timed out after ${this.#insertTimeoutMs} ms`)),
        this.#insertTimeoutMs,
      );
    });
    try {
      const wantRows = this.#events.listenerCount('append') > 0;
      const result = await Promise.race([
        this.#append({ events: batch, prepare: this.#prepareOptions, wantRows }),
        timeout,
      ]);
      this.#markUp();
      this.#logDropped(result.dropped);
      this.#stats.inserted += result.stored;
      this.#stats.batches++;
      if (result.rows && result.rows.length > 0) this.#events.emit('append', result.rows.map(toAuditEvent));
      return result.stored;
    } finally {
      clearTimeout(timer);
    }
  }

  async #toSpool(pending: PendingEvent[]): Promise<void> {
    const batch = this.#prepareHere(pending);
    if (batch.length === 0) return;
    try {
      await this.#spool.append(batch);
      this.#stats.spooled += batch.length;
    } catch (err) {
      // Disk full or not writable: nothing else can keep them; put them back and retry later.
      this.#logger.error({ err, file: this.#spool.file, events: batch.length }, 'audit: spool write failed');
      this.#requeue(batch);
      throw err;
    }
  }

  /** Puts a batch back at the head of the queue, in order (already prepared: no second redaction). */
  #requeue(batch: PendingEvent[]): void {
    this.#queue.unshift(...batch);
  }

  /** Replays the spool in file order; true when it is empty afterwards. */
  async #replay(): Promise<boolean> {
    let count = 0;
    try {
      for await (const chunk of this.#spool.read(this.#batchSize)) {
        count += await this.#insert(chunk);
      }
    } catch (err) {
      this.#markDown(err);
      if (count > 0) this.#stats.replayed += count;
      return false;
    }
    await this.#spool.clear();
    this.#stats.replayed += count;
    this.#logger.info({ events: count }, 'audit: spool replayed');
    return true;
  }

  #markDown(err: unknown): void {
    this.#stats.failedFlushes++;
    if (!this.#down) {
      this.#logger.error({ err }, 'audit: database unreachable; spooling events to disk');
      this.#retryDelay = this.#retryMs;
    } else {
      this.#retryDelay = Math.min(this.#retryDelay * 2, this.#maxRetryMs);
    }
    this.#down = true;
    this.#retryAt = Date.now() + this.#retryDelay;
  }

  #markUp(): void {
    if (this.#down) this.#logger.info('audit: database reachable again');
    this.#down = false;
    this.#retryDelay = this.#retryMs;
  }
}
