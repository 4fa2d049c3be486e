import { describe, expect, it } from 'vitest';
import { loadConfigFile, parseConfig } from './load.ts';

describe('config validation', () => {
  it('loads the demo config', async () => {
    const config = await loadConfigFile('examples/demo.yaml');
    expect(Object.keys(config.servers)).toEqual(['database', 'code', 'etl']);
    expect(config.servers.database).toMatchObject({
      transport: 'stdio',
      replicas: 2,
      resource_argument: 'database',
    });
    expect(Object.keys(config.roles)).toEqual(['admin', 'developer', 'analyst', 'customer']);
  });

  it('refuses a bad config whole, naming the file, the field and why', () => {
    const bad = {
      servers: {
        ok: { transport: 'stdio', command: 'node' },
        nourl: { transport: 'http' },
        badport: { transport: 'tcp' },
        'bad name': { command: 'x' },
      },
      users: [{ email: 'not-an-email', roles: ['ghost'] }],
    };
    let message = '';
    try {
      parseConfig(bad, 'hub.yaml');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('hub.yaml: servers.nourl.url');
    expect(message).toContain('hub.yaml: servers.badport.transport: must be one of stdio, http, sse');
    expect(message).toContain('servers.bad name');
    expect(message).toContain('users.0.email');
  });

  it('keeps every section, identity providers included; refuses a provider listed twice', () => {
    const provider = {
      issuer: 'https://sso.example',
      jwks_url: 'https://sso.example/jwks',
      audience: 'omnihub',
    };
    const config = parseConfig({ identity_providers: [provider], rate_limits: {}, alerts: { webhooks: [] } });
    expect(config.identity_providers).toEqual([
      expect.objectContaining({ ...provider, roles_claim: 'groups' }),
    ]);
    expect(config.rate_limits).toBeDefined();
    expect(config.alerts).toBeDefined();
    expect(() =>
      parseConfig({ identity_providers: [provider, { ...provider, name: 'other' }] }, 'hub.yaml'),
    ).toThrow('hub.yaml: identity_providers.1.issuer: duplicate issuer https://sso.example');
    expect(() =>
      parseConfig({
        identity_providers: [
          { ...provider, name: 'acme' },
          { ...provider, issuer: 'https://other.example', name: 'acme' },
        ],
      }),
    ).toThrow('identity_providers.1.name: duplicate name acme');
  });

  it('refuses unknown fields and unknown roles', () => {
    expect(() => parseConfig({ servers: { a: { command: 'x', comand: 'typo' } } })).toThrow(/comand/);
    expect(() => parseConfig({ users: [{ email: 'a@b.co', roles: ['ghost'] }] })).toThrow(
      /unknown role "ghost"/,
    );
    expect(() => parseConfig({ srevers: {} })).toThrow(/srevers/);
  });

  it('reports an unreadable or invalid YAML file clearly', async () => {
    await expect(loadConfigFile('/nonexistent.yaml')).rejects.toThrow(/Cannot read config file/);
  });
});
