/**
 * The OpenAPI 3.1 document for /api/v1, written from the same route table the plugin registers, plus
 * hand-written schemas for the bodies (they follow the zod schemas in the services and config), plus
 * the sections other plugins describe (the audit API: src/audit/openapi.ts).
 */
import { VERSION } from '../server/version.ts';
import type { ApiSection, JsonSchema, RouteDoc, RouteResponse } from './route-table.ts';

const globList: JsonSchema = {
  oneOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
  ],
  description: 'One glob or a list of globs (`*` any run of characters, `?` one character)',
};

const nullableDate: JsonSchema = { type: ['string', 'null'], format: 'date-time' };
const date: JsonSchema = { type: 'string', format: 'date-time' };
const stringMap: JsonSchema = { type: 'object', additionalProperties: { type: 'string' } };

const serverCommon: Record<string, JsonSchema> = {
  description: { type: 'string' },
  enabled: { type: 'boolean', default: true },
  replicas: { type: 'integer', minimum: 1, maximum: 32, default: 1 },
  resource_argument: {
    type: 'string',
    description: 'The tool argument that names the resource a call touches',
  },
  timeout_ms: { type: 'integer', minimum: 100, maximum: 3_600_000, default: 60_000 },
  idempotent_tools: { type: 'array', items: { type: 'string' } },
};

export const schemas: Record<string, JsonSchema> = {
  Error: {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', description: 'Stable code, e.g. INVALID_PARAMS, NOT_FOUND, CONFLICT' },
          message: { type: 'string' },
          data: {
            description: 'For INVALID_PARAMS: `problems`, a list of `{ path, message }`',
          },
        },
      },
    },
  },
  Rule: {
    type: 'object',
    additionalProperties: false,
    properties: {
      server: { type: 'string', minLength: 1, default: '*' },
      tools: globList,
      prompts: globList,
      uris: globList,
      resources: globList,
    },
  },
  User: {
    type: 'object',
    required: ['id', 'email', 'name', 'enabled', 'has_password', 'roles', 'created_at', 'updated_at'],
    properties: {
      id: { type: 'string', format: 'uuid' },
      email: { type: 'string', format: 'email' },
      name: { type: ['string', 'null'] },
      enabled: { type: 'boolean' },
      has_password: { type: 'boolean' },
      roles: { type: 'array', items: { type: 'string' } },
      created_at: date,
      updated_at: date,
    },
  },
  UserCreate: {
    type: 'object',
    required: ['email'],
    additionalProperties: false,
    properties: {
      email: { type: 'string', format: 'email', maxLength: 320 },
      name: { type: ['string', 'null'], maxLength: 200 },
      password: { type: 'string', minLength: 8, maxLength: 1024 },
      roles: { type: 'array', items: { type: 'string' }, default: [] },
      enabled: { type: 'boolean', default: true },
    },
  },
  UserUpdate: {
    type: 'object',
    additionalProperties: false,
    properties: {
      name: { type: ['string', 'null'], maxLength: 200 },
      enabled: { type: 'boolean' },
      roles: { type: 'array', items: { type: 'string' } },
      password: {
        type: ['string', 'null'],
        minLength: 8,
        maxLength: 1024,
        description: 'null removes password sign-in',
      },
    },
  },
  RoleInput: {
    type: 'object',
    additionalProperties: false,
    properties: {
      description: { type: 'string' },
      allow: { type: 'array', items: { $ref: '#/components/schemas/Rule' }, default: [] },
      deny: { type: 'array', items: { $ref: '#/components/schemas/Rule' }, default: [] },
    },
  },
  RoleCreate: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$' },
      description: { type: 'string' },
      allow: { type: 'array', items: { $ref: '#/components/schemas/Rule' }, default: [] },
      deny: { type: 'array', items: { $ref: '#/components/schemas/Rule' }, default: [] },
    },
  },
  Role: {
    type: 'object',
    required: ['name', 'description', 'allow', 'deny', 'builtin', 'created_at', 'updated_at'],
    properties: {
      name: { type: 'string' },
      description: { type: ['string', 'null'] },
      allow: { type: 'array', items: { $ref: '#/components/schemas/Rule' } },
      deny: { type: 'array', items: { $ref: '#/components/schemas/Rule' } },
      builtin: { type: 'boolean' },
      created_at: date,
      updated_at: date,
    },
  },
  ServerConfig: {
    description: 'As under `servers.<name>` in the config file; `transport` picks the shape',
    oneOf: [
      {
        type: 'object',
        required: ['command'],
        additionalProperties: false,
        properties: {
          transport: { const: 'stdio' },
          command: { type: 'string' },
          args: { type: 'array', items: { type: 'string' } },
          env: { ...stringMap, description: 'Values are shown as [redacted]' },
          cwd: { type: 'string' },
          ...serverCommon,
        },
      },
      {
        type: 'object',
        required: ['transport'],
        additionalProperties: false,
        properties: {
          transport: { enum: ['http', 'sse'] },
          url: { type: 'string', format: 'uri' },
          urls: { type: 'array', items: { type: 'string', format: 'uri' }, minItems: 1 },
          headers: { ...stringMap, description: 'Values are shown as [redacted]' },
          ...serverCommon,
        },
      },
    ],
  },
  ServerCreate: {
    allOf: [
      { $ref: '#/components/schemas/ServerConfig' },
      {
        type: 'object',
        required: ['name'],
        properties: { name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$' } },
      },
    ],
  },
  Server: {
    type: 'object',
    required: ['name', 'transport', 'enabled', 'config', 'created_at', 'updated_at'],
    properties: {
      name: { type: 'string' },
      transport: { enum: ['stdio', 'http', 'sse'] },
      enabled: { type: 'boolean' },
      config: { $ref: '#/components/schemas/ServerConfig' },
      created_at: date,
      updated_at: date,
    },
  },
  ApiKey: {
    type: 'object',
    required: [
      'id',
      'prefix',
      'user_id',
      'name',
      'scopes',
      'expires_at',
      'revoked_at',
      'last_used_at',
      'created_at',
    ],
    properties: {
      id: { type: 'string' },
      prefix: { type: 'string', description: '`omh_<id>_`: the visible start of the key' },
      user_id: { type: 'string', format: 'uuid' },
      name: { type: 'string' },
      scopes: {
        oneOf: [{ type: 'null' }, { type: 'array', items: { $ref: '#/components/schemas/Rule' } }],
        description: "null: all of the owner's permissions",
      },
      expires_at: nullableDate,
      revoked_at: nullableDate,
      last_used_at: nullableDate,
      created_at: date,
    },
  },
  ApiKeyCreate: {
    type: 'object',
    required: ['name'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 },
      scopes: {
        oneOf: [
          { type: 'null' },
          { type: 'array', items: { $ref: '#/components/schemas/Rule' }, minItems: 1, maxItems: 100 },
        ],
      },
      expires_at: nullableDate,
      expires_in_days: { type: 'integer', minimum: 1, maximum: 3650 },
      user: { type: 'string', description: 'Admins only: the owner (email or id)' },
    },
  },
  ApiKeyCreated: {
    allOf: [
      { $ref: '#/components/schemas/ApiKey' },
      {
        type: 'object',
        required: ['key'],
        properties: { key: { type: 'string', description: 'The full secret key: shown this once' } },
      },
    ],
  },
  AccessCheck: {
    type: 'object',
    required: ['user', 'server'],
    additionalProperties: false,
    properties: {
      user: { type: 'string', description: 'Email or id' },
      server: { type: 'string' },
      tool: { type: 'string' },
      prompt: { type: 'string' },
      uri: { type: 'string' },
      arguments: { type: 'object', description: "The call's arguments (the resource argument is read here)" },
      key_id: { type: 'string', description: "Simulate one of the user's API keys (its scopes)" },
      scopes: { type: 'array', items: { $ref: '#/components/schemas/Rule' } },
    },
  },
  AccessCheckResult: {
    type: 'object',
    required: ['allow', 'rule', 'reason', 'request', 'user', 'explanation'],
    properties: {
      allow: { type: 'boolean' },
      rule: {
        type: 'string',
        description: 'e.g. `role developer, allow[1]`, `default deny`, `user disabled`',
      },
      reason: { type: 'string' },
      request: {
        type: 'object',
        properties: {
          server: { type: 'string' },
          kind: { enum: ['server', 'tool', 'prompt', 'uri'] },
          name: { type: 'string' },
          resource: { type: 'string' },
        },
      },
      user: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          email: { type: 'string' },
          enabled: { type: 'boolean' },
          roles: { type: 'array', items: { type: 'string' } },
        },
      },
      explanation: {
        type: 'object',
        properties: {
          rules: { type: 'array', items: { type: 'object' } },
          unknown_roles: { type: 'array', items: { type: 'string' } },
          policy_decision: { type: 'object' },
        },
      },
    },
  },
};

const errorResponses = (spec: RouteDoc): Record<string, unknown> => {
  const error = (description: string) => ({
    description,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  });
  if (spec.access === 'public') return {};
  return {
    400: error('Invalid input: every bad field is named'),
    401: error('Not signed in (see WWW-Authenticate)'),
    403: error(spec.access === 'admin' ? 'The caller is not an admin' : 'Not allowed'),
    ...(spec.url.includes(':') ? { 404: error('No such object') } : {}),
    ...(spec.method !== 'GET' ? { 409: error('Conflicts with the current state') } : {}),
  };
};

/** `/api/v1/users/:user` → `/api/v1/users/{user}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function response(r: RouteResponse): Record<string, unknown> {
  const content = r.content ?? (r.schema ? { 'application/json': r.schema } : undefined);
  if (content === undefined) return { description: r.description };
  return {
    description: r.description,
    content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])),
  };
}

/** The document for the admin routes, and for the routes of `others` (registered by their own plugins). */
export function buildOpenApiDocument(
  routes: readonly RouteDoc[],
  others: readonly ApiSection[] = [],
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const spec of [...routes, ...others.flatMap((section) => section.routes)]) {
    const path = openApiPath(spec.url);
    const operation: Record<string, unknown> = {
      operationId: spec.operationId,
      summary: spec.summary,
      tags: [spec.tag],
      ...(spec.access === 'public' ? { security: [] } : {}),
      ...(spec.parameters?.length ? { parameters: spec.parameters } : {}),
      ...(spec.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: spec.body } } } }
        : {}),
      responses: {
        ...Object.fromEntries(Object.entries(spec.responses).map(([status, r]) => [status, response(r)])),
        ...errorResponses(spec),
      },
    };
    paths[path] = { ...paths[path], [spec.method.toLowerCase()]: operation };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'omnihub admin API',
      version: VERSION,
      description:
        'Sign-in, users, roles, API keys, upstream servers and their health, access checks and the audit log. Authenticate with `Authorization: Bearer <token or API key>`.',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A hub access token (JWT), an API key (`omh_…`) or a token of a configured identity provider',
        },
      },
      schemas: Object.assign({}, schemas, ...others.map((section) => section.schemas)),
    },
  };
}
