/**
 * Authentication through a real running hub over HTTP: sign-in, the MCP endpoint with a hub token and
 * with an API key, revocation and logout taking effect on the next request, and the discovery
 * documents MCP clients read after a 401.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { ADMIN, startTestHub } from '../helpers/hub.ts';

let hub: RunningHub;

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'auth-e2e', version: '1' } },
};

function mcp(token?: string): Promise<Response> {
  return fetch(`${hub.url}/mcp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(initialize),
  });
}

async function post(path: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${hub.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  hub = await startTestHub({ servers: {} });
}, 60_000);
afterAll(async () => {
  await hub?.stop();
});

describe('authentication through a running hub', () => {
  it('answers an anonymous MCP request with 401 and a discovery challenge that resolves', async () => {
    const res = await mcp();
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    const url = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(url).toBeDefined();
    // The test hub listens on a random port, so its public URL (port 0) is not where it listens.
    const metadata = await fetch(`${hub.url}${new URL(url as string).pathname}`);
    expect(metadata.status).toBe(200);
    expect(await metadata.json()).toMatchObject({ bearer_methods_supported: ['header'] });
    const scoped = await (await fetch(`${hub.url}/.well-known/oauth-protected-resource/mcp`)).json();
    expect(scoped).toMatchObject({ resource: expect.stringMatching(/\/mcp$/) });
  });

  it('signs in, uses the access token on /mcp, refreshes, and logs out', async () => {
    const login = await post('/api/v1/auth/login', { email: ADMIN.email, password: ADMIN.password });
    expect(login.status).toBe(200);
    const pair = (await login.json()) as { access_token: string; refresh_token: string };
    expect((await mcp(pair.access_token)).status).toBe(200);
    // The refresh token is not an access token.
    expect((await mcp(pair.refresh_token)).status).toBe(401);

    const refreshed = (await (
      await post('/api/v1/auth/refresh', { refresh_token: pair.refresh_token })
    ).json()) as {
      access_token: string;
      refresh_token: string;
    };
    expect((await mcp(refreshed.access_token)).status).toBe(200);

    expect((await post('/api/v1/auth/logout', {}, refreshed.access_token)).status).toBe(204);
    expect((await mcp(refreshed.access_token)).status).toBe(401);
    expect((await mcp(pair.access_token)).status).toBe(401);
    expect((await post('/api/v1/auth/refresh', { refresh_token: refreshed.refresh_token })).status).toBe(401);
  });

  it('accepts an API key on /mcp until it is revoked', async () => {
    const admin = await hub.store.users.getByEmail(ADMIN.email);
    const { key, record } = await hub.auth.apiKeys.create({ userId: admin?.id as string, name: 'e2e' });
    expect((await mcp(key)).status).toBe(200);
    await hub.auth.apiKeys.revoke(record.id);
    const res = await mcp(key);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  it('publishes the JWKS the access tokens verify against', async () => {
    const { keys } = (await (await fetch(`${hub.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    const login = await post('/api/v1/auth/login', { email: ADMIN.email, password: ADMIN.password });
    const { access_token } = (await login.json()) as { access_token: string };
    const header = JSON.parse(Buffer.from(access_token.split('.')[0] as string, 'base64url').toString()) as {
      kid: string;
    };
    expect(keys.map((k) => k.kid)).toContain(header.kid);
  });
});
