import { HubError, RpcError } from '../server/errors.ts';
import type { ResponseChannel } from './channel.ts';
import type { Params } from './jsonrpc.ts';
import type { Session } from './sessions.ts';

/** The client capability a server→client request needs. */
const REQUIRED_CAPABILITY: Record<string, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

/**
 * Sends a server→client request (sampling, elicitation, roots) to the downstream client whose request
 * caused it — on that request's own stream when it is still open, else on the session's GET stream —
 * and waits for the client's answer, which arrives as a separate POST.
 */
export async function relayToClient(
  session: Session,
  channel: ResponseChannel | null,
  method: string,
  params: Params | undefined,
  signal: AbortSignal,
): Promise<unknown> {
  if (method === 'ping') return {};
  const capability = REQUIRED_CAPABILITY[method];
  if (!capability) throw new RpcError(-32601, `Method not supported by the hub's clients: ${method}`);
  if (!(capability in session.clientCapabilities)) {
    throw new RpcError(-32601, `The client did not declare the ${capability} capability`);
  }
  const { id, answer } = session.expectClientResponse();
  const message = { jsonrpc: '2.0' as const, id, method, ...(params ? { params } : {}) };
  const sent = channel?.send(message) || session.stream?.send(message);
  if (!sent) {
    session.dropClientRequest(id);
    throw new HubError('UPSTREAM_ERROR', `No open stream to the client for ${method}`);
  }
  const onAbort = () => session.settleClientResponse(id, undefined, { code: -32000, message: 'Cancelled' });
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await answer;
  } catch (err) {
    const e = err as { code?: number; message?: string; data?: unknown };
    throw new RpcError(e.code ?? -32603, e.message ?? 'Client error', e.data);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
