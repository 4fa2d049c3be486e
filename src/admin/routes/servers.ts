import { HubError } from '../../server/errors.ts';
import { invalid, paginate, parseInput } from '../http.ts';
import { pageOf, pageParameters, pathParam, type RouteSpec, ref } from '../route-table.ts';
import { parseServerConfig, type ServerService, serverNameSchema, serverView } from '../server-service.ts';
import { pageQuerySchema } from './users.ts';

const name = (req: { params: unknown }): string => (req.params as { server: string }).server;
const serverParam = pathParam('server', 'The server name');

export function serverRoutes(servers: ServerService): RouteSpec[] {
  const toggle = (enabled: boolean): RouteSpec => ({
    method: 'POST',
    url: `/api/v1/servers/:server/${enabled ? 'enable' : 'disable'}`,
    operationId: enabled ? 'enableServer' : 'disableServer',
    summary: enabled ? 'Enable a server' : 'Disable a server (every hub instance stops routing to it)',
    tag: 'servers',
    access: 'admin',
    parameters: [serverParam],
    responses: { 200: { description: 'The server', schema: ref('Server') } },
    async handler({ req, actor }) {
      return serverView(await servers.setEnabled(actor, name(req), enabled));
    },
  });

  return [
    {
      method: 'GET',
      url: '/api/v1/servers',
      operationId: 'listServers',
      summary: 'List upstream MCP servers (credentials redacted)',
      tag: 'servers',
      access: 'admin',
      parameters: pageParameters,
      responses: { 200: { description: 'A page of servers', schema: pageOf('Server') } },
      async handler({ req }) {
        const query = parseInput(pageQuerySchema.strict(), req.query, 'query');
        const page = paginate(await servers.list(), (s) => s.name, query);
        return { items: page.items.map(serverView), next_cursor: page.next_cursor };
      },
    },
    {
      method: 'POST',
      url: '/api/v1/servers',
      operationId: 'createServer',
      summary: 'Add a server: `name` plus its config as in the config file',
      tag: 'servers',
      access: 'admin',
      body: ref('ServerCreate'),
      responses: { 201: { description: 'The new server', schema: ref('Server') } },
      async handler({ req, reply, actor }) {
        const body = req.body;
        if (body === null || typeof body !== 'object' || Array.isArray(body)) {
          throw invalid([{ path: 'body', message: 'must be an object' }]);
        }
        const { name: rawName, ...config } = body as Record<string, unknown>;
        const parsedName = serverNameSchema.safeParse(rawName);
        if (!parsedName.success) {
          throw invalid([{ path: 'body.name', message: parsedName.error.issues[0]?.message ?? 'invalid' }]);
        }
        const parsed = parseServerConfig(config, 'body');
        reply.code(201);
        return serverView(await servers.create(actor, parsedName.data, parsed));
      },
    },
    {
      method: 'GET',
      url: '/api/v1/servers/:server',
      operationId: 'getServer',
      summary: 'Get one server (credentials redacted)',
      tag: 'servers',
      access: 'admin',
      parameters: [serverParam],
      responses: { 200: { description: 'The server', schema: ref('Server') } },
      async handler({ req }) {
        return serverView(await servers.get(name(req)));
      },
    },
    {
      method: 'PUT',
      url: '/api/v1/servers/:server',
      operationId: 'replaceServer',
      summary: "Replace a server's config (`[redacted]` values keep the stored secret)",
      tag: 'servers',
      access: 'admin',
      parameters: [serverParam],
      body: ref('ServerConfig'),
      responses: { 200: { description: 'The server after the change', schema: ref('Server') } },
      async handler({ req, actor }) {
        const body = req.body as Record<string, unknown> | null;
        if (body && typeof body === 'object' && 'name' in body && body.name !== name(req)) {
          throw new HubError('INVALID_PARAMS', 'A server cannot be renamed: body.name differs from the path');
        }
        const { name: _ignored, ...config } = (body ?? {}) as Record<string, unknown>;
        const parsed = parseServerConfig(body === null || typeof body !== 'object' ? body : config, 'body');
        return serverView(await servers.replace(actor, name(req), parsed));
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/servers/:server',
      operationId: 'deleteServer',
      summary: 'Remove a server',
      tag: 'servers',
      access: 'admin',
      parameters: [serverParam],
      responses: { 204: { description: 'Deleted' } },
      async handler({ req, reply, actor }) {
        await servers.remove(actor, name(req));
        reply.code(204);
        return null;
      },
    },
    toggle(true),
    toggle(false),
  ];
}
