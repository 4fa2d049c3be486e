#!/usr/bin/env node
// The floor any Node.js MCP gateway stands on: a pass-through proxy with nothing in it but node:http
// in and an undici keep-alive pool out (no parsing, no sessions, no policy). bench/run.mjs measures it
// beside the hub, so "how far is the hub from free" is a ratio from the same run.
// Usage: node bench/floor-proxy.mjs --port 19089 --upstream http://127.0.0.1:19199
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '19089' }, upstream: { type: 'string' } },
});
if (!values.upstream) {
  console.error('usage: floor-proxy.mjs --port N --upstream http://host:port');
  process.exit(2);
}
const pool = new Pool(values.upstream, { connections: 64, pipelining: 1 });
const FORWARDED = ['content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version'];

createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const headers = {};
    for (const name of FORWARDED) if (req.headers[name]) headers[name] = req.headers[name];
    try {
      const up = await pool.request({
        path: req.url,
        method: req.method,
        headers,
        body: Buffer.concat(chunks),
      });
      const body = await up.body.text();
      const out = { 'content-type': up.headers['content-type'] ?? 'application/json' };
      if (up.headers['mcp-session-id']) out['mcp-session-id'] = up.headers['mcp-session-id'];
      res.writeHead(up.statusCode, out).end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
}).listen(Number(values.port), '127.0.0.1');
