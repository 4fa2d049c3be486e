/**
 * One table describes every /api/v1 admin route: the plugin registers it and the OpenAPI document is
 * written from it, so the two cannot drift apart.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../auth/principal.ts';
import type { Actor } from './changes.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A JSON Schema (draft 2020-12, as OpenAPI 3.1 uses it) or a `$ref` to a component. */
export type JsonSchema = Record<string, unknown>;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

export interface RouteContext {
  req: FastifyRequest;
  reply: FastifyReply;
  /** Undefined only for `access: 'public'` routes. */
  principal: Principal;
  actor: Actor;
  admin: boolean;
}

export interface RouteSpec {
  method: HttpMethod;
  /** Fastify path, e.g. `/api/v1/users/:user`. */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  /** `admin`: the principal must hold the admin role; `user`: any signed-in principal; `public`: anyone. */
  access: 'admin' | 'user' | 'public';
  parameters?: Parameter[];
  body?: JsonSchema;
  /** Success responses by status, e.g. `{ 200: { description, schema } }`. */
  responses: Record<number, RouteResponse>;
  handler: (ctx: RouteContext) => Promise<unknown>;
}

export interface RouteResponse {
  description: string;
  /** A JSON body. */
  schema?: JsonSchema;
  /** Bodies by media type, for responses that are not JSON (exports, event streams). */
  content?: Record<string, JsonSchema>;
}

/** What the OpenAPI document says about a route: its spec without the handler. */
export type RouteDoc = Omit<RouteSpec, 'handler'>;

/**
 * Routes another plugin registers under /api/v1 (the audit API), and the schemas they refer to: the
 * admin plugin's OpenAPI document describes them too.
 */
export interface ApiSection {
  routes: readonly RouteDoc[];
  schemas: Record<string, JsonSchema>;
}

export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

export const pageOf = (item: string): JsonSchema => ({
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: {
    items: { type: 'array', items: ref(item) },
    next_cursor: {
      type: ['string', 'null'],
      description: 'Pass as `cursor` for the next page; null on the last',
    },
  },
});

export const pageParameters: Parameter[] = [
  {
    name: 'limit',
    in: 'query',
    description: 'Items per page (1-500, default 100)',
    schema: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
  },
  {
    name: 'cursor',
    in: 'query',
    description: 'The `next_cursor` of the previous page',
    schema: { type: 'string' },
  },
];

export const pathParam = (name: string, description: string): Parameter => ({
  name,
  in: 'path',
  description,
  required: true,
  schema: { type: 'string' },
});
