import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { ClientInfo, Principal } from '../auth/principal.ts';
import { HubError, toRpcError } from '../server/errors.ts';
import { EventStream, ResponseChannel } from './channel.ts';
import { decodeMessage } from './codec.ts';
import type { McpHub, RequestOrigin } from './hub.ts';
import { isNotification, isRequest, SUPPORTED_PROTOCOL_VERSIONS } from './jsonrpc.ts';
import type { Session } from './sessions.ts';

export interface EndpointOptions {
  hub: McpHub;
  maxJsonDepth: number;
  keepAliveMs: number;
}

/** Writes an error as a JSON-RPC error body with the HTTP status of its registry entry. */
export function writeError(res: ServerResponse, err: unknown, id: string | number | null = null): void {
  const status = err instanceof HubError ? err.status : 500;
  const body = JSON.stringify({ jsonrpc: '2.0', id, error: toRpcError(err) });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The Streamable HTTP transport of the hub's own MCP endpoint (`/mcp`, `/mcp/{server}`), written against
 * node's request/response objects so the framework stays out of the hot path.
 */
export class McpEndpoint {
  constructor(private readonly options: EndpointOptions) {}

  private get hub(): McpHub {
    return this.options.hub;
  }

  /** A server the principal may not use is reported exactly like one that does not exist. */
  private checkScope(scope: string | null, principal: Principal): void {
    if (scope !== null && (!this.hub.hasServer(scope) || !this.hub.access.canUseServer(principal, scope))) {
      throw new HubError('NOT_FOUND', `Unknown MCP server: ${scope}`);
    }
  }

  /** The session a non-initialize request belongs to, checked against endpoint and principal. */
  private session(headers: IncomingHttpHeaders, scope: string | null, principal: Principal): Session {
    const id = header(headers, 'mcp-session-id');
    if (!id) throw new HubError('SESSION_REQUIRED', 'Bad Request: Mcp-Session-Id header is required');
    const session = this.hub.sessions.get(id);
    // A session of another endpoint or another principal is reported exactly like an unknown one.
    if (!session || session.scope !== scope || session.owner !== principal.id) {
      throw new HubError('SESSION_NOT_FOUND', 'Session not found');
    }
    return session;
  }

  private checkProtocolVersion(headers: IncomingHttpHeaders): void {
    const version = header(headers, 'mcp-protocol-version');
    if (version !== undefined && !(SUPPORTED_PROTOCOL_VERSIONS as readonly string[]).includes(version)) {
      throw new HubError(
        'UNSUPPORTED_PROTOCOL_VERSION',
        `Bad Request: Unsupported protocol version: ${version.slice(0, 40)} (supported: ${SUPPORTED_PROTOCOL_VERSIONS.join(', ')})`,
      );
    }
  }

  async post(
    scope: string | null,
    headers: IncomingHttpHeaders,
    body: string,
    res: ServerResponse,
    principal: Principal,
    client: ClientInfo,
  ) {
    let id: string | number | null = null;
    const origin: RequestOrigin = { principal, client };
    try {
      this.checkScope(scope, principal);
      const accept = header(headers, 'accept') ?? '*/*';
      const canStream = accept.includes('text/event-stream') || accept.includes('*/*');
      if (!canStream && !accept.includes('application/json')) {
        throw new HubError(
          'NOT_ACCEPTABLE',
          'Not Acceptable: the client must accept application/json or text/event-stream',
        );
      }
      const message = decodeMessage(body, this.options.maxJsonDepth);
      if ('id' in message && (typeof message.id === 'string' || typeof message.id === 'number'))
        id = message.id;

      if (isRequest(message) && message.method === 'initialize') {
        if (header(headers, 'mcp-session-id')) {
          throw new HubError('BAD_REQUEST', 'Bad Request: initialize must not carry an Mcp-Session-Id');
        }
        const session = this.hub.sessions.create(scope, principal, SUPPORTED_PROTOCOL_VERSIONS[0]);
        const channel = new ResponseChannel(res, { 'mcp-session-id': session.id }, canStream);
        await this.hub.handleRequest(session, message, channel, origin);
        return;
      }

      this.checkProtocolVersion(headers);
      const session = this.session(headers, scope, principal);
      if (isRequest(message)) {
        await this.hub.handleRequest(session, message, new ResponseChannel(res, {}, canStream), origin);
        return;
      }
      if (isNotification(message)) this.hub.handleNotification(session, message);
      else
        session.settleClientResponse(
          message.id ?? '',
          'result' in message ? message.result : undefined,
          'error' in message ? message.error : undefined,
        );
      res.writeHead(202).end();
    } catch (err) {
      writeError(res, err, id);
    }
  }

  get(scope: string | null, headers: IncomingHttpHeaders, res: ServerResponse, principal: Principal): void {
    try {
      this.checkScope(scope, principal);
      if (!(header(headers, 'accept') ?? '').includes('text/event-stream')) {
        throw new HubError('NOT_ACCEPTABLE', 'Not Acceptable: the client must accept text/event-stream');
      }
      this.checkProtocolVersion(headers);
      const session = this.session(headers, scope, principal);
      session.principal = principal;
      if (session.stream && !session.stream.closed) {
        throw new HubError('CONFLICT', 'Conflict: only one GET stream is allowed per session');
      }
      const stream = new EventStream(res, { 'mcp-session-id': session.id }, this.options.keepAliveMs, () => {
        if (session.stream === stream) session.stream = null;
      });
      session.stream = stream;
    } catch (err) {
      writeError(res, err);
    }
  }

  delete(
    scope: string | null,
    headers: IncomingHttpHeaders,
    res: ServerResponse,
    principal: Principal,
  ): void {
    try {
      this.checkScope(scope, principal);
      this.checkProtocolVersion(headers);
      const session = this.session(headers, scope, principal);
      this.hub.sessions.delete(session.id);
      res.writeHead(200).end();
    } catch (err) {
      writeError(res, err);
    }
  }
}
