/**
 * Single sign-on: an identity provider played by a real local HTTP server publishing its JWKS. The
 * hub verifies the provider's tokens against it (issuer, audience, algorithms pinned) and maps the
 * groups claim to roles.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthFixture, authFixture, bearer, PUBLIC_URL } from '../../src/auth/test-support.ts';
import { type IdentityProviderConfig, identityProviderSchema } from '../../src/config/schema.ts';
import { HubError } from '../../src/server/errors.ts';
import { backends } from '../../src/store/test-backends.ts';

const ISSUER = 'https://idp.example.test/realms/acme';

describe('SSO with an external identity provider (real JWKS server)', () => {
  let server: Server;
  let jwksUrl: string;
  let jwksHits = 0;
  let keys: { kid: string; privateKey: CryptoKey; publicJwk: Record<string, unknown> }[] = [];
  let f: AuthFixture;
  let provider: IdentityProviderConfig;

  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: JWTPayload = {}): JWTPayload => ({
    iss: ISSUER,
    aud: 'omnihub',
    sub: 'u-123',
    email: 'Carol@Example.com',
    realm_access: { roles: ['devs', 'unmapped'] },
    iat: now(),
    exp: now() + 300,
    ...over,
  });
  const sign = (payload: JWTPayload, key = keys[0], alg = 'RS256') =>
    new SignJWT(payload)
      .setProtectedHeader({ alg, kid: key?.kid as string, typ: 'JWT' })
      .sign(key?.privateKey as CryptoKey);

  async function newKey(kid: string, alg = 'RS256') {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  }

  async function rejected(token: string): Promise<void> {
    const err = await f.auth.authenticator.authenticate(bearer(token)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe('UNAUTHENTICATED');
  }

  beforeAll(async () => {
    keys = [await newKey('idp-key-1')];
    server = createServer((req, res) => {
      if (req.url === '/jwks') {
        jwksHits += 1;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
    provider = identityProviderSchema.parse({
      name: 'acme',
      issuer: ISSUER,
      jwks_url: jwksUrl,
      audience: 'omnihub',
      roles_claim: 'realm_access.roles',
      role_map: { devs: ['developer'], admins: 'admin' },
      default_roles: ['customer'],
      algorithms: ['RS256'],
    });
    f = await authFixture(backends[0] as (typeof backends)[number], {
      config: { identity_providers: [provider] },
      // The default 30 s between kid-miss refetches would make the rotation test wait.
      identityProviderOptions: { jwksCooldownMs: 0 },
    });
  });
  afterAll(async () => {
    await f?.dispose();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('accepts a provider token and maps its groups to roles', async () => {
    const principal = await f.auth.authenticator.authenticate(bearer(await sign(claims())));
    expect(principal).toEqual({
      id: 'idp:acme:u-123',
      email: 'carol@example.com',
      roles: ['customer', 'developer'],
      method: 'idp',
    });
    expect(jwksHits).toBe(1);
  });

  it('refuses a wrong audience, an expired token, a missing sub, and a disallowed algorithm', async () => {
    await rejected(await sign(claims({ aud: 'someone-else' })));
    await rejected(await sign(claims({ exp: now() - 600, iat: now() - 900 })));
    await rejected(await sign(claims({ sub: undefined })));
    const ps = await newKey('idp-key-ps', 'PS256');
    keys.push(ps);
    await rejected(await sign(claims(), ps, 'PS256'));
  });

  it('refuses a token signed by a key the provider does not publish, and alg none', async () => {
    const stranger = await newKey('idp-key-1'); // same kid, other key
    await rejected(await sign(claims(), stranger));
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    await rejected(`${b64({ alg: 'none', kid: 'idp-key-1' })}.${b64(claims())}.`);
  });

  it('picks up a rotated provider key from its JWKS', async () => {
    const next = await newKey('idp-key-2');
    keys.push(next);
    // An unknown kid makes the hub refetch the provider's JWKS (at most once per cooldown).
    const principal = await f.auth.authenticator.authenticate(
      bearer(await sign(claims({ sub: 'u-9' }), next)),
    );
    expect(principal.id).toBe('idp:acme:u-9');
  });

  it('refuses tokens of an issuer that is not configured, and a hub-issuer token the hub did not sign', async () => {
    await rejected(await sign(claims({ iss: 'https://other-idp.example' })));
    await rejected(await sign(claims({ iss: PUBLIC_URL, aud: PUBLIC_URL })));
  });

  it('lists the provider as an authorization server in the RFC 9728 metadata', async () => {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    await f.auth.routes(app);
    const res = await app.inject({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp' });
    expect(res.json()).toMatchObject({ resource: `${PUBLIC_URL}/mcp`, authorization_servers: [ISSUER] });
    await app.close();
  });

  it('keeps the cached keys of a provider whose settings did not change when the list changes', async () => {
    await f.auth.authenticator.authenticate(bearer(await sign(claims({ sub: 'u-cached' }))));
    const hits = jwksHits;
    const other = identityProviderSchema.parse({
      name: 'other',
      issuer: 'https://other.example.test',
      jwks_url: jwksUrl,
      audience: 'omnihub',
    });
    f.auth.setIdentityProviders([provider, other]);
    const principal = await f.auth.authenticator.authenticate(bearer(await sign(claims({ sub: 'u-kept' }))));
    expect(principal.id).toBe('idp:acme:u-kept');
    expect(jwksHits).toBe(hits);
  });

  it('applies a changed role_map to tokens it has already verified', async () => {
    const token = await sign(claims({ sub: 'u-remap' }));
    expect((await f.auth.authenticator.authenticate(bearer(token))).roles).toEqual(['customer', 'developer']);
    f.auth.setIdentityProviders([{ ...provider, role_map: { devs: 'analyst' }, default_roles: [] }]);
    expect((await f.auth.authenticator.authenticate(bearer(token))).roles).toEqual(['analyst']);
  });

  it('refuses provider tokens once the provider is removed from the config', async () => {
    const token = await sign(claims({ sub: 'u-removed' }));
    await f.auth.authenticator.authenticate(bearer(token));
    f.auth.setIdentityProviders([]);
    await rejected(await sign(claims({ sub: 'u-other' })));
  });
});
