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
