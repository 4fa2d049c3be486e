/**
 * ForwardAuth behind a real reverse proxy: Debian's nginx with `auth_request` calls the hub's
 * `GET /auth/verify` for every request and only then proxies to a backend. The hub side is the real
 * auth services (API keys, user directory) and policy over a real store.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminFixture, adminFixture, PUBLIC_URL } from '../../src/admin/test-fixture.ts';
import { wwwAuthenticate } from '../../src/auth/routes.ts';
import { forwardAuth } from '../../src/server/forward-auth.ts';
import { backends } from '../../src/store/test-backends.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';

const pglite = backends.find((b) => b.kind === 'pglite');
if (!pglite) throw new Error('PGlite backend missing');

/** nginx from Debian: installed by the test setup when the machine has none. */
function nginxBinary(): string {
  const find = () => ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
  const found = find();
  if (found) return found;
  execFileSync('apt-get', ['install', '-y', '-q', 'nginx-light'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: 'ignore',
    timeout: 240_000,
  });
  const installed = find();
  if (!installed) throw new Error('nginx is not installed and apt-get could not install nginx-light');
  return installed;
}

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A raw HTTP request: the path goes on the wire exactly as given (no client-side normalisation). */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function nginxConfig(dir: string, port: number, hubPort: number, backendPort: number): string {
  const verify = (name: string, query: string) => `
    location = /_verify_${name} {
      internal;
      proxy_pass http://127.0.0.1:${hubPort}/auth/verify${query};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-Method $request_method;
      proxy_set_header X-Forwarded-Uri $request_uri;
      proxy_set_header X-Forwarded-Host $host;
    }`;
  const protect = (location: string, name: string) => `
    location ${location} {
      auth_request /_verify_${name};
      auth_request_set $omnihub_user $upstream_http_x_omnihub_user;
      auth_request_set $omnihub_roles $upstream_http_x_omnihub_roles;
      auth_request_set $omnihub_server $upstream_http_x_omnihub_server;
      proxy_set_header X-Omnihub-User $omnihub_user;
      proxy_set_header X-Omnihub-Roles $omnihub_roles;
      proxy_set_header X-Omnihub-Server $omnihub_server;
      proxy_set_header Authorization "";
      proxy_pass http://127.0.0.1:${backendPort};
    }`;
  return `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    ${verify('route', '')}
    ${verify('etl', '?server=etl')}
    ${verify('admins', '?role=admin')}
    ${protect('/direct-etl/', 'etl')}
    ${protect('/console/', 'admins')}
    ${protect('/', 'route')}
  }
}
`;
}

describe('ForwardAuth behind nginx auth_request', () => {
  let f: AdminFixture;
  let hub: FastifyInstance;
  let backend: Server;
  let nginx: ChildProcess;
  let dir: string;
  let port: number;
  /** What the backend received, newest last: proves what passed the proxy. */
  const received: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  let developerKey: string;
  let adminKey: string;

  beforeAll(async () => {
    const binary = nginxBinary();
    f = await adminFixture(pglite);
    adminKey = f.adminKey;
    for (const name of ['code', 'etl', 'database']) {
      await f.store.servers.upsert(name, {
        transport: 'http',
        url: `http://127.0.0.1:1/${name}`,
        headers: {},
        enabled: true,
        replicas: 1,
        timeout_ms: 60_000,
        idempotent_tools: [],
      });
    }
    await f.store.servers.upsert(
      'retired',
      {
        transport: 'http',
        url: 'http://127.0.0.1:1/r',
        headers: {},
        enabled: false,
        replicas: 1,
        timeout_ms: 60_000,
        idempotent_tools: [],
      },
      { enabled: false },
    );
    await f.store.roles.upsert('developer', {
      allow: [
        { server: 'code', tools: '*' },
        { server: 'retired', tools: '*' },
      ],
      deny: [{ server: 'database' }],
    });
    await f.policy.load();
    developerKey = (await f.userWithKey('dev@example.test', ['developer'])).key;
    const servers = Object.fromEntries(
      (await f.store.servers.list()).map((s) => [s.name, { enabled: s.enabled }]),
    );

    hub = Fastify();
    await hub.register(forwardAuth, {
      authenticate: (req) => f.auth.authenticator.authenticate(req.headers),
      policy: () => f.policy.current,
      isServerEnabled: (name) => servers[name]?.enabled === true,
      challenge: () => wwwAuthenticate(PUBLIC_URL),
      audit: f.audit,
      logger: silentLogger,
    });
    await hub.listen({ port: 0, host: '127.0.0.1' });
    const hubPort = (hub.server.address() as { port: number }).port;

    backend = createServer((req, res) => {
      received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('backend says hello');
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    const backendPort = (backend.address() as { port: number }).port;

    dir = await mkdtemp(join(tmpdir(), 'omnihub-nginx-'));
    // Workers may run as an unprivileged user when the test runs as root: let them reach the temp dirs.
    await chmod(dir, 0o755);
    await mkdir(join(dir, 'tmp'), { recursive: true });
    port = await freePort();
    const conf = join(dir, 'nginx.conf');
    await writeFile(conf, nginxConfig(dir, port, hubPort, backendPort));
    nginx = spawn(binary, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    nginx.stderr?.on('data', (c) => {
      stderr += String(c);
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (nginx.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
      try {
        await send(port, 'GET', '/health-probe');
        break;
      } catch {
        if (Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }, 300_000);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGQUIT');
      await exited;
    }
    await new Promise((resolve) => (backend ? backend.close(resolve) : resolve(undefined)));
    await hub?.close();
    await f?.dispose();
    if (dir) {
      const log = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
      if (/\[(emerg|crit)\]/.test(log)) console.error(log);
      await rm(dir, { recursive: true, force: true });
    }
  });

  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  it('unauthenticated: 401 with the discovery challenge, and the backend never sees the request', async () => {
    const before = received.length;
    const res = await send(port, 'POST', '/mcp/code');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('resource_metadata=');
    const bad = await send(
      port,
      'POST',
      '/mcp/code',
      as('omh_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB_CCCCCC'),
    );
    expect(bad.status).toBe(401);
    expect(received.length).toBe(before);
  });

  it('allowed: the backend answers, sees who is calling, and never the client token', async () => {
    const res = await send(port, 'POST', '/mcp/code', {
      ...as(developerKey),
      'x-omnihub-user': 'forged@example.test',
      'x-omnihub-roles': 'admin',
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe('backend says hello');
    const seen = received.at(-1);
    expect(seen?.url).toBe('/mcp/code');
    expect(seen?.headers['x-omnihub-user']).toBe('dev@example.test');
    expect(seen?.headers['x-omnihub-roles']).toBe('developer');
    expect(seen?.headers['x-omnihub-server']).toBe('code');
    expect(seen?.headers.authorization).toBeUndefined();
  });

  it('denied: 403 for a server the policy refuses, an unknown or disabled one, and the backend is not reached', async () => {
    const before = received.length;
    for (const path of [
      '/mcp/etl',
      '/mcp/database',
      '/mcp/nope',
      '/mcp/retired',
      '/mcp/code/../etl',
      '/mcp/%65tl',
      '/MCP/etl',
    ]) {
      const res = await send(port, 'POST', path, as(developerKey));
      expect(res.status, path).toBe(403);
    }
    expect(received.length).toBe(before);
    const audited = f.audit.events.filter((e) => e.action === 'forward_auth');
    expect(
      audited.some((e) => e.server === 'database' && e.decision?.rule === 'role developer, deny[0]'),
    ).toBe(true);
  });

  it('route-level rules: the aggregated /mcp, MCP methods, other paths', async () => {
    expect((await send(port, 'POST', '/mcp', as(developerKey))).status).toBe(200);
    expect((await send(port, 'GET', '/mcp/code', as(developerKey))).status).toBe(200);
    expect((await send(port, 'DELETE', '/mcp/code', as(developerKey))).status).toBe(200);
    expect((await send(port, 'PUT', '/mcp/code', as(developerKey))).status).toBe(403);
    expect((await send(port, 'GET', '/docs/index.html', as(developerKey))).status).toBe(200);
    expect((await send(port, 'GET', '/docs/index.html')).status).toBe(401);
  });

  it('a pinned server (?server=) and a required role (?role=) on the verify URL', async () => {
    expect((await send(port, 'GET', '/direct-etl/anything', as(developerKey))).status).toBe(403);
    expect((await send(port, 'GET', '/direct-etl/anything', as(adminKey))).status).toBe(200);
    expect(received.at(-1)?.headers['x-omnihub-server']).toBe('etl');
    expect((await send(port, 'GET', '/console/', as(developerKey))).status).toBe(403);
    expect((await send(port, 'GET', '/console/', as(adminKey))).status).toBe(200);
    expect(received.at(-1)?.headers['x-omnihub-roles']).toBe('admin');
  });

  it('a revoked key is refused on the next request', async () => {
    const { key, record } = await f.auth.apiKeys.create({
      userId: (await f.store.users.getByEmail('dev@example.test'))?.id as string,
      name: 'short-lived',
    });
    expect((await send(port, 'GET', '/mcp/code', as(key))).status).toBe(200);
    await f.auth.apiKeys.revoke(record.id);
    expect((await send(port, 'GET', '/mcp/code', as(key))).status).toBe(401);
  });
});
