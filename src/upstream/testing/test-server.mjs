#!/usr/bin/env node
// A small, deterministic MCP server for the upstream tests (SDK McpServer).
//   node test-server.mjs stdio
//   node test-server.mjs http      listens on 127.0.0.1:0, prints {"port":N} on stdout
// env JSON_RESPONSE=1 (http): answer POSTs with application/json instead of SSE.
// env PORT (http): listen there instead of a random port.
// env FLAKY_FILE: the `flaky` tool appends a line there and crashes the process on the first line.
import { randomUUID } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CreateMessageResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const mode = process.argv[2] ?? 'stdio';
// Process-wide, so every session (and the stats tool) sees the same numbers.
const stats = { calls: {}, slowStarted: [], cancelled: [], sessionsExpired: 0, deletes: 0 };
const text = (t) => ({ content: [{ type: 'text', text: typeof t === 'string' ? t : JSON.stringify(t) }] });
/** @type {Map<string, StreamableHTTPServerTransport>} */
const sessions = new Map();

function build() {
  const server = new McpServer(
    { name: 'upstream-test', version: '1.0.0' },
    { capabilities: { logging: {} } },
  );
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text: t }) => text(t));
  server.registerTool('count', { inputSchema: { key: z.string() } }, async ({ key }) => {
    stats.calls[key] = (stats.calls[key] ?? 0) + 1;
    return text(String(stats.calls[key]));
  });
  server.registerTool('stats', {}, async () => text(stats));
  server.registerTool('slow', { inputSchema: { ms: z.number() } }, async ({ ms }, extra) => {
    stats.slowStarted.push(extra.requestId);
    await new Promise((resolve) => {
      const cancelled = () => {
        clearTimeout(timer);
        stats.cancelled.push(extra.requestId);
        resolve();
      };
      const timer = setTimeout(resolve, ms);
      // A cancel can arrive before this handler runs (the SDK validates the input first): then the
      // signal is already aborted and would never fire.
      if (extra.signal.aborted) cancelled();
      else extra.signal.addEventListener('abort', cancelled);
    });
    return text('slept');
  });
  server.registerTool(
    'progress',
    { inputSchema: { steps: z.number(), tag: z.string() } },
    async (args, extra) => {
      const token = extra._meta?.progressToken;
      for (let i = 1; i <= args.steps; i++) {
        if (token !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: token, progress: i, total: args.steps, message: args.tag },
          });
        }
        await new Promise((r) => setImmediate(r));
      }
      return text({ tag: args.tag, seenToken: token });
    },
  );
  server.registerTool('log', { inputSchema: { tag: z.string() } }, async ({ tag }, extra) => {
    await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: tag } });
    return text(tag);
  });
  server.registerTool('sample', { inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
    const result = await extra.sendRequest(
      {
        method: 'sampling/createMessage',
        params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 10 },
      },
      CreateMessageResultSchema,
    );
    return text(result.content.type === 'text' ? result.content.text : '?');
  });
  server.registerTool('notify-list-changed', {}, async () => {
    server.sendToolListChanged();
    return text('ok');
  });
  server.registerTool('expire-session', {}, async (extra) => {
    // Next request with this session id gets 404 (HTTP mode only).
    setImmediate(() => sessions.delete(extra.sessionId));
    stats.sessionsExpired++;
    return text('expired');
  });
  server.registerTool('env', {}, async () => text({ pid: process.pid, keys: Object.keys(process.env) }));
  server.registerTool('headers', {}, async (extra) => text(extra.requestInfo?.headers ?? {}));
  server.registerTool('flaky', {}, async () => {
    appendFileSync(process.env.FLAKY_FILE, `${process.pid}\n`);
    if (readFileSync(process.env.FLAKY_FILE, 'utf8').trim().split('\n').length === 1) {
      setImmediate(() => process.exit(4));
      return new Promise(() => {});
    }
    return text('ok');
  });
  server.registerTool('crash', {}, async () => {
    setImmediate(() => process.exit(3));
    return new Promise(() => {});
  });
  return server;
}

if (mode === 'stdio') {
  console.error('test server starting (stdio)');
  console.log('this line is not JSON and must be skipped');
  await build().connect(new StdioServerTransport());
} else {
  const http = createServer(async (req, res) => {
    const sid = req.headers['mcp-session-id'];
    if (req.method === 'DELETE') stats.deletes++;
    if (typeof sid === 'string') {
      const transport = sessions.get(sid);
      if (!transport) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
        );
        return;
      }
      await transport.handleRequest(req, res);
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(400).end();
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: process.env.JSON_RESPONSE === '1',
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    await build().connect(transport);
    await transport.handleRequest(req, res);
  });
  http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
    console.log(JSON.stringify({ port: http.address().port }));
  });
}
