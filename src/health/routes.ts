import type { ServerResponse } from 'node:http';
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { isAdmin, type Principal } from '../auth/principal.ts';
import { SERVER_NAME } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';
import type { HealthMonitor } from './monitor.ts';
import type { HealthChange } from './types.ts';

export interface HealthRoutesOptions {
  monitor: HealthMonitor;
  /** Resolves the caller; throws HubError('UNAUTHENTICATED') when there are no valid credentials. */
  authenticate: (req: FastifyRequest) => Promise<Principal>;
  /** SSE comment interval that keeps proxies from closing an idle stream (default 15 s). */
  keepAliveMs?: number;
}

/**
 * Health API for administrators:
 *   GET /api/v1/health/servers                 current state of every server and replica
 *   GET /api/v1/health/servers/:name/history   stored changes, newest first (?limit=, ?before=<id>)
 *   GET /api/v1/health/events                  server-sent events: `snapshot` once, then `change`
 * The public /health (liveness) reveals none of this.
 */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, options) => {
  const { monitor, authenticate } = options;
  const keepAliveMs = options.keepAliveMs ?? 15_000;

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const e =
      err instanceof HubError
        ? err
        : err.validation !== undefined || (err.statusCode !== undefined && err.statusCode < 500)
          ? new HubError('BAD_REQUEST', 'Bad Request')
          : new HubError('INTERNAL', 'Internal error');
    if (e.code === 'INTERNAL') reply.log.error({ err }, 'health API error');
    void reply.code(e.status).send({ error: { code: e.code, message: e.message } });
  });

  // Fails closed: anything but an authenticated administrator is refused before a route runs.
  app.addHook('onRequest', async (req) => {
    const principal = await authenticate(req);
    if (!isAdmin(principal)) throw new HubError('ACCESS_DENIED', 'Administrator role required');
  });

  app.get('/api/v1/health/servers', async () => ({ servers: monitor.snapshot() }));

  app.get('/api/v1/health/servers/:name', async (req) => {
    const { name } = req.params as { name: string };
    const server = monitor.server(name);
    if (server === undefined) throw new HubError('NOT_FOUND', `Unknown server: ${name}`);
    return server;
  });

  app.get('/api/v1/health/servers/:name/history', async (req) => {
    const { name } = req.params as { name: string };
    if (!SERVER_NAME.test(name)) throw new HubError('INVALID_PARAMS', 'Invalid server name');
    const query = req.query as Record<string, string | undefined>;
    const limit = intParam(query.limit, 'limit', 1, 1000);
    const before = intParam(query.before, 'before', 1, Number.MAX_SAFE_INTEGER);
    return { server: name, events: await monitor.history(name, { limit, before }) };
  });

  // Event streams never end on their own: close them when the server closes, so shutdown is not held up.
  const streams = new Set<ServerResponse>();
  app.addHook('onClose', async () => {
    for (const res of streams) res.end();
  });
  app.get('/api/v1/health/events', (req, reply) => streamEvents(req, reply, monitor, keepAliveMs, streams));
};

function intParam(value: string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new HubError('INVALID_PARAMS', `${name} must be an integer from ${min} to ${max}`);
  }
  return n;
}

function streamEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  monitor: HealthMonitor,
  keepAliveMs: number,
  streams: Set<ServerResponse>,
): void {
  reply.hijack();
  const res = reply.raw;
  streams.add(res);
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let seq = 0;
  const write = (event: string, data: unknown) => {
    res.write(`id: ${++seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  write('snapshot', { servers: monitor.snapshot() });
  const off = monitor.onChange((change: HealthChange) => write('change', change));
  const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), keepAliveMs);
  keepAlive.unref();
  const end = () => {
    streams.delete(res);
    off();
    clearInterval(keepAlive);
  };
  req.raw.once('close', end);
  res.once('close', end);
}
