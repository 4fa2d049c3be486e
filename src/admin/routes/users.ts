import { z } from 'zod';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, paginate, parseInput } from '../http.ts';
import { pageOf, pageParameters, pathParam, type RouteSpec, ref } from '../route-table.ts';
import {
  createUserSchema,
  setPasswordSchema,
  type UserService,
  updateUserSchema,
  userView,
} from '../user-service.ts';

export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(DEFAULT_PAGE_SIZE),
  cursor: z.string().min(1).max(1000).optional(),
});

const listQuery = pageQuerySchema
  .extend({
    /** Case-insensitive substring of the email or name. */
    q: z.string().max(320).optional(),
    role: z.string().max(64).optional(),
    enabled: z.enum(['true', 'false']).optional(),
  })
  .strict();

const rolesBody = z.object({ roles: createUserSchema.shape.roles.removeDefault() }).strict();

const param = (req: { params: unknown }): string => (req.params as { user: string }).user;
const userParam = pathParam('user', 'The user id or email');

export function userRoutes(users: UserService): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/api/v1/users',
      operationId: 'listUsers',
      summary: 'List users (sorted by email)',
      tag: 'users',
      access: 'admin',
      parameters: [
        ...pageParameters,
        { name: 'q', in: 'query', description: 'Substring of the email or name', schema: { type: 'string' } },
        {
          name: 'role',
          in: 'query',
          description: 'Only users holding this role',
          schema: { type: 'string' },
        },
        {
          name: 'enabled',
          in: 'query',
          description: 'Only enabled (true) or disabled (false) users',
          schema: { type: 'string', enum: ['true', 'false'] },
        },
      ],
      responses: { 200: { description: 'A page of users', schema: pageOf('User') } },
      async handler({ req }) {
        const query = parseInput(listQuery, req.query, 'query');
        const q = query.q?.toLowerCase();
        const all = (await users.list()).filter(
          (u) =>
            (q === undefined || u.email.includes(q) || (u.name ?? '').toLowerCase().includes(q)) &&
            (query.role === undefined || u.roles.includes(query.role)) &&
            (query.enabled === undefined || String(u.enabled) === query.enabled),
        );
        const page = paginate(all, (u) => u.email, query);
        return { items: page.items.map(userView), next_cursor: page.next_cursor };
      },
    },
    {
      method: 'POST',
      url: '/api/v1/users',
      operationId: 'createUser',
      summary: 'Create a user',
      tag: 'users',
      access: 'admin',
      body: ref('UserCreate'),
      responses: { 201: { description: 'The new user', schema: ref('User') } },
      async handler({ req, reply, actor }) {
        const input = parseInput(createUserSchema, req.body, 'body');
        reply.code(201);
        return userView(await users.create(actor, input));
      },
    },
    {
      method: 'GET',
      url: '/api/v1/users/:user',
      operationId: 'getUser',
      summary: 'Get one user',
      tag: 'users',
      access: 'admin',
      parameters: [userParam],
      responses: { 200: { description: 'The user', schema: ref('User') } },
      async handler({ req }) {
        return userView(await users.get(param(req)));
      },
    },
    {
      method: 'PATCH',
      url: '/api/v1/users/:user',
      operationId: 'updateUser',
      summary: 'Change a user: name, enabled, roles, password (fields left out are kept)',
      tag: 'users',
      access: 'admin',
      parameters: [userParam],
      body: ref('UserUpdate'),
      responses: { 200: { description: 'The user after the change', schema: ref('User') } },
      async handler({ req, actor }) {
        const input = parseInput(updateUserSchema, req.body, 'body');
        return userView(await users.update(actor, param(req), input));
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/users/:user',
      operationId: 'deleteUser',
      summary: 'Delete a user, with their API keys and sessions',
      tag: 'users',
      access: 'admin',
      parameters: [userParam],
      responses: { 204: { description: 'Deleted' } },
      async handler({ req, reply, actor }) {
        await users.remove(actor, param(req));
        reply.code(204);
        return null;
      },
    },
    {
      method: 'POST',
      url: '/api/v1/users/:user/enable',
      operationId: 'enableUser',
      summary: 'Enable a user',
      tag: 'users',
      access: 'admin',
      parameters: [userParam],
      responses: { 200: { description: 'The user', schema: ref('User') } },
      async handler({ req, actor }) {
        return userView(await users.setEnabled(actor, param(req), true));
      },
    },
    {
      method: 'POST',
      url: '/api/v1/users/:user/disable',
      operationId: 'disableUser',
      summary: 'Disable a user: their tokens and API keys stop working on the next request',
      tag: 'users',
      access: 'admin',
      parameters: [userParam],
      responses: { 200: { description: 'The user', schema: ref('User') } },
      async handler({ req, actor }) {
        return userView(await users.setEnabled(actor, param(req), false));
      },
    },
    {
      method: 'PUT',
      url: '/api/v1/users/:user/roles',
      operationId: 'setUserRoles',
      summary: "Replace a user's roles",
      tag: 'users',
      access: 'admin',
      parameters: [userParam],
      body: {
        type: 'object',
        required: ['roles'],
        additionalProperties: false,
        properties: { roles: { type: 'array', items: { type: 'string' } } },
      },
      responses: { 200: { description: 'The user', schema: ref('User') } },
      async handler({ req, actor }) {
        const { roles } = parseInput(rolesBody, req.body, 'body');
        return userView(await users.setRoles(actor, param(req), roles));
      },
    },
    {
      method: 'POST',
      url: '/api/v1/users/:user/password',
      operationId: 'resetUserPassword',
      summary: 'Set a password, or generate one (returned once) when the body has none',
      tag: 'users',
      access: 'admin',
      parameters: [userParam],
      body: {
        type: 'object',
        additionalProperties: false,
        properties: { password: { type: 'string', minLength: 8, maxLength: 1024 } },
      },
      responses: {
        200: {
          description: 'The user; `password` only when it was generated',
          schema: {
            type: 'object',
            required: ['user'],
            properties: { user: ref('User'), password: { type: 'string' } },
          },
        },
      },
      async handler({ req, actor }) {
        const { password } = parseInput(setPasswordSchema, req.body ?? {}, 'body');
        const result = await users.setPassword(actor, param(req), password);
        return result.generated === undefined
          ? { user: userView(result.user) }
          : { user: userView(result.user), password: result.generated };
      },
    },
  ];
}
