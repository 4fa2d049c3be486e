import { describe, expect, it } from 'vitest';
import { retryPolicy } from './retry-policy.ts';

describe('retryPolicy', () => {
  const safe = retryPolicy(['lookup']);
  it('allows reads and lists', () => {
    for (const m of ['ping', 'tools/list', 'resources/read', 'prompts/get', 'completion/complete']) {
      expect(safe(m, undefined)).toBe(true);
    }
  });
  it('allows tools/call only for idempotent tools', () => {
    expect(safe('tools/call', { name: 'lookup' })).toBe(true);
    expect(safe('tools/call', { name: 'delete_all' })).toBe(false);
    expect(safe('tools/call', undefined)).toBe(false);
    expect(retryPolicy([])('tools/call', { name: 'lookup' })).toBe(false);
  });
  it('never retries other methods', () => {
    expect(safe('resources/subscribe', { uri: 'x' })).toBe(false);
    expect(safe('logging/setLevel', { level: 'info' })).toBe(false);
  });
});
