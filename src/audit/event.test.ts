import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { chainHash, contentOfRow, prepareEvent } from './event.ts';

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

describe('chainHash', () => {
  it('equals SHA-256 of the previous hash and the canonical JSON of {v:1, …content}', () => {
    const input = fc.record({
      type: fc.constantFrom('mcp' as const, 'auth' as const, 'admin' as const),
      action: fc.string(),
      requestId: optional(fc.string()),
      actor: optional(fc.record({ id: fc.string(), email: fc.string(), roles: fc.array(fc.string()) })),
      server: optional(fc.string()),
      target: optional(fc.string()),
      resource: optional(fc.string()),
      arguments: optional(fc.jsonValue()),
      decision: optional(fc.record({ allow: fc.boolean(), rule: fc.string(), reason: fc.string() })),
      outcome: fc.constantFrom('ok' as const, 'denied' as const, 'tool_error' as const),
      error: optional(fc.string()),
      latencyMs: optional(fc.double({ min: 0, max: 1e6, noNaN: true })),
    });
    fc.assert(
      fc.property(input, fc.stringMatching(/^[0-9a-f]{64}$/), (event, prev) => {
        const prepared = prepareEvent(event, crypto.randomUUID(), new Date(), {
          maxArgumentBytes: 4_096,
          instance: 'test:1',
        });
        const expected = sha256Hex(`${prev}\n${canonicalJson({ v: 1, ...contentOfRow(prepared) })}`);
        expect(chainHash(prev, prepared)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
