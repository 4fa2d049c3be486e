// Shared plumbing for the example MCP servers: pick a transport from argv, run stdio or a stateful
// streamable-HTTP server on plain node:http (loopback only), and a few helpers for tool handlers.
// Each server file only defines a `createServer()` factory that registers its tools/prompts/resources.

import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';

// One validator for every McpServer in the process: the SDK otherwise builds a fresh Ajv instance per
// server (per session here), which dominated CPU in the baseline profile (protocol.md §4.2).
const sharedValidator = new AjvJsonSchemaValidator();

/** `new McpServer(info, options)` with the process-wide JSON Schema validator. */
export function createMcpServer(info, options = {}) {
  return new McpServer(info, { ...options, jsonSchemaValidator: sharedValidator });
}

/** True when the module with this `import.meta.url` is the script node was started with. */
export function isMain(moduleUrl) {
  if (!process.argv[1]) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
}

/** Parses `--http`, `--stdio`, `--port N` (and `--port=N`). Unknown flags are refused. */
export function parseArgs(argv, { defaultMode = 'stdio', defaultPort = 0 } = {}) {
  const opts = { mode: defaultMode, port: defaultPort };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--http') opts.mode = 'http';
    else if (arg === '--stdio') opts.mode = 'stdio';
    else if (arg === '--port' || arg.startsWith('--port=')) {
      const value = arg === '--port' ? argv[++i] : arg.slice('--port='.length);
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port: ${value}`);
      opts.port = port;
    } else throw new Error(`unknown argument: ${arg}`);
  }
  return opts;
}

/**
 * Entry point used by every example server: stdio unless `--http` (or `defaultMode: 'http'`).
 * Exits with a one-line message on bad arguments.
 */
export async function run(
  createServer,
  { argv = process.argv.slice(2), defaultMode, defaultPort, http } = {},
) {
  let opts;
  try {
    opts = parseArgs(argv, { defaultMode, defaultPort });
  } catch (err) {
    process.stderr.write(`${err.message}\nusage: [--stdio | --http [--port N]]\n`);
    process.exit(2);
  }
  if (opts.mode === 'http') return serveHttp(createServer, { ...http, port: opts.port });
  return serveStdio(createServer);
}

/** Runs one server over stdio. Exits when stdin ends (the hub closes stdin first when it stops a child). */
export async function serveStdio(createServer) {
  const server = createServer();
  const transport = new StdioServerTransport();
  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await server.close().catch(() => {});
    process.exit(0);
  };
  process.stdin.on('end', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  await server.connect(transport);
  return { server, close: shutdown };
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Hostname part of a Host header value (`[::1]:8080` → `[::1]`, `localhost:1` → `localhost`). */
function hostnameOf(host) {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.indexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
}

/**
 * DNS-rebinding defence for a loopback server: the Host must be a loopback name, and an Origin, when
 * a browser sends one, must be a loopback origin too. Returns null when fine, else [status, message].
 */
export function checkHostAndOrigin(headers) {
  const host = headers.host;
  if (typeof host !== 'string' || host === '') return [400, 'Bad Request: missing Host header'];
  if (!LOOPBACK_HOSTS.has(hostnameOf(host))) return [403, 'Forbidden: invalid Host header'];
  const origin = headers.origin;
  if (origin !== undefined) {
    let hostname;
    try {
      const url = new URL(origin);
      hostname = url.protocol === 'http:' || url.protocol === 'https:' ? url.hostname : '';
    } catch {
      hostname = '';
    }
    if (!LOOPBACK_HOSTS.has(hostname) && hostname !== '::1') return [403, 'Forbidden: invalid Origin header'];
  }
  return null;
}

function sendJsonError(res, status, code, message, extraHeaders = {}) {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null });
  res.writeHead(status, { 'content-type': 'application/json', ...extraHeaders }).end(body);
}

const MAX_BODY = 4 * 1024 * 1024;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * A small in-memory event store so POST streams can be resumed with `Last-Event-ID` (SEP-1699).
 * Event ids encode the stream (`<stream>_<seq>`) so replay stays on the originating stream.
 * Bounded: only the newest `limit` events are kept.
 */
export class MemoryEventStore {
  #events = new Map();
  #seq = 0;
  constructor(limit = 1000) {
    this.limit = limit;
  }
  async storeEvent(streamId, message) {
    const id = `${streamId}_${++this.#seq}`;
    this.#events.set(id, { streamId, message });
    if (this.#events.size > this.limit) this.#events.delete(this.#events.keys().next().value);
    return id;
  }
  async getStreamIdForEventId(eventId) {
    return this.#events.get(eventId)?.streamId;
  }
  async replayEventsAfter(lastEventId, { send }) {
    const last = this.#events.get(lastEventId);
    if (!last) return '';
    let after = false;
    for (const [id, event] of this.#events) {
      if (id === lastEventId) after = true;
      else if (after && event.streamId === last.streamId) await send(id, event.message);
    }
    return last.streamId;
  }
}

/**
 * Stateful streamable HTTP on plain node:http at `http://127.0.0.1:<port>/mcp`. One McpServer + transport
 * per session; sessions end on DELETE, on transport close, or after `idleMs` without any request.
 * Prints `listening on http://127.0.0.1:<port>/mcp` to stderr once ready (tests read the port from it).
 */
export async function serveHttp(
  createServer,
  {
    port = 0,
    host = '127.0.0.1',
    idleMs = 30 * 60_000,
    maxSessions = 1000,
    resumable = false,
    retryInterval,
  } = {},
) {
  /** @type {Map<string, {server: McpServer, transport: StreamableHTTPServerTransport, lastSeen: number, active: number}>} */
  const sessions = new Map();

  const closeSession = async (id) => {
    const entry = sessions.get(id);
    if (!entry) return;
    sessions.delete(id);
    await entry.server.close().catch(() => {});
  };

  async function newSession(req, res, body) {
    if (sessions.size >= maxSessions) {
      sendJsonError(res, 503, -32000, 'Service Unavailable: too many sessions', { 'retry-after': '5' });
      return;
    }
    const server = createServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      eventStore: resumable ? new MemoryEventStore() : undefined,
      retryInterval,
      onsessioninitialized: (id) => {
        sessions.set(id, { server, transport, lastSeen: Date.now(), active: 0 });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId) closeSession(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    // A failed initialize leaves a transport with no session: nothing else references it.
    if (!transport.sessionId) await server.close().catch(() => {});
  }

  async function handle(req, res) {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
      return;
    }
    const rejected = checkHostAndOrigin(req.headers);
    if (rejected) {
      sendJsonError(res, rejected[0], -32000, rejected[1]);
      return;
    }
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'POST') {
      let body;
      try {
        body = JSON.parse(await readBody(req));
      } catch (err) {
        if (err.status === 413) sendJsonError(res, 413, -32000, 'Payload Too Large');
        else sendJsonError(res, 400, -32700, 'Parse error: invalid JSON');
        return;
      }
      if (sid === undefined) {
        if (isInitializeRequest(body)) await newSession(req, res, body);
        else sendJsonError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
        return;
      }
      await forward(sid, req, res, body);
      return;
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (sid === undefined) {
        sendJsonError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
        return;
      }
      await forward(sid, req, res);
      return;
    }
    sendJsonError(res, 405, -32000, 'Method Not Allowed', { allow: 'GET, POST, DELETE' });
  }

  async function forward(sid, req, res, body) {
    const entry = typeof sid === 'string' ? sessions.get(sid) : undefined;
    if (!entry) {
      sendJsonError(res, 404, -32001, 'Session not found');
      return;
    }
    entry.lastSeen = Date.now();
    entry.active++;
    // `active` counts open requests (a GET stream stays open for long), so idle eviction skips them.
    res.on('close', () => {
      entry.active--;
      entry.lastSeen = Date.now();
    });
    await entry.transport.handleRequest(req, res, body);
  }

  const httpServer = createHttpServer((req, res) => {
    handle(req, res).catch((err) => {
      process.stderr.write(`request failed: ${err?.stack ?? err}\n`);
      if (!res.headersSent) sendJsonError(res, 500, -32603, 'Internal error');
      else res.end();
    });
  });

  // The SDK keeps sessions forever; evict idle ones so abandoned clients don't grow memory without bound.
  const sweeper = setInterval(
    () => {
      const cutoff = Date.now() - idleMs;
      for (const [id, entry] of sessions) if (entry.active === 0 && entry.lastSeen < cutoff) closeSession(id);
    },
    Math.min(idleMs, 60_000),
  );
  sweeper.unref();

  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(port, host, resolve);
  });
  const actualPort = httpServer.address().port;
  const url = `http://${host}:${actualPort}/mcp`;
  process.stderr.write(`listening on ${url}\n`);

  let closing;
  const close = () => {
    closing ??= (async () => {
      clearInterval(sweeper);
      await Promise.all([...sessions.keys()].map(closeSession));
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(() => resolve()));
    })();
    return closing;
  };
  const onSignal = () => close().then(() => process.exit(0));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return { url, port: actualPort, sessions, close };
}

/** Promise-based sleep that ends early (rejecting) when the request is cancelled. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('cancelled'));
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason ?? new Error('cancelled'));
      },
      { once: true },
    );
  });
}

/** Sends `notifications/progress` for this request, only when the client asked for it (progressToken). */
export async function reportProgress(extra, progress, total, message) {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return;
  await extra.sendNotification({
    method: 'notifications/progress',
    params: { progressToken, progress, total, ...(message ? { message } : {}) },
  });
}

/**
 * Sends a `notifications/message` tied to this request (so over HTTP it travels on the request's own SSE
 * stream), honouring the level the client set with logging/setLevel.
 */
export async function logMessage(mcpServer, extra, level, data, logger) {
  const server = mcpServer.server;
  if (typeof server.isMessageIgnored === 'function' && server.isMessageIgnored(level, extra.sessionId))
    return;
  await extra.sendNotification({
    method: 'notifications/message',
    params: { level, data, ...(logger ? { logger } : {}) },
  });
}

/** A tool result for business errors: `isError: true` with a text message (SEP-1303). */
export function toolError(message) {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

/** Text content plus the same data as structuredContent. */
export function jsonResult(data) {
  return { content: [{ type: 'text', text: JSON.stringify(data, null, 2) }], structuredContent: data };
}

/** Small deterministic hash (FNV-1a, 32 bit) for fake-but-stable numbers. */
export function hash32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
