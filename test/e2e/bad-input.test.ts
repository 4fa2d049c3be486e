import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/start.ts';
import { adminHeaders, eventually, startTestHub } from '../helpers/hub.ts';

const JSON_HEADERS: Record<string, string> = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};

let hub: RunningHub;
let sessionId: string;
let AUTH: Record<string, string> = {};

async function post(body: string, headers: Record<string, string> = {}, path = '/mcp') {
  const res = await fetch(`${hub.url}${path}`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...headers },
    body,
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}

const rpc = (method: string, params: object = {}, id: number | string = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });

beforeAll(async () => {
  hub = await startTestHub(
    {
      servers: { database: { transport: 'stdio', command: 'node', args: ['examples/servers/database.mjs'] } },
    },
    { OMNIHUB_MAX_BODY_BYTES: '4096' },
  );
  AUTH = await adminHeaders(hub);
  Object.assign(JSON_HEADERS, AUTH);
  const init = await fetch(`${hub.url}/mcp`, {
    method: 'POST',
    headers: JSON_HEADERS,
    body: rpc('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 't', version: '1' },
    }),
  });
  expect(init.status).toBe(200);
  sessionId = init.headers.get('mcp-session-id')!;
  expect(sessionId).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  await eventually(async () => {
    const r = await post(rpc('tools/list'), { 'mcp-session-id': sessionId });
    expect(r.json.result.tools.length).toBeGreaterThan(0);
  });
});

afterAll(async () => {
  await hub?.stop();
});

describe('bad input gets the spec status or JSON-RPC code, and the hub stays up', () => {
  const session = () => ({ ...AUTH, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' });

  it('malformed JSON → 400 / -32700', async () => {
    const r = await post('{"jsonrpc": "2.0", "id": 1, "method": ', session());
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe(-32700);
  });

  it('wrong content type → 415', async () => {
    const r = await post(rpc('ping'), { ...session(), 'content-type': 'text/plain' });
    expect(r.status).toBe(415);
    expect(r.json.error.message).toMatch(/Content-Type/);
  });

  it('oversized body → 413', async () => {
    const r = await post(
      rpc('tools/call', { name: 'database__analyze_sql', arguments: { sql: 'x'.repeat(8000) } }),
      session(),
    );
    expect(r.status).toBe(413);
    expect(r.json.error.message).toMatch(/too large/i);
  });

  it('deep nesting → 400 / -32600', async () => {
    const deep = `${'['.repeat(200)}${']'.repeat(200)}`;
    const r = await post(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":${deep}}}`, session());
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe(-32600);
    expect(r.json.error.message).toMatch(/nesting/);
  });

  it('batch → 400 / -32600', async () => {
    const r = await post(`[${rpc('ping')},${rpc('ping', {}, 2)}]`, session());
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe(-32600);
    expect(r.json.error.message).toMatch(/Batch/);
  });

  it('unknown method → -32601', async () => {
    const r = await post(rpc('tools/explode'), session());
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ id: 1, error: { code: -32601 } });
  });

  it('unknown tool → -32602', async () => {
    const r = await post(rpc('tools/call', { name: 'database__nope', arguments: {} }), session());
    expect(r.json.error).toMatchObject({ code: -32602, message: 'Unknown tool: database__nope' });
  });

  it('missing session → 400, unknown session → 404, deleted session → 404', async () => {
    expect((await post(rpc('ping'))).status).toBe(400);
    const unknown = await post(rpc('ping'), { 'mcp-session-id': 'not-a-session' });
    expect(unknown.status).toBe(404);
    const init = await fetch(`${hub.url}/mcp`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: rpc('initialize', {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      }),
    });
    const id = init.headers.get('mcp-session-id')!;
    const del = await fetch(`${hub.url}/mcp`, {
      method: 'DELETE',
      headers: { ...AUTH, 'mcp-session-id': id },
    });
    expect(del.status).toBe(200);
    expect((await post(rpc('ping'), { 'mcp-session-id': id })).status).toBe(404);
  });

  it('a session is bound to its endpoint', async () => {
    expect((await post(rpc('ping'), session(), '/mcp/database')).status).toBe(404);
  });

  it('unknown server path → 404', async () => {
    const r = await post(rpc('ping'), session(), '/mcp/nope');
    expect(r.status).toBe(404);
    expect(r.json.error.message).toMatch(/Unknown MCP server/);
  });

  it('unsupported protocol version → 400', async () => {
    const r = await post(rpc('ping'), { ...session(), 'mcp-protocol-version': '1999-01-01' });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/Unsupported protocol version/);
  });

  it('bad Origin or Host → 403', async () => {
    expect((await post(rpc('ping'), { ...session(), origin: 'http://evil.example.com' })).status).toBe(403);
    // fetch() will not send a foreign Host header; node:http will.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${hub.url}/mcp`,
        { method: 'POST', headers: { ...JSON_HEADERS, host: 'evil.example.com' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {} }));
    });
    expect(status).toBe(403);
  });

  it('wrong Accept → 406; a second GET stream → 409', async () => {
    expect((await post(rpc('ping'), { ...session(), accept: 'text/html' })).status).toBe(406);
    const get = await fetch(`${hub.url}/mcp`, { headers: { ...session(), accept: 'application/json' } });
    expect(get.status).toBe(406);
    const controller = new AbortController();
    const first = await fetch(`${hub.url}/mcp`, {
      headers: { ...session(), accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(first.status).toBe(200);
    const second = await fetch(`${hub.url}/mcp`, { headers: { ...session(), accept: 'text/event-stream' } });
    expect(second.status).toBe(409);
    controller.abort();
  });

  it('nothing internal leaks, and the hub still answers', async () => {
    const r = await post('{', session());
    expect(r.text).not.toMatch(/ at |node_modules|\.ts:|stack/);
    expect((await fetch(`${hub.url}/health`)).status).toBe(200);
    const ok = await post(
      rpc('tools/call', {
        name: 'database__analyze_sql',
        arguments: { database: 'dev_db', sql: 'select 1' },
      }),
      { ...session(), accept: 'application/json' },
    );
    expect(ok.json.result.content[0].type).toBe('text');
  });
});
