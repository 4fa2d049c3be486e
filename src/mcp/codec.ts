import { HubError } from '../server/errors.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';

/**
 * Returns the deepest nesting of arrays/objects in a JSON text, stopping early past `limit`.
 * Runs before JSON.parse so a hostile body cannot make the parser or later walkers recurse deeply.
 */
export function jsonDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > limit) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/** Parses one downstream JSON-RPC message; every failure is a HubError with the spec's code. */
export function decodeMessage(body: string, maxDepth: number): JsonRpcMessage {
  if (jsonDepthExceeds(body, maxDepth)) {
    throw new HubError('BAD_REQUEST', `JSON nesting deeper than ${maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    throw new HubError('PARSE_ERROR', 'Parse error: the body is not valid JSON');
  }
  if (Array.isArray(value)) {
    throw new HubError('BAD_REQUEST', 'Batch requests are not supported: send one JSON-RPC message per POST');
  }
  return validateMessage(value);
}

function validateMessage(value: unknown): JsonRpcMessage {
  if (value === null || typeof value !== 'object') {
    throw new HubError('BAD_REQUEST', 'Invalid Request: a JSON-RPC message must be an object');
  }
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') throw new HubError('BAD_REQUEST', 'Invalid Request: jsonrpc must be "2.0"');
  const hasId = 'id' in m;
  if (hasId && typeof m.id !== 'string' && !(typeof m.id === 'number' && Number.isInteger(m.id))) {
    throw new HubError('BAD_REQUEST', 'Invalid Request: id must be a string or an integer');
  }
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0 || m.method.length > 256) {
      throw new HubError('BAD_REQUEST', 'Invalid Request: method must be a non-empty string');
    }
    if ('params' in m && m.params !== undefined && (m.params === null || typeof m.params !== 'object')) {
      throw new HubError('BAD_REQUEST', 'Invalid Request: params must be an object');
    }
    if (Array.isArray(m.params)) {
      throw new HubError('BAD_REQUEST', 'Invalid Request: params must be an object, not an array');
    }
    return m as unknown as JsonRpcMessage;
  }
  if (hasId && ('result' in m || ('error' in m && typeof m.error === 'object' && m.error !== null))) {
    return m as unknown as JsonRpcMessage;
  }
  throw new HubError('BAD_REQUEST', 'Invalid Request: neither a request, a notification nor a response');
}
