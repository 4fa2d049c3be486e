import { describe, expect, it } from 'vitest';
import { HubError } from '../server/errors.ts';
import { decodeMessage, jsonDepthExceeds } from './codec.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof HubError ? `${err.status}/${err.rpcCode}` : 'other';
  }
  return undefined;
}

describe('jsonDepthExceeds', () => {
  it('counts nesting outside strings only', () => {
    expect(jsonDepthExceeds('[[[1]]]', 3)).toBe(false);
    expect(jsonDepthExceeds('[[[[1]]]]', 3)).toBe(true);
    expect(jsonDepthExceeds('{"a":"[[[[[[[["}', 2)).toBe(false);
    expect(jsonDepthExceeds('{"a":"\\"[[[["}', 1)).toBe(false);
  });
});

describe('decodeMessage', () => {
  it('accepts requests, notifications and responses', () => {
    expect(decodeMessage('{"jsonrpc":"2.0","id":1,"method":"ping"}', 64)).toMatchObject({ method: 'ping' });
    expect(decodeMessage('{"jsonrpc":"2.0","method":"notifications/initialized"}', 64)).toMatchObject({});
    expect(decodeMessage('{"jsonrpc":"2.0","id":"a","result":{}}', 64)).toMatchObject({ id: 'a' });
  });

  it('maps each bad input to the spec error', () => {
    expect(codeOf(() => decodeMessage('{not json', 64))).toBe('400/-32700');
    expect(codeOf(() => decodeMessage('[{"jsonrpc":"2.0","id":1,"method":"ping"}]', 64))).toBe('400/-32600');
    expect(codeOf(() => decodeMessage('{"jsonrpc":"1.0","id":1,"method":"ping"}', 64))).toBe('400/-32600');
    expect(codeOf(() => decodeMessage('{"jsonrpc":"2.0","id":null,"method":"ping"}', 64))).toBe('400/-32600');
    expect(codeOf(() => decodeMessage('{"jsonrpc":"2.0","id":1.5,"method":"ping"}', 64))).toBe('400/-32600');
    expect(codeOf(() => decodeMessage('{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}', 64))).toBe(
      '400/-32600',
    );
    expect(codeOf(() => decodeMessage('"hello"', 64))).toBe('400/-32600');
    expect(codeOf(() => decodeMessage(`${'['.repeat(100)}${']'.repeat(100)}`, 64))).toBe('400/-32600');
  });
});
