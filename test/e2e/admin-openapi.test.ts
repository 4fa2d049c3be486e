/**
 * The OpenAPI document stays true: every /api/v1 route the admin, audit, sign-in and health plugins
 * register is in it (and nothing else), and every `$ref` resolves. The plugins are registered here as
 * startHub does: a plugin left out of this app would be left out of the comparison too.
 */
import Fastify, { type FastifyRequest } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../src/admin/plugin.ts';
import { type AdminFixture, adminFixture } from '../../src/admin/test-fixture.ts';
import { auditApi } from '../../src/audit/openapi.ts';
import { auditRoutes } from '../../src/audit/routes.ts';
import { authApi } from '../../src/auth/openapi.ts';
import { healthApi } from '../../src/health/openapi.ts';
import { createHealthServices, type HealthServices } from '../../src/health/services.ts';
import { compilePolicy } from '../../src/policy/index.ts';
import { backends } from '../../src/store/test-backends.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';
import { startTestHub } from '../helpers/hub.ts';

const pglite = backends.find((b) => b.kind === 'pglite');
if (!pglite) throw new Error('PGlite backend missing');

describe('OpenAPI document', () => {
  let f: AdminFixture;
  let health: HealthServices;
  const registered = new Set<string>();
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    components: { schemas: Record<string, unknown> };
  };

  beforeAll(async () => {
    f = await adminFixture(pglite);
    // A second app with the admin, audit, sign-in and health plugins, recording every route they register.
    const app = Fastify();
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const m of methods)
        if (m !== 'HEAD' && route.url.startsWith('/api/v1')) registered.add(`${m} ${route.url}`);
    });
    const authenticate = (req: FastifyRequest) => f.auth.authenticator.authenticate(req.headers);
    await app.register(adminRoutes, {
      store: f.store,
      authenticate,
      apiKeys: f.auth.apiKeys,
      policy: () => compilePolicy({}),
      logger: silentLogger,
      documented: [authApi, healthApi, auditApi],
    });
    await app.register(auditRoutes, { audit: { onAppend: () => () => {} }, store: f.store, authenticate });
    await f.auth.routes(app);
    health = createHealthServices({ logger: silentLogger, db: f.store.db, authenticate });
    await health.routes(app);
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
    await app.close();
  });
  afterAll(async () => {
    await health?.close();
    await f?.dispose();
  });

  it('is OpenAPI 3.1 and lists exactly the registered routes', () => {
    expect(doc.openapi).toBe('3.1.0');
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        documented.add(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`);
      }
    }
    expect(registered.size).toBeGreaterThan(20);
    expect([...registered].sort()).toEqual([...documented].sort());
    expect([...documented].filter((r) => r.includes('/api/v1/audit')).sort()).toEqual([
      'GET /api/v1/audit',
      'GET /api/v1/audit/export',
      'GET /api/v1/audit/stream',
      'POST /api/v1/audit/verify',
    ]);
    expect([...documented].filter((r) => r.includes('/api/v1/health')).sort()).toEqual([
      'GET /api/v1/health/events',
      'GET /api/v1/health/servers',
      'GET /api/v1/health/servers/:name',
      'GET /api/v1/health/servers/:name/history',
    ]);
    expect([...documented].filter((r) => r.includes('/api/v1/auth/')).length).toBe(7);
  });

  it('describes the audit filters, cursor and export format', () => {
    type Param = { name: string; schema: { enum?: string[] } };
    const parameters = (path: string): Param[] =>
      (doc.paths[path]?.get as { parameters?: Param[] } | undefined)?.parameters ?? [];
    const names = (path: string) => parameters(path).map((p) => p.name);
    const filters = 'user server tool resource decision outcome type action from to q'.split(' ');
    expect(names('/api/v1/audit')).toEqual(expect.arrayContaining([...filters, 'limit', 'cursor']));
    expect(names('/api/v1/audit/export')).toEqual(expect.arrayContaining([...filters, 'format']));
    expect(names('/api/v1/audit/stream')).toEqual(expect.arrayContaining([...filters, 'Last-Event-ID']));
    const format = parameters('/api/v1/audit/export').find((p) => p.name === 'format');
    expect(format?.schema.enum).toEqual(['jsonl', 'csv']);
  });

  it('has unique operation ids, success and error responses, and resolvable references', () => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const statuses = Object.keys(op.responses);
        expect(
          statuses.some((s) => s.startsWith('2')),
          `${method} ${path}`,
        ).toBe(true);
        if (path !== '/api/v1/openapi.json') expect(statuses).toContain('401');
      }
    }
    const refs = JSON.stringify(doc).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) {
      const name = ref.slice('"#/components/schemas/'.length, -1);
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
  });

  it('is the document a running hub serves', async () => {
    const hub = await startTestHub({ servers: {} });
    try {
      const res = await fetch(`${hub.url}/api/v1/openapi.json`);
      expect((await res.json()).paths).toEqual(doc.paths);
    } finally {
      await hub.stop();
    }
  });

  it('is the same document when served next to the auth routes', async () => {
    // The fixture's admin plugin documents no other section, so its document leaves them out.
    const res = await f.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const others = /^\/api\/v1\/(audit|auth|health)\b/;
    const adminOnly = Object.entries(doc.paths).filter(([path]) => !others.test(path));
    expect(res.json().paths).toEqual(Object.fromEntries(adminOnly));
  });
});
