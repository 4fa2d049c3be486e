#!/usr/bin/env node
// The leanest streamable-HTTP MCP upstream, for benchmarks: raw node:http, no SDK, JSON responses only.
// It measures the hub, not the upstream (protocol.md §4.2 "raw node:http JSON-RPC echo" ceiling).
// Sessions ids are handed out but not tracked: nothing to evict, nothing to leak.
// Run: node examples/servers/echo-http.mjs [--port N]   (default 9199, 127.0.0.1 only)

import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const SUPPORTED = new Set(['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25']);
const LATEST = '2025-11-25';

const TOOLS_LIST = {
  tools: [
    {
      name: 'echo',
      description: 'Returns its message.',
      inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
    },
  ],
};

function parsePort(argv) {
  const i = argv.indexOf('--port');
  const value = i === -1 ? argv.find((a) => a.startsWith('--port='))?.slice(7) : argv[i + 1];
  if (value === undefined) return 9199;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`invalid --port: ${value}\n`);
    process.exit(2);
  }
  return port;
}

function send(res, status, body, headers) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

const result = (id, value) => ({ jsonrpc: '2.0', id, result: value });
const error = (id, code, message) => ({ jsonrpc: '2.0', id, error: { code, message } });

function handle(msg, res) {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || msg.jsonrpc !== '2.0') {
    send(res, 400, error(null, -32600, 'Invalid Request'));
    return;
  }
  const { id, method, params } = msg;
  // Notifications (and responses to our nonexistent requests) are accepted without a body.
  if (id === undefined) {
    res.writeHead(202).end();
    return;
  }
  switch (method) {
    case 'initialize': {
      const requested = params?.protocolVersion;
      const protocolVersion = SUPPORTED.has(requested) ? requested : LATEST;
      send(
        res,
        200,
        result(id, {
          protocolVersion,
          capabilities: { tools: {} },
          serverInfo: { name: 'echo-http', version: '1.0.0' },
        }),
        { 'mcp-session-id': randomUUID() },
      );
      return;
    }
    case 'ping':
      send(res, 200, result(id, {}));
      return;
    case 'tools/list':
      send(res, 200, result(id, TOOLS_LIST));
      return;
    case 'tools/call': {
      if (params?.name !== 'echo') {
        send(res, 200, error(id, -32602, `Unknown tool: ${params?.name}`));
        return;
      }
      const message = params.arguments?.message;
      if (typeof message !== 'string') {
        send(
          res,
          200,
          result(id, { isError: true, content: [{ type: 'text', text: 'message must be a string' }] }),
        );
        return;
      }
      send(res, 200, result(id, { content: [{ type: 'text', text: message }] }));
      return;
    }
    default:
      send(res, 200, error(id, -32601, `Method not found: ${method}`));
  }
}

const server = createServer((req, res) => {
  if ((req.url ?? '').split('?')[0] !== '/mcp') {
    send(res, 404, error(null, -32000, 'Not Found'));
    return;
  }
  if (req.method === 'DELETE') {
    res.writeHead(200).end();
    return;
  }
  if (req.method !== 'POST') {
    send(res, 405, error(null, -32000, 'Method Not Allowed'), { allow: 'POST, DELETE' });
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > 1_048_576) {
      send(res, 413, error(null, -32000, 'Payload Too Large'), { connection: 'close' });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (res.headersSent) return;
    let msg;
    try {
      msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      send(res, 400, error(null, -32700, 'Parse error'));
      return;
    }
    handle(msg, res);
  });
});

server.keepAliveTimeout = 65_000; // outlive typical client pool idle timeouts, so keep-alive sockets are reused
server.listen(parsePort(process.argv.slice(2)), '127.0.0.1', () => {
  process.stderr.write(`listening on http://127.0.0.1:${server.address().port}/mcp\n`);
});
const stop = () => server.close(() => process.exit(0)).closeAllConnections();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
