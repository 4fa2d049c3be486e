/**
 * The audit API (routes.ts) as the OpenAPI document describes it. The admin plugin writes the document;
 * test/e2e/admin-openapi.test.ts checks that these are exactly the routes auditRoutes registers.
 */
import {
  type ApiSection,
  type JsonSchema,
  type Parameter,
  type RouteDoc,
  ref,
} from '../admin/route-table.ts';

const text: JsonSchema = { type: 'string', maxLength: 300 };
const nullableText: JsonSchema = { type: ['string', 'null'] };
const query = (name: string, description: string, schema: JsonSchema = text): Parameter => ({
  name,
  in: 'query',
  description,
  schema,
});

/** The filters every read of the log takes (query.ts parseFilters). */
const filters: Parameter[] = [
  query('user', 'An email, a user id or a principal id (`user:…`, `idp:…`)'),
  query('server', 'Server name'),
  query('tool', 'Tool or prompt name, or resource URI'),
  query('resource', 'The resource a call touched (e.g. `prod_db`)'),
  query('decision', 'The policy decision', { enum: ['allow', 'deny'] }),
  query('outcome', 'e.g. `ok`, `denied`, `tool_error`, `rate_limited`'),
  query('type', 'Event type, e.g. `mcp`, `admin`, `auth`'),
  query('action', 'MCP method or event action (`tools/call`, `login_failed`…)'),
  query('method', 'Alias of `action`'),
  query('from', 'ISO 8601 date or time, or epoch milliseconds (inclusive)'),
  query('to', 'ISO 8601 date or time, or epoch milliseconds (exclusive)'),
  query(
    'q',
    'Free text: case-insensitive substring of actor, server, target, resource, rule, reason, error, arguments',
  ),
];

const schemas: Record<string, JsonSchema> = {
  AuditEvent: {
    type: 'object',
    description: 'One audit record, as stored (arguments redacted and capped)',
    required: ['seq', 'id', 'time', 'type', 'action', 'outcome', 'prevHash', 'hash'],
    properties: {
      seq: { type: 'integer', description: 'Position in the hash chain' },
      id: { type: 'string' },
      time: { type: 'string', format: 'date-time' },
      type: { type: 'string' },
      action: { type: 'string' },
      requestId: nullableText,
      actor: {
        type: ['object', 'null'],
        properties: {
          id: nullableText,
          userId: nullableText,
          email: nullableText,
          keyId: nullableText,
          roles: { type: 'array', items: { type: 'string' } },
        },
      },
      client: {
        type: ['object', 'null'],
        properties: { ip: nullableText, userAgent: nullableText, name: nullableText, version: nullableText },
      },
      server: nullableText,
      target: nullableText,
      resource: nullableText,
      arguments: { description: 'The call arguments, redacted' },
      argumentsHash: nullableText,
      argumentsBytes: { type: ['integer', 'null'] },
      decision: {
        type: ['object', 'null'],
        properties: { allow: { type: 'boolean' }, rule: nullableText, reason: nullableText },
      },
      outcome: { type: 'string' },
      error: nullableText,
      latencyMs: { type: ['number', 'null'] },
      replica: nullableText,
      before: { description: 'Admin changes: the object before (secrets redacted)' },
      after: { description: 'Admin changes: the object after (secrets redacted)' },
      instance: nullableText,
      prevHash: { type: 'string' },
      hash: { type: 'string' },
    },
  },
  AuditVerifyResult: {
    type: 'object',
    required: ['ok', 'checked', 'anchor', 'head'],
    properties: {
      ok: { type: 'boolean' },
      checked: { type: 'integer', description: 'Events checked' },
      anchor: {
        type: 'object',
        description: 'Where the stored chain starts (after retention)',
        properties: { seq: { type: 'integer' }, hash: { type: 'string' } },
      },
      head: {
        type: 'object',
        properties: { seq: { type: 'integer' }, hash: { type: 'string' } },
      },
      problem: {
        type: 'object',
        description: 'The first break, when `ok` is false',
        properties: {
          kind: { enum: ['edited', 'deleted', 'inserted', 'reordered'] },
          seq: { type: 'integer' },
          id: nullableText,
          message: { type: 'string' },
        },
      },
    },
  },
};

const routes: RouteDoc[] = [
  {
    method: 'GET',
    url: '/api/v1/audit',
    operationId: 'listAuditEvents',
    summary: 'Audit events matching the filters, newest first, a page at a time',
    tag: 'audit',
    access: 'admin',
    parameters: [
      ...filters,
      query('limit', 'Events per page (1-1000, default 50)', {
        type: 'integer',
        minimum: 1,
        maximum: 1000,
        default: 50,
      }),
      query('cursor', 'The `next_cursor` of the previous page', { type: 'string' }),
    ],
    responses: {
      200: {
        description: 'One page of events',
        schema: {
          type: 'object',
          required: ['events', 'next_cursor'],
          properties: {
            events: { type: 'array', items: ref('AuditEvent') },
            next_cursor: {
              type: ['string', 'null'],
              description: 'Pass as `cursor` for the next (older) page; null on the last',
            },
          },
        },
      },
    },
  },
  {
    method: 'GET',
    url: '/api/v1/audit/export',
    operationId: 'exportAuditEvents',
    summary: 'Every event matching the filters, oldest first, streamed as JSON lines or CSV',
    tag: 'audit',
    access: 'admin',
    parameters: [
      query('format', 'jsonl (default): one event per line; csv: one row per event', {
        enum: ['jsonl', 'csv'],
        default: 'jsonl',
      }),
      ...filters,
    ],
    responses: {
      200: {
        description: 'An attachment (`audit.jsonl` or `audit.csv`)',
        content: {
          'application/x-ndjson': { type: 'string', description: 'One AuditEvent JSON per line' },
          'text/csv': { type: 'string' },
        },
      },
    },
  },
  {
    method: 'GET',
    url: '/api/v1/audit/stream',
    operationId: 'streamAuditEvents',
    summary: 'New events matching the filters as server-sent events (`event: audit`, `id: <seq>`)',
    tag: 'audit',
    access: 'admin',
    parameters: [
      ...filters,
      {
        name: 'Last-Event-ID',
        in: 'header',
        description: 'Resume after this `seq` (sent by EventSource on reconnect)',
        schema: { type: 'string', pattern: '^\\d{1,15}$' },
      },
    ],
    responses: {
      200: {
        description: 'An event stream; each `data` is one AuditEvent as JSON',
        content: { 'text/event-stream': { type: 'string' } },
      },
    },
  },
  {
    method: 'POST',
    url: '/api/v1/audit/verify',
    operationId: 'verifyAuditChain',
    summary: 'Walks the hash chain from the retention anchor to the head; names the first break',
    tag: 'audit',
    access: 'admin',
    responses: { 200: { description: 'The verification result', schema: ref('AuditVerifyResult') } },
  },
];

export const auditApi: ApiSection = { routes, schemas };
