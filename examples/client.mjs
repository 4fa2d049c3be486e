#!/usr/bin/env node
// A small MCP client built on the official SDK, for trying the hub from a terminal.
//
//   node examples/client.mjs [--url http://127.0.0.1:8090/mcp] [--token TOKEN] tools
//   node examples/client.mjs --token TOKEN call database__analyze_sql '{"database":"dev_db","sql":"select 1"}'
//   node examples/client.mjs --token TOKEN prompts | prompt NAME '{"arg":"value"}' | resources | read URI
//
// The token (an API key or an access token from /api/v1/auth/login) can also come from OMNIHUB_TOKEN.
import { parseArgs } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    url: { type: 'string', default: process.env.OMNIHUB_URL ?? 'http://127.0.0.1:8090/mcp' },
    token: { type: 'string', default: process.env.OMNIHUB_TOKEN },
  },
});
const [command = 'tools', name, json] = positionals;

function parseJson(text) {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch {
    console.error(`not JSON: ${text}`);
    process.exit(2);
  }
}

const headers = values.token ? { authorization: `Bearer ${values.token}` } : {};
const client = new Client({ name: 'omnihub-example-client', version: '1.0.0' });
try {
  await client.connect(new StreamableHTTPClientTransport(new URL(values.url), { requestInit: { headers } }));
} catch (err) {
  console.error(`could not connect to ${values.url}: ${err.message}`);
  process.exit(1);
}

let exitCode = 0;
try {
  switch (command) {
    case 'tools':
      for (const tool of (await client.listTools()).tools) {
        console.log(`${tool.name.padEnd(36)} ${(tool.description ?? '').split('\n')[0]}`);
      }
      break;
    case 'call': {
      const result = await client.callTool({ name, arguments: parseJson(json) });
      for (const c of result.content ?? []) console.log(c.type === 'text' ? c.text : JSON.stringify(c));
      if (result.isError) exitCode = 1;
      break;
    }
    case 'prompts':
      for (const prompt of (await client.listPrompts()).prompts) {
        console.log(`${prompt.name.padEnd(36)} ${prompt.description ?? ''}`);
      }
      break;
    case 'prompt': {
      const result = await client.getPrompt({ name, arguments: parseJson(json) });
      for (const m of result.messages)
        console.log(`[${m.role}] ${m.content.text ?? JSON.stringify(m.content)}`);
      break;
    }
    case 'resources':
      for (const r of (await client.listResources()).resources) console.log(`${r.uri.padEnd(48)} ${r.name}`);
      break;
    case 'read':
      for (const c of (await client.readResource({ uri: name })).contents) console.log(c.text ?? c.blob);
      break;
    default:
      console.error(`unknown command ${command}: tools | call | prompts | prompt | resources | read`);
      exitCode = 2;
  }
} catch (err) {
  console.error(err.message);
  exitCode = 1;
} finally {
  await client.close();
}
process.exit(exitCode);
