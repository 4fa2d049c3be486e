import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readEnv } from './env.ts';

describe('readEnv', () => {
  it('has working defaults', () => {
    const env = readEnv({});
    expect(env).toMatchObject({
      port: 8090,
      host: '127.0.0.1',
      dataDir: './data',
      publicUrl: 'http://127.0.0.1:8090',
    });
  });

  it('refuses a bad value and names the variable', () => {
    expect(() => readEnv({ OMNIHUB_PORT: 'eighty' })).toThrow(/OMNIHUB_PORT/);
    expect(() => readEnv({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL/);
  });

  it('every variable it reads is documented in .env.example', () => {
    const source = readFileSync(new URL('./env.ts', import.meta.url), 'utf8');
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const names = [...source.matchAll(/^\s{2}((?:OMNIHUB|DATABASE|REDIS)_[A-Z_]+):/gm)].map((m) => m[1]!);
    expect(names.length).toBeGreaterThan(10);
    for (const name of names) expect(example, name).toContain(name);
  });
});
