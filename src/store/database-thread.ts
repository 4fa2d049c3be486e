/**
 * The parent side of a database thread: the embedded database's own (pglite-worker.ts) or the
 * PostgreSQL audit writer's (pg-worker.ts). Opens it, sends it queries and procedures and matches
 * the answers. If the thread dies, every waiting and later request fails with the reason, so callers
 * (the audit writer spools to disk) see an error instead of waiting forever.
 */
import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import type { AppendRequest, AppendResult } from '../audit/append.ts';

/** Work the database thread does itself, beside its data (see pglite-worker.ts): [payload, answer]. */
export interface ThreadProcedures {
  /** Prepares (redacts, hashes) and appends a batch of audit events. */
  appendAudit: [AppendRequest, AppendResult];
}
export type ProcedureName = keyof ThreadProcedures;

export interface PGliteInit {
  /** A data directory, or `memory://`. */
  location: string;
  postgresqlconf: string[];
  /** The NOTIFY channel forwarded to `onNotify`. */
  channel: string;
  schema?: string | undefined;
}

export interface PostgresInit {
  /** Connection settings (plain data: they are copied to the thread). */
  client: pg.ClientConfig;
}

const MODULES = {
  pglite: new URL('./pglite-worker.ts', import.meta.url).href,
  postgres: new URL('./pg-worker.ts', import.meta.url).href,
};
interface Inits {
  pglite: PGliteInit;
  postgres: PostgresInit;
}

export interface ThreadResult {
  rows: unknown[];
  command?: string;
  /** Rows returned or changed, from the command tag. */
  rowCount?: number;
}

export type ThreadRequest =
  | { id: number; sql: string; params: unknown[]; call?: undefined; close?: undefined }
  | { id: number; call: ProcedureName; payload: unknown; close?: undefined }
  | { id: number; close: true; call?: undefined };

export interface ThreadAnswer {
  id: number;
  /** A query's result, or a procedure's answer. */
  result?: ThreadResult | ThreadProcedures[ProcedureName][1];
  /** A PGlite error as plain data: `message` and the PostgreSQL fields (`code`, `detail`, …). */
  error?: { message: string; [field: string]: string };
}

/** The query surface the Kysely dialect needs; a `pglite` DatabaseThread implements it. */
export interface EmbeddedSession {
  query(sql: string, params: readonly unknown[]): Promise<ThreadResult>;
  close(): Promise<void>;
}

export interface ThreadEvents {
  /** A NOTIFY payload on the init's channel (the embedded database). */
  onNotify?: (payload: string) => void;
  /** The thread died after opening (not closed): every query fails from now on. */
  onStopped?: (reason: Error) => void;
}

interface Waiter {
  // biome-ignore lint/suspicious/noExplicitAny: a query's result or a procedure's answer, typed by the caller
  resolve: (result: any) => void;
  reject: (err: Error) => void;
}

/** Rebuilds the thread's error: same message, with the PostgreSQL fields as properties. */
function errorFrom(plain: NonNullable<ThreadAnswer['error']>): Error {
  const { message, ...fields } = plain;
  return Object.assign(new Error(message), fields);
}

const WORKER_ENTRY = new URL('./thread-entry.mjs', import.meta.url);

export class DatabaseThread implements EmbeddedSession {
  readonly #worker: Worker;
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;
  /** Set once the thread is gone (or going): every query from then on fails with it. */
  #stopped: Error | undefined;
  #exited: Promise<void>;
  #opened = false;

  /** Starts the thread and waits until the database is open (or throws why it could not open). */
  static async open<K extends keyof Inits>(
    kind: K,
    init: Inits[K],
    events: ThreadEvents = {},
  ): Promise<DatabaseThread> {
    const thread = new DatabaseThread({ module: MODULES[kind], ...init }, events);
    const ready = new Promise<void>((resolve, reject) => thread.#waiting.set(0, { resolve, reject }));
    try {
      await ready;
    } catch (err) {
      await thread.#exited;
      throw err;
    }
    thread.#opened = true;
    return thread;
  }

  private constructor(workerData: { module: string }, events: ThreadEvents) {
    // No inherited loader flags: the entry registers the one it needs.
    this.#worker = new Worker(WORKER_ENTRY, { workerData, execArgv: [] });
    this.#worker.on('message', (message: ThreadAnswer | { notify: string }) => {
      if ('notify' in message) {
        events.onNotify?.(message.notify);
        return;
      }
      const waiter = this.#waiting.get(message.id);
      if (!waiter) return;
      this.#waiting.delete(message.id);
      if (message.error) waiter.reject(errorFrom(message.error));
      else waiter.resolve(message.result ?? { rows: [] });
    });
    this.#worker.on('error', (err) => this.#stop(err));
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        const unexpected = this.#stopped === undefined;
        this.#stop(new Error(`The database thread stopped (exit code ${code})`));
        if (unexpected && this.#opened) events.onStopped?.(this.#stopped as Error);
        resolve();
      });
    });
  }

  /** True once the thread is gone: closed, or died. */
  get stopped(): boolean {
    return this.#stopped !== undefined;
  }

  #stop(reason: Error): void {
    this.#stopped ??= reason;
    for (const waiter of this.#waiting.values()) waiter.reject(this.#stopped);
    this.#waiting.clear();
  }

  #send<T>(request: ThreadRequest): Promise<T> {
    if (this.#stopped) return Promise.reject(this.#stopped);
    return new Promise((resolve, reject) => {
      try {
        // Throws (DataCloneError) when the payload holds something that cannot cross threads.
        this.#worker.postMessage(request);
      } catch (err) {
        reject(err);
        return;
      }
      this.#waiting.set(request.id, { resolve, reject });
    });
  }

  query(sql: string, params: readonly unknown[]): Promise<ThreadResult> {
    return this.#send({ id: this.#nextId++, sql, params: [...params] });
  }

  /**
   * Runs a procedure in the database thread. It uses the session like a query does: call it only
   * while holding the session (the Kysely driver's lock), or it may land inside someone's transaction.
   */
  call<P extends ProcedureName>(
    procedure: P,
    payload: ThreadProcedures[P][0],
  ): Promise<ThreadProcedures[P][1]> {
    return this.#send({ id: this.#nextId++, call: procedure, payload });
  }

  /** Closes the database (flushing it to disk) and ends the thread. */
  async close(): Promise<void> {
    if (!this.#stopped) {
      try {
        await this.#send({ id: this.#nextId++, close: true });
      } finally {
        this.#stop(new Error('The database thread is closed'));
      }
    }
    await this.#exited;
  }
}
