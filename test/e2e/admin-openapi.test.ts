/**
 * The OpenAPI document stays true: every /api/v1 route the admin plugin registers is in it (and
 * nothing else), and every `$ref` resolves.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminRoutes } from '../../src/admin/plugin.ts';
import { type AdminFixture, adminFixture } from '../../src/admin/test-fixture.ts';
import { compilePolicy } from '../../src/policy/index.ts';
import { backends } from '../../src/store/test-backends.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';

const pglite = backends.find((b) => b.kind === 'pglite');
if (!pglite) throw new Error('PGlite backend missing');

describe('OpenAPI document', () => {
  let f: AdminFixture;
  const registered = new Set<string>();
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    components: { schemas: Record<string, unknown> };
  };

  beforeAll(async () => {
    f = await adminFixture(pglite);
    // A second app with only the admin plugin, recording every route it registers.
    const app = Fastify();
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const m of methods)
        if (m !== 'HEAD' && route.url.startsWith('/api/v1')) registered.add(`${m} ${route.url}`);
    });
    await app.register(adminRoutes, {
      store: f.store,
      authenticate: (req) => f.auth.authenticator.authenticate(req.headers),
      apiKeys: f.auth.apiKeys,
      policy: () => compilePolicy({}),
      logger: silentLogger,
    });
    await app.ready();
    const res = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
    await app.close();
  });
  afterAll(async () => {
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

  it('is the same document when served next to the auth routes', async () => {
    const res = await f.app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(res.json().paths).toEqual(doc.paths);
  });
});
