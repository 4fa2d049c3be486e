/**
 * The JWT attack vectors of RFC 8725 and the issue, each sent to the real `/api/v1/auth/me` route:
 * every one gets 401 with the RFC 9728 challenge, and nothing in the database changes.
 */

import Fastify, { type FastifyInstance } from 'fastify';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '../store/test-backends.ts';
import { type AuthFixture, authFixture, bearer, createUser, PUBLIC_URL } from './test-support.ts';

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe.each(backends)('hub JWT attack vectors on $kind', (backend) => {
  let f: AuthFixture;
  let app: FastifyInstance;
  let userId: string;
  let good: { access_token: string; refresh_token: string };
  let snapshot: string;

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: JWTPayload = {}): JWTPayload => ({
    iss: PUBLIC_URL,
    aud: PUBLIC_URL,
    sub: userId,
    sid: '00000000-0000-4000-8000-000000000001',
    jti: 'j1',
    token_use: 'access',
    iat: now(),
    nbf: now(),
    exp: now() + 300,
    ...over,
  });
  /** Signed with the hub's real active key: only the named defect is wrong. */
  const signed = (payload: JWTPayload, header: Record<string, unknown> = {}) => {
    const { kid, alg, privateKey } = f.auth.keyRing.active;
    return new SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'at+jwt', ...header }).sign(privateKey);
  };
  const me = (headers: Record<string, string>) =>
    app.inject({ method: 'GET', url: '/api/v1/auth/me', headers });

  async function state(): Promise<string> {
    const [keys, refresh, users, apiKeys] = await Promise.all([
      f.store.db.selectFrom('signing_keys').select(['kid', 'state']).orderBy('kid').execute(),
      f.store.db.selectFrom('refresh_tokens').select(['id', 'used_at', 'revoked_at']).orderBy('id').execute(),
      f.store.db.selectFrom('users').select(['id', 'enabled']).orderBy('id').execute(),
      f.store.db.selectFrom('api_keys').select(['id', 'revoked_at']).orderBy('id').execute(),
    ]);
    return JSON.stringify({ keys, refresh, users, apiKeys });
  }

  async function expect401(token: string): Promise<void> {
    const res = await me(bearer(token));
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toContain(
      `resource_metadata="${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp"`,
    );
    expect(res.json()).toEqual({
      error: { code: 'UNAUTHENTICATED', message: 'Invalid or expired credentials' },
    });
  }

  beforeAll(async () => {
    f = await authFixture(backend);
    userId = await createUser(f.store, f.auth, 'dev@example.com', ['developer']);
    good = await f.auth.tokens.issue(userId);
    app = Fastify();
    await f.auth.routes(app);
    await app.ready();
    snapshot = await state();
  });
  afterAll(async () => {
    await app.close();
    await f.dispose();
  });

  it('accepts the genuine token (the baseline the attacks are measured against)', async () => {
    const res = await me(bearer(good.access_token));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ user_id: userId, roles: ['developer'], method: 'jwt' });
  });

  it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg %s', async (alg) => {
    const { kid } = f.auth.keyRing.active;
    await expect401(`${b64({ alg, kid, typ: 'at+jwt' })}.${b64(claims())}.`);
    // With the genuine signature left on, too.
    const sig = good.access_token.split('.')[2];
    await expect401(`${b64({ alg, kid, typ: 'at+jwt' })}.${b64(claims())}.${sig}`);
  });

  it('refuses HS256 signed with the public key (algorithm confusion)', async () => {
    const { kid } = f.auth.keyRing.active;
    const publicJwk = f.auth.keyRing.jwks().keys.find((k) => k.kid === kid);
    const secrets = [
      new TextEncoder().encode(JSON.stringify(publicJwk)),
      Buffer.from(publicJwk?.x ?? '', 'base64url'),
      new TextEncoder().encode(publicJwk?.x ?? ''),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', kid, typ: 'at+jwt' })
        .sign(secret);
      await expect401(token);
    }
  });

  it('refuses a wrong audience and a wrong issuer', async () => {
    await expect401(await signed(claims({ aud: 'https://other.example' })));
    await expect401(await signed(claims({ aud: [`${PUBLIC_URL}/elsewhere`] })));
    await expect401(await signed(claims({ iss: 'https://evil.example' })));
    await expect401(await signed(claims({ iss: `${PUBLIC_URL}/` })));
  });

  it('refuses expired, not-yet-valid and exp-less tokens', async () => {
    await expect401(await signed(claims({ iat: now() - 3600, nbf: now() - 3600, exp: now() - 600 })));
    await expect401(await signed(claims({ nbf: now() + 600 })));
    const { exp: _exp, ...noExp } = claims();
    await expect401(await signed(noExp));
    // Far-future exp on an old token: maxTokenAge still bounds it.
    await expect401(await signed(claims({ iat: now() - 7200, nbf: now() - 7200, exp: now() + 3600 })));
  });

  it('refuses unknown kids, kids with path or SQL characters, and a missing kid', async () => {
    const { alg, privateKey } = f.auth.keyRing.active;
    for (const kid of ['unknownkid123', '../../../../etc/passwd', "x' OR '1'='1", 'a/b', '%2e%2e%2f', '']) {
      await expect401(
        await new SignJWT(claims()).setProtectedHeader({ alg, kid, typ: 'at+jwt' }).sign(privateKey),
      );
    }
    await expect401(await new SignJWT(claims()).setProtectedHeader({ alg, typ: 'at+jwt' }).sign(privateKey));
  });

  it('refuses jku, x5u and embedded jwk headers, even with a genuine signature', async () => {
    await expect401(await signed(claims(), { jku: 'https://evil.example/jwks.json' }));
    await expect401(await signed(claims(), { x5u: 'https://evil.example/cert.pem' }));
    // An attacker's own key, announced in the header.
    const attacker = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(attacker.publicKey);
    for (const header of [{ jwk }, { jku: 'https://evil.example/jwks.json' }]) {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'EdDSA', kid: 'attackerkey01', typ: 'at+jwt', ...header })
        .sign(attacker.privateKey);
      await expect401(token);
    }
    // The attacker's key under the hub's kid.
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'EdDSA', kid: f.auth.keyRing.active.kid, typ: 'at+jwt' })
      .sign(attacker.privateKey);
    await expect401(token);
  });

  it('refuses a wrong type or token use (ID tokens, refresh tokens)', async () => {
    await expect401(await signed(claims(), { typ: 'JWT' }));
    await expect401(await signed(claims({ token_use: 'refresh' })));
    await expect401(await signed(claims({ token_use: undefined })));
    await expect401(good.refresh_token);
  });

  it('refuses a tampered payload', async () => {
    const [h, , s] = good.access_token.split('.');
    await expect401(`${h}.${b64(claims({ sub: '00000000-0000-4000-8000-000000000009' }))}.${s}`);
  });

  it('changed nothing while refusing all of the above', async () => {
    expect(await state()).toBe(snapshot);
    expect((await me(bearer(good.access_token))).statusCode).toBe(200);
  });

  it('keeps verifying a retired key’s tokens after rotation, and stops once the key is disabled', async () => {
    const oldKid = f.auth.keyRing.active.kid;
    const before = good.access_token;
    const newKid = await f.auth.keyRing.rotate();
    expect(newKid).not.toBe(oldKid);
    expect(
      f.auth.keyRing
        .jwks()
        .keys.map((k) => k.kid)
        .sort(),
    ).toEqual([oldKid, newKid].sort());
    expect((await me(bearer(before))).statusCode).toBe(200);
    const fresh = await f.auth.tokens.issue(userId);
    expect(
      JSON.parse(Buffer.from(fresh.access_token.split('.')[0] as string, 'base64url').toString()).kid,
    ).toBe(newKid);
    expect((await me(bearer(fresh.access_token))).statusCode).toBe(200);

    expect(await f.auth.keyRing.setState(newKid, 'disabled')).toBe(false); // the active key cannot be
    expect(await f.auth.keyRing.setState(oldKid, 'disabled')).toBe(true);
    await expect401(before);
    expect(f.auth.keyRing.jwks().keys.map((k) => k.kid)).toEqual([newKid]);
    expect((await me(bearer(fresh.access_token))).statusCode).toBe(200);
  });

  it('refuses the tokens of a disabled user on the next request', async () => {
    const pair = await f.auth.tokens.issue(userId);
    expect((await me(bearer(pair.access_token))).statusCode).toBe(200);
    await f.store.users.upsert({ email: 'dev@example.com', enabled: false });
    await f.auth.users.load();
    await expect401(pair.access_token);
    await f.store.users.upsert({ email: 'dev@example.com', enabled: true });
    await f.auth.users.load();
  });

  it('publishes only public keys at /.well-known/jwks.json', async () => {
    const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(res.statusCode).toBe(200);
    const { keys } = res.json() as { keys: Record<string, unknown>[] };
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).toMatchObject({
        use: 'sig',
        kid: expect.any(String),
        alg: expect.stringMatching(/^(EdDSA|ES256)$/),
      });
      expect(key).not.toHaveProperty('d');
    }
  });
});
