/**
 * The health API (routes.ts) as the OpenAPI document describes it. The admin plugin writes the
 * document; test/e2e/admin-openapi.test.ts checks that these are exactly the routes healthRoutes
 * registers.
 */
import { type ApiSection, type JsonSchema, pathParam, type RouteDoc, ref } from '../admin/route-table.ts';

const state: JsonSchema = { enum: ['healthy', 'degraded', 'down'] };
const nullableText: JsonSchema = { type: ['string', 'null'] };

const schemas: Record<string, JsonSchema> = {
  ReplicaHealth: {
    type: 'object',
    required: ['id', 'state', 'connection', 'breaker', 'in_flight', 'draining'],
    properties: {
      id: { type: 'string', description: '`server#n`' },
      state,
      since: { type: 'string', format: 'date-time' },
      reason: nullableText,
      connection: { enum: ['connecting', 'ready', 'down', 'closed'] },
      breaker: { enum: ['closed', 'open', 'half-open'] },
      in_flight: { type: 'integer' },
      draining: { type: 'boolean' },
      consecutive_failures: { type: 'integer' },
      last_error: {
        type: ['object', 'null'],
        properties: { message: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
      },
      latency_ms: { type: ['number', 'null'] },
      last_probe_at: { type: ['string', 'null'], format: 'date-time' },
    },
  },
  ServerHealth: {
    type: 'object',
    required: ['name', 'state', 'disabled', 'replicas'],
    properties: {
      name: { type: 'string' },
      state: { enum: ['healthy', 'degraded', 'down', 'pending'] },
      since: { type: ['string', 'null'], format: 'date-time' },
      disabled: { type: 'boolean' },
      disabled_reason: nullableText,
      last_error: {
        type: ['object', 'null'],
        properties: {
          message: { type: 'string' },
          at: { type: 'string', format: 'date-time' },
          replica: { type: 'string' },
        },
      },
      latency_ms: { type: ['number', 'null'], description: 'Mean of the replicas’ last probe round trips' },
      replicas: { type: 'array', items: ref('ReplicaHealth') },
    },
  },
  HealthEvent: {
    type: 'object',
    required: ['kind', 'server', 'replica', 'from', 'to', 'at'],
    properties: {
      id: { type: 'integer', description: 'Stored events only' },
      kind: { enum: ['state', 'disabled', 'enabled', 'drain', 'undrain'] },
      server: { type: 'string' },
      replica: { ...nullableText, description: '`server#n`, or null for the server as a whole' },
      from: { enum: ['healthy', 'degraded', 'down', null] },
      to: { enum: ['healthy', 'degraded', 'down', null] },
      reason: nullableText,
      at: { type: 'string', format: 'date-time' },
    },
  },
};

const routes: RouteDoc[] = [
  {
    method: 'GET',
    url: '/api/v1/health/servers',
    operationId: 'listServerHealth',
    summary: 'Live health of every server and replica',
    tag: 'health',
    access: 'admin',
    responses: {
      200: {
        description: 'Every server',
        schema: {
          type: 'object',
          required: ['servers'],
          properties: { servers: { type: 'array', items: ref('ServerHealth') } },
        },
      },
    },
  },
  {
    method: 'GET',
    url: '/api/v1/health/servers/:name',
    operationId: 'getServerHealth',
    summary: 'Live health of one server and its replicas',
    tag: 'health',
    access: 'admin',
    parameters: [pathParam('name', 'Server name')],
    responses: { 200: { description: 'The server', schema: ref('ServerHealth') } },
  },
  {
    method: 'GET',
    url: '/api/v1/health/servers/:name/history',
    operationId: 'getServerHealthHistory',
    summary: 'Stored changes of a server and its replicas, newest first',
    tag: 'health',
    access: 'admin',
    parameters: [
      pathParam('name', 'Server name'),
      {
        name: 'limit',
        in: 'query',
        description: 'Events per page (1-1000)',
        schema: { type: 'integer', minimum: 1, maximum: 1000 },
      },
      {
        name: 'before',
        in: 'query',
        description: 'Only events with a smaller `id` (the last `id` of the previous page)',
        schema: { type: 'integer', minimum: 1 },
      },
    ],
    responses: {
      200: {
        description: 'A page of events',
        schema: {
          type: 'object',
          required: ['server', 'events'],
          properties: { server: { type: 'string' }, events: { type: 'array', items: ref('HealthEvent') } },
        },
      },
    },
  },
  {
    method: 'GET',
    url: '/api/v1/health/events',
    operationId: 'streamHealthEvents',
    summary: 'Server-sent events: a `snapshot` of every server, then each `change` as it happens',
    tag: 'health',
    access: 'admin',
    responses: {
      200: {
        description:
          '`event: snapshot` (data: `{servers: ServerHealth[]}`), then `event: change` (data: HealthEvent)',
        content: { 'text/event-stream': { type: 'string' } },
      },
    },
  },
];

export const healthApi: ApiSection = { routes, schemas };
