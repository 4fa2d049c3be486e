import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isSecretName, maskCredentials, scrubString, storable } from './redact.ts';

/** Pieces that make, nearly make, or break credential shapes, so random strings hit the patterns. */
const FRAGMENTS = [
  '-----BEGIN PRIVATE KEY-----abc-----END PRIVATE KEY-----',
  'omh_abcdef123456_x',
  'eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl',
  'Bearer abcdefgh12345',
  'basic dXNlcjpwYXNz',
  'postgres://user:pw@host/db',
  'AKIAABCDEFGHIJKLMNOP',
  `ghp_${'a'.repeat(36)}`,
  `github_pat_${'b'.repeat(40)}`,
  'xoxb-1234567890-abc',
  `sk_live_${'c'.repeat(24)}`,
  `sk-proj-${'d'.repeat(24)}`,
  `AIza${'e'.repeat(35)}`,
  'password=hunter2',
  'db_pwd: x',
  'AUTH=1',
  'token',
  'key',
  'hello world',
  ' ',
  '=',
  ':',
  '@',
  '/',
];

const text = fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 12 })), {
  maxLength: 8,
});

describe('scrubString', () => {
  it('skips the patterns only for strings none of them would change', () => {
    fc.assert(
      fc.property(text, (parts) => {
        const value = parts.join('');
        expect(scrubString(value)).toBe(maskCredentials(storable(value)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('leaves ordinary text alone and masks credentials', () => {
    expect(scrubString('SELECT * FROM orders')).toBe('SELECT * FROM orders');
    expect(scrubString('use Bearer abcdefgh12345 now')).toBe('use Bearer [redacted] now');
    expect(scrubString('k=omh_abcdef123456')).toBe('k=[redacted:api-key]');
  });
});

describe('isSecretName', () => {
  it('gives the same verdict from its memory as the first time', () => {
    for (const name of [
      'password',
      'apiKey',
      'sort_key',
      'message',
      'X-Auth-Token',
      'database',
      'clientsecret',
    ]) {
      const first = isSecretName(name);
      expect(isSecretName(name)).toBe(first);
    }
    expect(isSecretName('apiKey')).toBe(true);
    expect(isSecretName('message')).toBe(false);
  });
});
