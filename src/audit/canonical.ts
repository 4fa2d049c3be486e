import { createHash } from 'node:crypto';

/**
 * Canonical JSON (RFC 8785 for the values audit events hold: strings, finite numbers, booleans, null,
 * arrays, plain objects): object keys sorted by UTF-16 code units, no whitespace, numbers in
 * ECMAScript shortest form. `undefined` members are dropped, like JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return JSON.stringify(value.toString());
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const entries = Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && typeof v !== 'function' && typeof v !== 'symbol')
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
    }
    default:
      return 'null';
  }
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Pins the serializer: a change in canonical output would silently break verification of every
 * stored event, so the module refuses to load instead.
 */
const PIN_INPUT = { b: [1, 'x', null, true], a: { d: 0.1, c: 'é\u2028' }, e: 1e21 };
const PIN_OUTPUT = '{"a":{"c":"é\u2028","d":0.1},"b":[1,"x",null,true],"e":1e+21}';
if (canonicalJson(PIN_INPUT) !== PIN_OUTPUT) {
  throw new Error('audit: canonical JSON serializer changed; stored hash chains would not verify');
}
