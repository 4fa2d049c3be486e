/**
 * Small HTTP helpers shared by the admin routes: input validation with field paths, the error body,
 * and cursor pagination.
 */
import type { FastifyReply } from 'fastify';
import type { ZodError, ZodType, ZodTypeDef } from 'zod';
import { HubError, isHubError } from '../server/errors.ts';
import type { Logger } from '../telemetry/logger.ts';

export interface Problem {
  path: string;
  message: string;
}

/** `field.sub.0: message` lines, prefixed with where the value came from (body, query, path). */
export function problemsOf(where: string, error: ZodError): Problem[] {
  return error.issues.map((i) => ({
    path: [where, ...i.path.map(String)].filter(Boolean).join('.') || '(input)',
    message: i.message,
  }));
}

export function invalid(problems: Problem[]): HubError {
  const text = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  return new HubError('INVALID_PARAMS', `Invalid request: ${text}`, { data: { problems } });
}

/** Parses `value` with `schema`; a mismatch is a 400 that names every bad field. */
export function parseInput<T>(schema: ZodType<T, ZodTypeDef, unknown>, value: unknown, where: string): T {
  const parsed = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (!parsed.success) throw invalid(problemsOf(where, parsed.error));
  return parsed.data;
}

/** The JSON error body every /api/v1 route answers with: `{ error: { code, message, data? } }`. */
export function errorBody(err: HubError): { error: { code: string; message: string; data?: unknown } } {
  return {
    error:
      err.data === undefined
        ? { code: err.code, message: err.message }
        : { code: err.code, message: err.message, data: err.data },
  };
}

/** Maps Fastify's own request errors (bad JSON, too large, wrong content type) onto the registry. */
function frameworkError(err: { code?: string; statusCode?: number; message?: string }): HubError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HubError('PAYLOAD_TOO_LARGE', 'Request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HubError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new HubError('BAD_REQUEST', 'The request body is empty');
    default:
      if (err.statusCode === 400 && err.message) {
        return new HubError('BAD_REQUEST', `Bad request: ${err.message}`);
      }
      return err.statusCode && err.statusCode < 500 ? new HubError('BAD_REQUEST', 'Bad request') : undefined;
  }
}

/** Sends `err` as a client-safe error; anything unexpected is logged and becomes a plain 500. */
export function sendError(
  reply: FastifyReply,
  err: unknown,
  logger: Logger,
  wwwAuthenticate?: string,
): FastifyReply {
  const mapped = isHubError(err) ? err : frameworkError(err as { code?: string; statusCode?: number });
  if (!mapped) {
    logger.error({ err }, 'admin API error');
    return reply.code(500).send(errorBody(new HubError('INTERNAL', 'Internal error')));
  }
  if (mapped.status === 401 && wwwAuthenticate) reply.header('www-authenticate', wwwAuthenticate);
  return reply.code(mapped.status).send(errorBody(mapped));
}

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 500;

export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  next_cursor: string | null;
}

function encodeCursor(key: string): string {
  return Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown };
    if (typeof value.k === 'string') return value.k;
  } catch {
    // fall through
  }
  throw invalid([{ path: 'query.cursor', message: 'not a cursor this API returned' }]);
}

/**
 * One page of `items`, which must be sorted by `key` (ascending, or descending with `descending`).
 * The cursor names the last key seen, so a page stays correct when items before it are removed.
 */
export function paginate<T>(
  items: readonly T[],
  key: (item: T) => string,
  query: { limit: number; cursor?: string | undefined },
  descending = false,
): Page<T> {
  let start = 0;
  if (query.cursor !== undefined) {
    const after = decodeCursor(query.cursor);
    start = items.findIndex((item) => (descending ? key(item) < after : key(item) > after));
    if (start === -1) start = items.length;
  }
  const slice = items.slice(start, start + query.limit);
  const last = slice.at(-1);
  const more = start + query.limit < items.length;
  return { items: [...slice], next_cursor: more && last !== undefined ? encodeCursor(key(last)) : null };
}
