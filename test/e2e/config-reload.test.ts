/**
 * Rate limits, alert webhooks and identity providers follow the store like servers and roles: a config
 * applied to the database of a running hub (what `omnihub apply -f` does) takes effect without a
 * restart, and `--prune` clears them again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Principal } from '../../src/auth/principal.ts';
import { applyConfig } from '../../src/config/apply.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { RunningHub } from '../../src/server/start.ts';
import { eventually, startTestHub } from '../helpers/hub.ts';
import { freePort } from '../helpers/processes.ts';

const alice: Principal = { id: 'user:alice', roles: ['developer'], method: 'jwt' };
let hub: RunningHub;
let receiver: Server;
let receiverUrl: string;
const alerts: { server: string; state: string }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      alerts.push(JSON.parse(body) as { server: string; state: string });
      res.end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/alerts`;
  hub = await startTestHub({ servers: {} });
}, 60_000);

afterAll(async () => {
  await hub?.stop();
  await new Promise((resolve) => receiver?.close(resolve));
});

it('applies rate limits and alerts from a config change, and clears them with prune', async () => {
  expect(hub.limiter.backend).toBe('off');
  expect(hub.limiter.check(alice)).toBe(0);

  // Nothing listens on this port: the server is down from its start, which is news for the webhook.
  const unreachable = `http://127.0.0.1:${await freePort()}/mcp`;
  await applyConfig(
    hub.store,
    parseConfig({
      servers: { gone: { transport: 'http', url: unreachable, health_check: { interval_ms: 200 } } },
      rate_limits: { default: { rate: 1, per: '1h' } },
      alerts: { settle_ms: 0, cooldown_ms: 0, retries: 0, webhooks: [{ url: receiverUrl }] },
    }),
  );
  await eventually(() => expect(hub.limiter.backend).toBe('memory'));
  expect(hub.limiter.check(alice)).toBe(0);
  expect(hub.limiter.check(alice)).toBeGreaterThan(0);
  await eventually(() =>
    expect(alerts).toContainEqual(expect.objectContaining({ server: 'gone', state: 'down' })),
  );

  await applyConfig(hub.store, parseConfig({}), { prune: true });
  await eventually(() => expect(hub.limiter.backend).toBe('off'));
  expect(hub.limiter.check(alice)).toBe(0);
});

it('accepts tokens of an identity provider applied to the store, and refuses them once it is pruned', async () => {
  const issuer = 'https://sso.example.test/realms/acme';
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  try {
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: 'u-1', groups: ['devs'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience('omnihub')
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(privateKey);
    const mcp = () =>
      fetch(`${hub.url}/mcp`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const metadata = async () =>
      (await (await fetch(`${hub.url}/.well-known/oauth-protected-resource/mcp`)).json()) as {
        authorization_servers?: string[];
      };
    const accepted = async () => {
      const principal = await hub.auth.authenticator.authenticate({ authorization: `Bearer ${token}` });
      return principal.id;
    };

    expect((await mcp()).status).toBe(401);
    await expect(accepted()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

    await applyConfig(
      hub.store,
      parseConfig({
        identity_providers: [
          { name: 'acme', issuer, jwks_url: jwksUrl, audience: 'omnihub', role_map: { devs: 'developer' } },
        ],
      }),
    );
    await eventually(async () => expect(await accepted()).toBe('idp:acme:u-1'));
    expect((await mcp()).status).not.toBe(401);
    expect((await metadata()).authorization_servers).toEqual([issuer]);

    await applyConfig(hub.store, parseConfig({}), { prune: true });
    await eventually(() => expect(accepted()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' }));
    expect((await mcp()).status).toBe(401);
    expect((await metadata()).authorization_servers).toBeUndefined();
  } finally {
    await new Promise((resolve) => jwks.close(resolve));
  }
});
