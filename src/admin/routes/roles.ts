import { paginate, parseInput } from '../http.ts';
import { createRoleSchema, type RoleService, replaceRoleSchema, roleView } from '../role-service.ts';
import { pageOf, pageParameters, pathParam, type RouteSpec, ref } from '../route-table.ts';
import { pageQuerySchema } from './users.ts';

const name = (req: { params: unknown }): string => (req.params as { role: string }).role;
const roleParam = pathParam('role', 'The role name');

export function roleRoutes(roles: RoleService): RouteSpec[] {
  return [
    {
      method: 'GET',
      url: '/api/v1/roles',
      operationId: 'listRoles',
      summary: 'List roles with their rules (sorted by name)',
      tag: 'roles',
      access: 'admin',
      parameters: pageParameters,
      responses: { 200: { description: 'A page of roles', schema: pageOf('Role') } },
      async handler({ req }) {
        const query = parseInput(pageQuerySchema.strict(), req.query, 'query');
        const page = paginate(await roles.list(), (r) => r.name, query);
        return { items: page.items.map(roleView), next_cursor: page.next_cursor };
      },
    },
    {
      method: 'POST',
      url: '/api/v1/roles',
      operationId: 'createRole',
      summary: 'Create a role (rules as in the config file)',
      tag: 'roles',
      access: 'admin',
      body: ref('RoleCreate'),
      responses: { 201: { description: 'The new role', schema: ref('Role') } },
      async handler({ req, reply, actor }) {
        const { name: roleName, ...rules } = parseInput(createRoleSchema, req.body, 'body');
        reply.code(201);
        return roleView(await roles.create(actor, roleName, rules));
      },
    },
    {
      method: 'GET',
      url: '/api/v1/roles/:role',
      operationId: 'getRole',
      summary: 'Get one role',
      tag: 'roles',
      access: 'admin',
      parameters: [roleParam],
      responses: { 200: { description: 'The role', schema: ref('Role') } },
      async handler({ req }) {
        return roleView(await roles.get(name(req)));
      },
    },
    {
      method: 'PUT',
      url: '/api/v1/roles/:role',
      operationId: 'replaceRole',
      summary: "Replace a role's description and rules (left-out lists become empty)",
      tag: 'roles',
      access: 'admin',
      parameters: [roleParam],
      body: ref('RoleInput'),
      responses: { 200: { description: 'The role after the change', schema: ref('Role') } },
      async handler({ req, actor }) {
        const input = parseInput(replaceRoleSchema, req.body, 'body');
        return roleView(await roles.replace(actor, name(req), input));
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/roles/:role',
      operationId: 'deleteRole',
      summary: 'Delete a role and every assignment of it (built-in roles cannot be deleted)',
      tag: 'roles',
      access: 'admin',
      parameters: [roleParam],
      responses: { 204: { description: 'Deleted' } },
      async handler({ req, reply, actor }) {
        await roles.remove(actor, name(req));
        reply.code(204);
        return null;
      },
    },
  ];
}
