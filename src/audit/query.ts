import { type Expression, type ExpressionBuilder, type Kysely, type SqlBool, sql } from 'kysely';
import { HubError } from '../server/errors.ts';
import type { Database } from '../store/schema.ts';
import { type AuditEvent, toAuditEvent } from './event.ts';
import { type AuditDatabase, type AuditEventsTable, auditDb } from './tables.ts';

export interface AuditFilters {
  /** An email (contains `@`), a user id (uuid) or a principal id (`user:…`, `idp:…`). */
  user?: string;
  server?: string;
  /** Tool or prompt name, or resource URI. */
  tool?: string;
  resource?: string;
  decision?: 'allow' | 'deny';
  outcome?: string;
  type?: string;
  /** MCP method or event action (`tools/call`, `login_failed`…). */
  action?: string;
  from?: Date;
  to?: Date;
  /** Free text: case-insensitive substring over actor, server, target, resource, rule, reason, error, arguments. */
  q?: string;
}

const MAX_TEXT = 300;

/** Parses query-string style filters; a bad value is refused with a clear message. */
export function parseFilters(input: Record<string, unknown>): AuditFilters {
  const str = (name: string): string | undefined => {
    const v = input[name];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string') throw new HubError('INVALID_PARAMS', `"${name}" must be a string`);
    if (v.length > MAX_TEXT)
      throw new HubError('INVALID_PARAMS', `"${name}" is longer than ${MAX_TEXT} characters`);
    if (v.includes('\u0000')) throw new HubError('INVALID_PARAMS', `"${name}" contains a NUL character`);
    return v;
  };
  const date = (name: string): Date | undefined => {
    const v = str(name);
    if (v === undefined) return undefined;
    const d = /^\d+$/.test(v) ? new Date(Number(v)) : new Date(v);
    if (Number.isNaN(d.getTime()))
      throw new HubError('INVALID_PARAMS', `"${name}" must be an ISO 8601 date or time`);
    return d;
  };
  const decision = str('decision');
  if (decision !== undefined && decision !== 'allow' && decision !== 'deny') {
    throw new HubError('INVALID_PARAMS', '"decision" must be allow or deny');
  }
  const filters: AuditFilters = {
    user: str('user'),
    server: str('server'),
    tool: str('tool'),
    resource: str('resource'),
    decision,
    outcome: str('outcome'),
    type: str('type'),
    action: str('action') ?? str('method'),
    from: date('from'),
    to: date('to'),
    q: str('q'),
  };
  if (filters.from && filters.to && filters.from > filters.to) {
    throw new HubError('INVALID_PARAMS', '"from" is after "to"');
  }
  return Object.fromEntries(Object.entries(filters).filter(([, v]) => v !== undefined)) as AuditFilters;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

function whereFilters(
  eb: ExpressionBuilder<AuditDatabase, 'audit_events'>,
  f: AuditFilters,
): Expression<SqlBool> {
  const and: Expression<SqlBool>[] = [];
  if (f.user !== undefined) {
    if (f.user.includes('@')) and.push(eb('actor_email', '=', f.user.toLowerCase()));
    else if (UUID.test(f.user)) and.push(eb('actor_id', 'in', [`user:${f.user.toLowerCase()}`, f.user]));
    else and.push(eb('actor_id', '=', f.user));
  }
  if (f.server !== undefined) and.push(eb('server', '=', f.server));
  if (f.tool !== undefined) and.push(eb('target', '=', f.tool));
  if (f.resource !== undefined) and.push(eb('resource', '=', f.resource));
  if (f.decision !== undefined) and.push(eb('allowed', '=', f.decision === 'allow'));
  if (f.outcome !== undefined) and.push(eb('outcome', '=', f.outcome));
  if (f.type !== undefined) and.push(eb('type', '=', f.type));
  if (f.action !== undefined) and.push(eb('action', '=', f.action));
  if (f.from !== undefined) and.push(eb('time', '>=', f.from));
  if (f.to !== undefined) and.push(eb('time', '<', f.to));
  if (f.q !== undefined) and.push(sql<SqlBool>`${sql.ref('search')} like ${likePattern(f.q)}`);
  return eb.and(and);
}

export interface Cursor {
  time: Date;
  seq: string;
}

export function encodeCursor(event: { time: string; seq: number }): string {
  return Buffer.from(JSON.stringify([event.time, String(event.seq)])).toString('base64url');
}

export function decodeCursor(cursor: string): Cursor {
  try {
    const [time, seq] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string, string];
    const d = new Date(time);
    if (Number.isNaN(d.getTime()) || !/^\d{1,19}$/.test(seq)) throw new Error('bad');
    return { time: d, seq };
  } catch {
    throw new HubError('INVALID_PARAMS', '"cursor" is not a cursor this API returned');
  }
}

export interface AuditPage {
  events: AuditEvent[];
  /** Pass as `cursor` for the next (older) page; null at the end. */
  nextCursor: string | null;
}

/** Newest first, `limit` at a time; the cursor continues exactly where the page ended. */
export async function listEvents(
  db: Kysely<Database>,
  filters: AuditFilters,
  page: { limit?: number; cursor?: string } = {},
): Promise<AuditPage> {
  const limit = Math.min(Math.max(page.limit ?? 50, 1), 1_000);
  const cursor = page.cursor ? decodeCursor(page.cursor) : undefined;
  let query = auditDb(db)
    .selectFrom('audit_events')
    .selectAll()
    .where((eb) => whereFilters(eb, filters));
  if (cursor) {
    query = query.where((eb) =>
      eb.or([
        eb('time', '<', cursor.time),
        eb.and([eb('time', '=', cursor.time), eb('seq', '<', cursor.seq)]),
      ]),
    );
  }
  const rows = await query
    .orderBy('time', 'desc')
    .orderBy('seq', 'desc')
    .limit(limit + 1)
    .execute();
  const events = rows.slice(0, limit).map(toAuditEvent);
  const last = events.at(-1);
  return { events, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

/** Events after `afterSeq` in chain order (the live stream). */
export async function eventsAfter(
  db: Kysely<Database>,
  afterSeq: number,
  filters: AuditFilters,
  limit = 500,
): Promise<AuditEvent[]> {
  const rows = await auditDb(db)
    .selectFrom('audit_events')
    .selectAll()
    .where('seq', '>', String(afterSeq))
    .where((eb) => whereFilters(eb, filters))
    .orderBy('seq')
    .limit(limit)
    .execute();
  return rows.map(toAuditEvent);
}

/** The newest chain position (0 when empty). */
export async function lastSeq(db: Kysely<Database>): Promise<number> {
  const row = await auditDb(db)
    .selectFrom('audit_chain')
    .select('seq')
    .where('id', '=', 'main')
    .executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/**
 * Oldest first, read in keyset pages: memory stays bounded by one page whatever the range, on both
 * PostgreSQL and PGlite (no server-side cursor needed).
 */
export async function* exportEvents(
  db: Kysely<Database>,
  filters: AuditFilters,
  pageSize = 1_000,
): AsyncGenerator<AuditEvent> {
  let after: { time: Date; seq: string | number | bigint } | undefined;
  for (;;) {
    let query = auditDb(db)
      .selectFrom('audit_events')
      .selectAll()
      .where((eb) => whereFilters(eb, filters));
    if (after) {
      const a = after;
      query = query.where((eb) =>
        eb.or([eb('time', '>', a.time), eb.and([eb('time', '=', a.time), eb('seq', '>', a.seq)])]),
      );
    }
    const rows: AuditEventsTable[] = await query.orderBy('time').orderBy('seq').limit(pageSize).execute();
    for (const row of rows) yield toAuditEvent(row);
    const last = rows.at(-1);
    if (!last || rows.length < pageSize) return;
    after = { time: last.time, seq: last.seq };
  }
}

export const CSV_COLUMNS = [
  'seq',
  'id',
  'time',
  'type',
  'action',
  'request_id',
  'actor_id',
  'user_id',
  'actor_email',
  'key_id',
  'roles',
  'client_ip',
  'user_agent',
  'client_name',
  'client_version',
  'server',
  'target',
  'resource',
  'arguments',
  'arguments_hash',
  'decision',
  'rule',
  'reason',
  'outcome',
  'error',
  'latency_ms',
  'replica',
  'instance',
  'hash',
] as const;

/** One CSV field: quoted when needed; a leading = + - @ is defused so spreadsheets don't run it. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let s = typeof value === 'string' ? value : JSON.stringify(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export function csvHeader(): string {
  return `${CSV_COLUMNS.join(',')}\r\n`;
}

export function csvLine(e: AuditEvent): string {
  const values: Record<(typeof CSV_COLUMNS)[number], unknown> = {
    seq: e.seq,
    id: e.id,
    time: e.time,
    type: e.type,
    action: e.action,
    request_id: e.requestId,
    actor_id: e.actor?.id,
    user_id: e.actor?.userId,
    actor_email: e.actor?.email,
    key_id: e.actor?.keyId,
    roles: e.actor?.roles.join(' '),
    client_ip: e.client?.ip,
    user_agent: e.client?.userAgent,
    client_name: e.client?.name,
    client_version: e.client?.version,
    server: e.server,
    target: e.target,
    resource: e.resource,
    arguments: e.arguments === null ? null : JSON.stringify(e.arguments),
    arguments_hash: e.argumentsHash,
    decision: e.decision ? (e.decision.allow ? 'allow' : 'deny') : null,
    rule: e.decision?.rule,
    reason: e.decision?.reason,
    outcome: e.outcome,
    error: e.error,
    latency_ms: e.latencyMs,
    replica: e.replica,
    instance: e.instance,
    hash: e.hash,
  };
  return `${CSV_COLUMNS.map((c) => csvField(values[c])).join(',')}\r\n`;
}

export function jsonLine(e: AuditEvent): string {
  return `${JSON.stringify(e)}\n`;
}

export type ExportFormat = 'jsonl' | 'csv';

/** Formatted export chunks; the consumer writes them with backpressure. */
export async function* exportLines(
  db: Kysely<Database>,
  filters: AuditFilters,
  format: ExportFormat,
): AsyncGenerator<string> {
  if (format === 'csv') yield csvHeader();
  let buffer = '';
  for await (const event of exportEvents(db, filters)) {
    buffer += format === 'csv' ? csvLine(event) : jsonLine(event);
    if (buffer.length >= 64 * 1024) {
      yield buffer;
      buffer = '';
    }
  }
  if (buffer) yield buffer;
}
