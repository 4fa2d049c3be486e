import { appendFileSync, closeSync, createReadStream, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, stat, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from '../telemetry/logger.ts';
import type { PreparedEvent } from './event.ts';

export const SPOOL_FILE = 'audit-spool.jsonl';

/**
 * The on-disk fallback while the database is unreachable: an append-only JSONL file of redacted,
 * prepared events (never raw arguments). Appends are fsynced per batch by default, so what was
 * spooled survives a crash of the process or the machine. Only the audit log's single worker touches
 * it, so appends and replays never interleave.
 */
export class Spool {
  readonly file: string;
  readonly #fsync: boolean;
  readonly #logger: Logger;
  #bytes = 0;

  constructor(dir: string, options: { fsync: boolean; logger: Logger }) {
    this.file = join(dir, SPOOL_FILE);
    this.#fsync = options.fsync;
    this.#logger = options.logger;
  }

  get hasData(): boolean {
    return this.#bytes > 0;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Creates the directory; cuts a torn last line left by a crash mid-append (it was never fsynced). */
  async open(): Promise<void> {
    await mkdir(join(this.file, '..'), { recursive: true });
    let size = 0;
    try {
      size = (await stat(this.file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (size > 0) {
      const handle = await open(this.file, 'r');
      try {
        const tail = Buffer.alloc(Math.min(size, 64 * 1024));
        let end = size;
        let keep = -1;
        // Walk back to the last newline.
        while (end > 0 && keep < 0) {
          const start = Math.max(0, end - tail.length);
          await handle.read(tail, 0, end - start, start);
          const idx = tail.subarray(0, end - start).lastIndexOf(0x0a);
          if (idx >= 0) keep = start + idx + 1;
          end = start;
        }
        if (keep < 0) keep = 0;
        if (keep < size) {
          this.#logger.warn(
            { file: this.file, bytes: size - keep },
            'audit spool: dropping a torn last line',
          );
          await truncate(this.file, keep);
          size = keep;
        }
      } finally {
        await handle.close();
      }
    }
    this.#bytes = size;
  }

  async append(events: readonly PreparedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const data = `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;
    const handle = await open(this.file, 'a');
    try {
      await handle.writeFile(data, 'utf8');
      if (this.#fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    this.#bytes += Buffer.byteLength(data);
  }

  /** For the last events after close(): the process may be about to exit, so write synchronously. */
  appendSync(events: readonly PreparedEvent[]): void {
    if (events.length === 0) return;
    const data = `${events.map((e) => JSON.stringify(e)).join('\n')}\n`;
    const fd = openSync(this.file, 'a');
    try {
      appendFileSync(fd, data, 'utf8');
      if (this.#fsync) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.#bytes += Buffer.byteLength(data);
  }

  /** The spooled events in file order, `size` at a time (bounded memory however large the file). */
  async *read(size: number): AsyncGenerator<PreparedEvent[]> {
    if (!this.hasData) return;
    const lines = createInterface({
      input: createReadStream(this.file, { encoding: 'utf8' }),
      crlfDelay: Infinity,
    });
    let chunk: PreparedEvent[] = [];
    let bad = 0;
    for await (const line of lines) {
      if (line.length === 0) continue;
      try {
        chunk.push(JSON.parse(line) as PreparedEvent);
      } catch {
        bad++;
        continue;
      }
      if (chunk.length >= size) {
        yield chunk;
        chunk = [];
      }
    }
    if (bad > 0) this.#logger.error({ file: this.file, lines: bad }, 'audit spool: unreadable lines skipped');
    if (chunk.length > 0) yield chunk;
  }

  /** Everything was replayed: start empty. */
  async clear(): Promise<void> {
    await unlink(this.file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    this.#bytes = 0;
  }
}
