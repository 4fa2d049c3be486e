import type { Params } from '../mcp/jsonrpc.ts';

/** Methods that read and change nothing: sending one twice is harmless. */
const SAFE_METHODS = new Set([
  'ping',
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/get',
  'completion/complete',
]);

export type RetryPolicy = (method: string, params: Params | undefined) => boolean;

/**
 * May this request be sent again (another replica, a new session) after it may already have reached
 * an upstream? A tools/call only when the operator marked the tool idempotent: side effects happen once.
 */
export function retryPolicy(idempotentTools: readonly string[]): RetryPolicy {
  const tools = new Set(idempotentTools);
  return (method, params) => {
    if (SAFE_METHODS.has(method)) return true;
    if (method !== 'tools/call' || tools.size === 0) return false;
    const name = params?.name;
    return typeof name === 'string' && tools.has(name);
  };
}
