import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditInput } from '../audit/types.ts';
import type { Principal } from '../auth/principal.ts';
import { compilePolicy } from '../policy/index.ts';
import { HubError } from './errors.ts';
import { forwardAuth, forwardedPath, targetOf } from './forward-auth.ts';

describe('forwarded paths', () => {
  it('normalises like a backend would', () => {
    expect(forwardedPath('/mcp/code?x=1')).toBe('/mcp/code');
    expect(forwardedPath('/mcp/code/../etl')).toBe('/mcp/etl');
    expect(forwardedPath('/mcp/code/%2e%2e/etl')).toBe('/mcp/etl');
    expect(forwardedPath('//mcp///etl')).toBe('/mcp/etl');
    expect(forwardedPath('mcp/etl')).toBe('/mcp/etl');
    expect(forwardedPath('')).toBeUndefined();
    expect(forwardedPath(`/${'a'.repeat(9000)}`)).toBeUndefined();
  });

  it('maps paths to targets, decoding the server name', () => {
    expect(targetOf('/mcp')).toEqual({ kind: 'mcp' });
    expect(targetOf('/mcp/')).toEqual({ kind: 'mcp' });
    expect(targetOf('/mcp/code')).toEqual({ kind: 'server', server: 'code' });
    expect(targetOf('/MCP/code/extra')).toEqual({ kind: 'server', server: 'code' });
    expect(targetOf('/mcp/a%2Fb')).toEqual({ kind: 'server', server: 'a/b' });
    expect(targetOf('/mcp/%E0%A4%A')).toEqual({ kind: 'server', server: '%E0%A4%A' });
    expect(targetOf('/api/v1/users')).toEqual({ kind: 'other' });
  });
});

describe('GET /auth/verify', () => {
  let app: FastifyInstance;
  const audited: AuditInput[] = [];
  const people: Record<string, Principal> = {
    dev: {
      id: 'user:1',
      userId: '1',
      email: 'dev@example.test',
      roles: ['dev', 'odd,name'],
      method: 'api_key',
    },
    idp: { id: 'idp:corp:Zoë', roles: ['dev'], method: 'idp' },
  };

  beforeAll(async () => {
    app = Fastify();
    await app.register(forwardAuth, {
      authenticate: async (req) => {
        const who = req.headers.authorization?.replace('Bearer ', '');
        if (who === 'boom') throw new Error('database on fire');
        const principal = who ? people[who] : undefined;
        if (!principal) throw new HubError('UNAUTHENTICATED', 'Authentication required');
        return principal;
      },
      policy: () => compilePolicy({ dev: { allow: [{ server: 'code', tools: '*' }], deny: [] } }),
      isServerEnabled: (name) => name === 'code' || name === 'etl',
      audit: { record: (e) => audited.push(e) },
    });
  });
  afterAll(() => app.close());

  const verify = (who: string | undefined, headers: Record<string, string> = {}, query = '') =>
    app.inject({
      method: 'GET',
      url: `/auth/verify${query}`,
      headers: { ...(who ? { authorization: `Bearer ${who}` } : {}), ...headers },
    });

  it('fails closed with a plain 401 when authentication breaks unexpectedly', async () => {
    const res = await verify('boom', { 'x-forwarded-uri': '/mcp/code' });
    expect(res.statusCode).toBe(401);
    expect(res.body).not.toContain('fire');
    expect(res.headers['www-authenticate']).toBe('Bearer realm="omnihub"');
  });

  it('refuses malformed forwarded headers and parameters', async () => {
    expect((await verify('dev', { 'x-forwarded-method': 'GET\tX', 'x-forwarded-uri': '/' })).statusCode).toBe(
      403,
    );
    expect((await verify('dev', { 'x-forwarded-uri': `/${'a'.repeat(9000)}` })).statusCode).toBe(403);
    expect((await verify('dev', { 'x-forwarded-uri': '/' }, '?role=a%0Ab')).statusCode).toBe(403);
    expect((await verify('dev', { 'x-forwarded-uri': '/mcp/a%2Fb' })).statusCode).toBe(403);
  });

  it('encodes header values that are not plain visible ASCII', async () => {
    const dev = await verify('dev', { 'x-forwarded-uri': '/mcp/code' });
    expect(dev.statusCode).toBe(200);
    expect(dev.headers['x-omnihub-roles']).toBe('dev,odd%2Cname');
    expect(dev.headers['x-omnihub-auth-method']).toBe('api_key');
    const idp = await verify('idp', { 'x-forwarded-uri': '/mcp/code' });
    expect(idp.headers['x-omnihub-user']).toBe(encodeURIComponent('idp:corp:Zoë'));
  });

  it('audits denials with the deciding rule, the host and the URI', async () => {
    audited.length = 0;
    const res = await verify('dev', {
      'x-forwarded-uri': '/mcp/etl',
      'x-forwarded-host': 'hub.example.test',
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.message).toBe('Access to server etl is denied');
    expect(audited).toEqual([
      expect.objectContaining({
        type: 'auth',
        action: 'forward_auth',
        outcome: 'denied',
        server: 'etl',
        target: 'GET hub.example.test/mcp/etl',
        decision: expect.objectContaining({ allow: false, rule: 'default deny' }),
      }),
    ]);
  });
});
