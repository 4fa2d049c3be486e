import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isAdmin, type Principal } from '../auth/principal.ts';
import { HubError, isHubError } from '../server/errors.ts';
import type { Store } from '../store/store.ts';
import { type Logger, silentLogger } from '../telemetry/logger.ts';
import type { AuditEvent } from './event.ts';
import type { AuditLog } from './log.ts';
import { type ExportFormat, eventsAfter, exportLines, lastSeq, listEvents, parseFilters } from './query.ts';
import { verifyChain } from './verify.ts';

export interface AuditRoutesOptions {
  audit: Pick<AuditLog, 'onAppend'>;
  store: Pick<Store, 'db'>;
  /** Resolves the caller; throws HubError('UNAUTHENTICATED') when there are no valid credentials. */
  authenticate: (req: FastifyRequest) => Promise<Principal>;
  logger?: Logger;
  /** The live stream also polls the database this often, for events other hub instances wrote (default 1 s). */
  streamPollMs?: number;
  /** SSE keep-alive comment interval (default 15 s). */
  keepAliveMs?: number;
}

/** Waits until `res` can take more, or is gone. */
function drained(res: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function errorBody(err: HubError) {
  return {
    error:
      err.data === undefined
        ? { code: err.code, message: err.message }
        : { code: err.code, message: err.message, data: err.data },
  };
}

/**
 * The audit API (administrators only):
 * - `GET /api/v1/audit`: filtered, newest first, cursor pagination;
 * - `GET /api/v1/audit/export?format=jsonl|csv`: the whole filtered range, streamed, oldest first;
 * - `GET /api/v1/audit/stream`: server-sent events, one `audit` event per new record;
 * - `POST /api/v1/audit/verify`: walks the hash chain.
 */
export async function auditRoutes(app: FastifyInstance, options: AuditRoutesOptions): Promise<void> {
  const logger = options.logger ?? silentLogger;
  const db = options.store.db;
  const pollMs = options.streamPollMs ?? 1_000;
  const keepAliveMs = options.keepAliveMs ?? 15_000;

  const send = (reply: FastifyReply, err: unknown) => {
    if (isHubError(err)) return reply.code(err.status).send(errorBody(err));
    logger.error({ err }, 'audit API error');
    return reply.code(500).send(errorBody(new HubError('INTERNAL', 'Internal error')));
  };

  const admin = async (req: FastifyRequest): Promise<Principal> => {
    let principal: Principal;
    try {
      principal = await options.authenticate(req);
    } catch (err) {
      throw isHubError(err) ? err : new HubError('UNAUTHENTICATED', 'Unauthorized', { cause: err });
    }
    if (principal.method === 'none' || principal.id === 'anonymous')
      throw new HubError('UNAUTHENTICATED', 'Unauthorized');
    if (!isAdmin(principal)) throw new HubError('ACCESS_DENIED', 'The audit log is for administrators');
    return principal;
  };

  const query = (req: FastifyRequest) => (req.query ?? {}) as Record<string, unknown>;

  app.get('/api/v1/audit', async (req, reply) => {
    try {
      await admin(req);
      const q = query(req);
      const filters = parseFilters(q);
      const limitText = q.limit;
      let limit: number | undefined;
      if (limitText !== undefined) {
        limit = Number(limitText);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) {
          throw new HubError('INVALID_PARAMS', '"limit" must be an integer from 1 to 1000');
        }
      }
      const cursor = typeof q.cursor === 'string' && q.cursor ? q.cursor : undefined;
      const page = await listEvents(db, filters, { limit, cursor });
      return reply.send({ events: page.events, next_cursor: page.nextCursor });
    } catch (err) {
      return send(reply, err);
    }
  });

  app.get('/api/v1/audit/export', async (req, reply) => {
    let format: ExportFormat;
    let filters: ReturnType<typeof parseFilters>;
    try {
      await admin(req);
      const q = query(req);
      const f = q.format ?? 'jsonl';
      if (f !== 'jsonl' && f !== 'csv') throw new HubError('INVALID_PARAMS', '"format" must be jsonl or csv');
      format = f;
      filters = parseFilters(q);
    } catch (err) {
      return send(reply, err);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
      'content-disposition': `attachment; filename="audit.${format}"`,
      'cache-control': 'no-store',
    });
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    try {
      for await (const chunk of exportLines(db, filters, format)) {
        if (closed) break;
        if (!res.write(chunk)) await drained(res);
      }
    } catch (err) {
      // Headers are gone: cut the stream so the client sees an incomplete download, not a short "success".
      logger.error({ err }, 'audit export failed');
      res.destroy();
      return;
    }
    res.end();
  });

  app.get('/api/v1/audit/stream', async (req, reply) => {
    let filters: ReturnType<typeof parseFilters>;
    let after: number;
    try {
      await admin(req);
      const q = query(req);
      filters = parseFilters(q);
      const lastEventId = req.headers['last-event-id'];
      const since =
        typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId) ? Number(lastEventId) : undefined;
      after = since ?? (await lastSeq(db));
    } catch (err) {
      return send(reply, err);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': connected\n\n');
    let closed = false;
    let busy = false;
    let again = false;
    const write = (e: AuditEvent) => {
      res.write(`id: ${e.seq}\nevent: audit\ndata: ${JSON.stringify(e)}\n\n`);
    };
    // New rows are read from the database (not taken from this instance's memory) so the stream shows
    // every instance's events, in chain order, with nothing skipped when the client reconnects.
    const pump = async () => {
      if (closed) return;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          for (;;) {
            const events = await eventsAfter(db, after, filters);
            for (const e of events) write(e);
            const last = events.at(-1);
            if (last) after = last.seq;
            if (events.length < 500 || closed) break;
          }
        } while (again && !closed);
      } catch (err) {
        logger.warn({ err }, 'audit stream: read failed; retrying');
      } finally {
        busy = false;
      }
    };
    const off = options.audit.onAppend(() => void pump());
    const poll = setInterval(() => void pump(), pollMs);
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
    poll.unref();
    keepAlive.unref();
    res.on('close', () => {
      closed = true;
      off();
      clearInterval(poll);
      clearInterval(keepAlive);
    });
  });

  app.post('/api/v1/audit/verify', async (req, reply) => {
    try {
      await admin(req);
      const result = await verifyChain(db);
      return reply.send(result);
    } catch (err) {
      return send(reply, err);
    }
  });
}
