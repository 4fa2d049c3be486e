import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AuditInput } from '../audit/types.ts';
import { backends } from '../store/test-backends.ts';
import { dummyHash, verifyPassword } from './passwords.ts';
import { type AuthFixture, authFixture, bearer, createUser, PUBLIC_URL } from './test-support.ts';

const PASSWORD = 'correct horse battery staple';

describe.each(backends)('auth routes on $kind', (backend) => {
  let f: AuthFixture;
  let app: FastifyInstance;
  let userId: string;
  const verified: string[] = [];
  const events: AuditInput[] = [];
  let clientIp = 1;

  const post = (url: string, body: unknown, headers: Record<string, string> = {}, ip = '10.0.0.1') =>
    app.inject({ method: 'POST', url, payload: body as object, headers, remoteAddress: ip });
  const login = (email: string, password: string, ip = '10.0.0.1') =>
    post('/api/v1/auth/login', { email, password }, {}, ip);
  const me = (token: string) => app.inject({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) });
  /** A fresh client address per test, so the per-address budget of one test does not leak into another. */
  const nextIp = () => `10.1.0.${clientIp++}`;

  beforeAll(async () => {
    f = await authFixture(backend, {
      audit: { record: (e) => events.push(e) },
      loginLimits: { perAccount: { max: 3, windowMs: 60_000 }, perClient: { max: 8, windowMs: 60_000 } },
      verifyPassword: async (hash, password) => {
        verified.push(hash);
        return verifyPassword(hash, password);
      },
    });
    userId = await createUser(f.store, f.auth, 'Dev@Example.com', ['developer'], PASSWORD);
    await createUser(f.store, f.auth, 'off@example.com', [], PASSWORD);
    await f.store.users.upsert({ email: 'off@example.com', enabled: false });
    await f.auth.users.load();
    app = Fastify();
    await f.auth.routes(app);
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await f.dispose();
  });
  beforeEach(() => {
    verified.length = 0;
    events.length = 0;
  });

  it('signs in with email (any case) and password, and /me tells who it is', async () => {
    const res = await login('DEV@example.com', PASSWORD, nextIp());
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'token_type']);
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const who = await me(body.access_token as string);
    expect(who.json()).toEqual({
      id: `user:${userId}`,
      user_id: userId,
      email: 'dev@example.com',
      roles: ['developer'],
      method: 'jwt',
      key_id: null,
      scopes: null,
    });
    expect(events).toMatchObject([{ type: 'auth', action: 'login', outcome: 'ok', actor: { userId } }]);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });

  it('gives unknown, disabled and wrong-password sign-ins the same answer, after the same argon2 check', async () => {
    const dummy = await dummyHash();
    const answers: unknown[] = [];
    for (const [email, password] of [
      ['nobody@example.com', PASSWORD],
      ['off@example.com', PASSWORD],
      ['dev@example.com', 'wrong password'],
    ] as const) {
      verified.length = 0;
      const res = await login(email, password, nextIp());
      expect(res.statusCode).toBe(401);
      answers.push(res.json());
      expect(verified).toHaveLength(1);
      expect(verified[0] === dummy).toBe(email !== 'dev@example.com');
    }
    expect(new Set(answers.map((a) => JSON.stringify(a))).size).toBe(1);
    expect(answers[0]).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'Invalid email or password' } });
    expect(events.map((e) => e.action)).toEqual(['login_failed', 'login_failed', 'login_failed']);
    expect(JSON.stringify(events)).not.toContain(PASSWORD);
  });

  it('refuses bad bodies with 400 and checks no password', async () => {
    for (const body of [
      {},
      { email: 'a@b.c' },
      { email: 1, password: 'x' },
      ['x'],
      { email: 'a@b.c', password: 'x'.repeat(2000) },
    ]) {
      const res = await post('/api/v1/auth/login', body, {}, nextIp());
      expect(res.statusCode).toBe(400);
    }
    const raw = await app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: '{"email":',
      headers: { 'content-type': 'application/json' },
    });
    expect(raw.statusCode).toBe(400);
    expect(verified).toEqual([]);
  });

  it('blocks an account after repeated failures with 429 and Retry-After, even for the right password', async () => {
    const email = 'blocked@example.com';
    await createUser(f.store, f.auth, email, [], PASSWORD);
    for (let i = 0; i < 3; i++) expect((await login(email, 'nope', nextIp())).statusCode).toBe(401);
    verified.length = 0;
    const blocked = await login(email, PASSWORD, nextIp());
    expect(blocked.statusCode).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    expect(blocked.json()).toMatchObject({
      error: { code: 'RATE_LIMITED', data: { retry_after: expect.any(Number) } },
    });
    expect(verified).toEqual([]); // refused before any password check
    // Unknown accounts are blocked the same way (no enumeration through 429 either).
    for (let i = 0; i < 3; i++) await login('ghost@example.com', 'nope', nextIp());
    expect((await login('ghost@example.com', 'nope', nextIp())).statusCode).toBe(429);
  });

  it('blocks a client address that tries many accounts', async () => {
    const ip = nextIp();
    for (let i = 0; i < 8; i++) expect((await login(`u${i}@example.com`, 'nope', ip)).statusCode).toBe(401);
    const res = await login('someone-else@example.com', 'nope', ip);
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    // Another address is not affected.
    expect((await login('someone-else@example.com', 'nope', nextIp())).statusCode).toBe(401);
  });

  it('rotates refresh tokens, and a reused one revokes the whole session', async () => {
    const first = (await f.auth.tokens.issue(userId)) as { access_token: string; refresh_token: string };
    const r1 = await post('/api/v1/auth/refresh', { refresh_token: first.refresh_token });
    expect(r1.statusCode).toBe(200);
    const second = r1.json() as { access_token: string; refresh_token: string };
    expect(second.refresh_token).not.toBe(first.refresh_token);
    expect((await me(second.access_token)).statusCode).toBe(200);

    // The first token again: a copy is in someone else's hands.
    const reuse = await post('/api/v1/auth/refresh', { refresh_token: first.refresh_token });
    expect(reuse.statusCode).toBe(401);
    expect(reuse.json()).toEqual({
      error: { code: 'UNAUTHENTICATED', message: 'Invalid or expired refresh token' },
    });
    // Everything of that session is dead now: the newest refresh token and the access tokens.
    expect((await post('/api/v1/auth/refresh', { refresh_token: second.refresh_token })).statusCode).toBe(
      401,
    );
    expect((await me(second.access_token)).statusCode).toBe(401);
    expect((await me(first.access_token)).statusCode).toBe(401);
    expect(events.map((e) => [e.action, e.outcome])).toEqual([
      ['token_refresh', 'ok'],
      ['token_refresh', 'denied'],
      ['token_refresh', 'denied'],
    ]);
    // Another session of the same user is untouched.
    const other = await f.auth.tokens.issue(userId);
    expect((await me(other.access_token)).statusCode).toBe(200);
  });

  it('refuses malformed, unknown and access tokens at /refresh', async () => {
    const pair = await f.auth.tokens.issue(userId);
    for (const refresh_token of [
      undefined,
      42,
      'omhrt_short',
      `omhrt_${'A'.repeat(43)}`,
      pair.access_token,
    ]) {
      expect((await post('/api/v1/auth/refresh', { refresh_token })).statusCode).toBe(401);
    }
    expect((await post('/api/v1/auth/refresh', { refresh_token: pair.refresh_token })).statusCode).toBe(200);
  });

  it('logs out: the session’s refresh and access tokens stop working', async () => {
    const pair = await f.auth.tokens.issue(userId);
    const other = await f.auth.tokens.issue(userId);
    const res = await post(
      '/api/v1/auth/logout',
      { refresh_token: pair.refresh_token },
      bearer(pair.access_token),
    );
    expect(res.statusCode).toBe(204);
    expect((await me(pair.access_token)).statusCode).toBe(401);
    expect((await post('/api/v1/auth/refresh', { refresh_token: pair.refresh_token })).statusCode).toBe(401);
    expect((await me(other.access_token)).statusCode).toBe(200);
    expect(events.find((e) => e.action === 'logout')).toMatchObject({ outcome: 'ok', actor: { userId } });
  });

  it('logs out with only the refresh token, and everywhere with all: true', async () => {
    const a = await f.auth.tokens.issue(userId);
    expect((await post('/api/v1/auth/logout', { refresh_token: a.refresh_token })).statusCode).toBe(204);
    expect((await me(a.access_token)).statusCode).toBe(401);

    const b = await f.auth.tokens.issue(userId);
    const c = await f.auth.tokens.issue(userId);
    expect((await post('/api/v1/auth/logout', { all: true }, bearer(b.access_token))).statusCode).toBe(204);
    expect((await me(b.access_token)).statusCode).toBe(401);
    expect((await me(c.access_token)).statusCode).toBe(401);
    expect((await post('/api/v1/auth/refresh', { refresh_token: c.refresh_token })).statusCode).toBe(401);

    expect((await post('/api/v1/auth/logout', {})).statusCode).toBe(401);
    expect((await post('/api/v1/auth/logout', { refresh_token: 'omhrt_nope' })).statusCode).toBe(401);
  });

  it('serves RFC 9728 metadata for the hub, /mcp and /mcp/{server}', async () => {
    const root = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource' });
    expect(root.json()).toEqual({
      resource: PUBLIC_URL,
      bearer_methods_supported: ['header'],
      resource_name: 'omnihub',
    });
    const mcp = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' });
    expect(mcp.json()).toMatchObject({ resource: `${PUBLIC_URL}/mcp`, bearer_methods_supported: ['header'] });
    const one = await app.inject({
      method: 'GET',
      url: '/.well-known/oauth-protected-resource/mcp/database',
    });
    expect(one.json()).toMatchObject({ resource: `${PUBLIC_URL}/mcp/database` });
    const bad = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp/..%2f' });
    expect(bad.statusCode).toBe(404);
  });

  it('lets only administrators list, rotate, retire and disable signing keys', async () => {
    const adminId = await createUser(f.store, f.auth, 'root@example.com', ['admin']);
    const admin = bearer((await f.auth.apiKeys.create({ userId: adminId, name: 'ops' })).key);
    const dev = bearer((await f.auth.apiKeys.create({ userId, name: 'dev' })).key);
    const rotate = (headers: Record<string, string>) =>
      app.inject({ method: 'POST', url: '/api/v1/auth/signing-keys/rotate', headers });

    expect((await rotate(dev)).statusCode).toBe(403);
    expect((await rotate({})).statusCode).toBe(401);
    const before = f.auth.keyRing.active.kid;
    const oldToken = (await f.auth.tokens.issue(userId)).access_token;
    const res = await rotate(admin);
    expect(res.statusCode).toBe(200);
    const body = res.json() as { active: string; items: { kid: string; state: string }[] };
    expect(body.active).not.toBe(before);
    expect(body.items.find((k) => k.kid === before)?.state).toBe('retired');
    expect(events.find((e) => e.action === 'signing_key.rotate')).toMatchObject({
      type: 'admin',
      target: body.active,
    });

    const conflict = await app.inject({
      method: 'POST',
      url: `/api/v1/auth/signing-keys/${body.active}/disable`,
      headers: admin,
    });
    expect(conflict.statusCode).toBe(409);
    for (const url of [
      '/api/v1/auth/signing-keys/nosuchkey00/disable',
      `/api/v1/auth/signing-keys/${before}/delete`,
    ]) {
      expect((await app.inject({ method: 'POST', url, headers: admin })).statusCode).toBe(404);
    }
    expect((await me(oldToken)).statusCode).toBe(200);
    const disabled = await app.inject({
      method: 'POST',
      url: `/api/v1/auth/signing-keys/${before}/disable`,
      headers: admin,
    });
    expect(disabled.statusCode).toBe(200);
    expect((await me(oldToken)).statusCode).toBe(401);
    const list = await app.inject({ method: 'GET', url: '/api/v1/auth/signing-keys', headers: admin });
    expect(JSON.stringify(list.json())).not.toMatch(/"d"|private/);
  });

  it('answers /me without credentials with 401 and the discovery challenge', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/auth/me' });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(
      /^Bearer .*resource_metadata="https:\/\/hub\.example\.test\/\.well-known\/oauth-protected-resource\/mcp"$/,
    );
  });
});
