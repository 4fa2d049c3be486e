/**
 * The worker side of a database thread's protocol (the parent side is database-thread.ts): answers
 * each request in order with `{ id, result }` or `{ id, error }`, and ends the thread after `close`.
 */
import { writeFileSync } from 'node:fs';
import { type MessagePort, parentPort } from 'node:worker_threads';
import type { ThreadAnswer, ThreadRequest, ThreadResult } from './database-thread.ts';
import { type Procedures, runProcedure } from './thread-procedures.ts';

export interface ThreadHandlers {
  /** Plain queries (the embedded database); a thread without them refuses query requests. */
  query?: (sql: string, params: unknown[]) => Promise<ThreadResult>;
  procedures: Procedures;
  close: () => Promise<void>;
}

/**
 * This worker's port to the parent, after naming the thread `name`, so `top -H`, `ps -L` and CPU
 * pinning can tell it apart (Linux; elsewhere naming is a no-op).
 */
export function threadPort(name: string): MessagePort {
  if (!parentPort) throw new Error(`${name} runs as a worker thread`);
  try {
    writeFileSync('/proc/thread-self/comm', name);
  } catch {}
  return parentPort;
}

/** An error as plain data: the message plus the PostgreSQL fields that are set (`code`, `detail`, …). */
export function plainError(err: unknown): NonNullable<ThreadAnswer['error']> {
  if (!(err instanceof Error)) return { message: String(err) };
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(err)) if (typeof value === 'string') fields[key] = value;
  return { ...fields, message: err.message };
}

/** Tells the parent the thread is ready (`ready`) or could not start (`failed`). */
export function announce(port: MessagePort, failure?: unknown): void {
  const answer: ThreadAnswer =
    failure === undefined ? { id: 0, result: { rows: [] } } : { id: 0, error: plainError(failure) };
  port.postMessage(answer);
}

async function answer(handlers: ThreadHandlers, request: ThreadRequest): Promise<ThreadAnswer> {
  if (request.close) {
    await handlers.close();
    return { id: request.id, result: { rows: [] } };
  }
  if (request.call !== undefined) {
    const result = await runProcedure(handlers.procedures, request.call, request.payload);
    return { id: request.id, result: result as ThreadAnswer['result'] };
  }
  if (!handlers.query) throw new Error('This database thread runs procedures only');
  return { id: request.id, result: await handlers.query(request.sql, request.params) };
}

export function serve(port: MessagePort, handlers: ThreadHandlers): void {
  port.on('message', (request: ThreadRequest) => {
    answer(handlers, request).then(
      (reply) => {
        port.postMessage(reply);
        if (request.close) port.close();
      },
      (err: unknown) => port.postMessage({ id: request.id, error: plainError(err) } satisfies ThreadAnswer),
    );
  });
  announce(port);
}
