import { hash } from 'node:crypto';

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
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += `${i === 0 ? '' : ','}${canonicalJson(value[i])}`;
        return `${out}]`;
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const object = value as Record<string, unknown>;
      // Default sort compares UTF-16 code units, as RFC 8785 asks.
      const keys = Object.keys(object).sort();
      let out = '{';
      for (const key of keys) {
        const member = object[key];
        if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
      }
      return `${out}}`;
    }
    default:
      return 'null';
  }
}

export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
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
