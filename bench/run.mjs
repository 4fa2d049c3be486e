#!/usr/bin/env node
// End-to-end benchmark: tools/call of a trivial echo tool, direct to an HTTP upstream and through the hub,
// side by side in one run, at each concurrency. The hub and the upstream share CPU 0; wrk runs on CPU 1.
// Usage: node bench/run.mjs [--duration 10] [--warmup 3] [--concurrency 1,50]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '1,50' },
  },
});
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const CONCURRENCY = values.concurrency.split(',').map(Number);
const UPSTREAM_PORT = 19199;
const HUB_PORT = 19090;

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
if (!have('wrk')) {
  console.error('wrk is not installed: apt-get install -y wrk');
  process.exit(2);
}
const pin = (core, cmd, args) =>
  have('taskset') ? ['taskset', ['-c', String(core), cmd, ...args]] : [cmd, args];

const children = [];
function start(core, cmd, args, env = {}) {
  const [c, a] = pin(core, cmd, args);
  const child = spawn(c, a, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(child);
  return child;
}
function cleanup() {
  for (const child of children) child.kill('SIGTERM');
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

async function waitFor(check, what, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
};
async function rpc(url, session, method, params) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      ...HEADERS,
      ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const text = await res.text();
  return { session: res.headers.get('mcp-session-id'), body: text ? JSON.parse(text) : undefined };
}
async function openSession(url) {
  const init = await rpc(url, undefined, 'initialize', {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'bench', version: '1' },
  });
  await fetch(url, {
    method: 'POST',
    headers: { ...HEADERS, 'mcp-session-id': init.session, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  return init.session;
}

function wrk(url, path, session, tool, connections, seconds) {
  const [c, a] = pin(1, 'wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--latency',
    '-s',
    'bench/mcp-call.lua',
    url,
  ]);
  const out = execFileSync(c, a, {
    env: { ...process.env, BENCH_PATH: path, BENCH_SESSION: session, BENCH_TOOL: tool },
    encoding: 'utf8',
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  return JSON.parse(line.slice(7));
}

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Math.round(Number(match[1]) / 1024) : undefined;
}

const dataDir = mkdtempSync(join(tmpdir(), 'omnihub-bench-'));
const configFile = join(dataDir, 'bench.yaml');
writeFileSync(
  configFile,
  `servers:\n  echo:\n    transport: http\n    url: http://127.0.0.1:${UPSTREAM_PORT}/mcp\n    idempotent_tools: [echo]\n`,
);

start(0, 'node', ['examples/servers/echo-http.mjs', '--port', String(UPSTREAM_PORT)]);
const hub = start(
  0,
  'node',
  ['bin/omnihub.mjs', 'start', '--config', configFile, '--port', String(HUB_PORT)],
  {
    OMNIHUB_DATA_DIR: join(dataDir, 'data'),
    OMNIHUB_LOG_LEVEL: 'warn',
    DATABASE_URL: '',
  },
);

const direct = `http://127.0.0.1:${UPSTREAM_PORT}`;
const through = `http://127.0.0.1:${HUB_PORT}`;
await waitFor(
  async () => (await fetch(`${direct}/mcp`, { method: 'POST', headers: HEADERS, body: '{}' })).status > 0,
  'upstream',
);
await waitFor(async () => (await fetch(`${through}/ready`)).ok, 'hub');
const directSession = await openSession(`${direct}/mcp`);
const hubSession = await openSession(`${through}/mcp`);
await waitFor(async () => {
  const list = await rpc(`${through}/mcp`, hubSession, 'tools/list', {});
  return list.body?.result?.tools?.some((t) => t.name === 'echo__echo');
}, 'the hub to list echo__echo');

const targets = [
  { name: 'direct', url: direct, path: '/mcp', session: directSession, tool: 'echo' },
  { name: 'hub', url: through, path: '/mcp', session: hubSession, tool: 'echo__echo' },
];
const results = [];
for (const connections of CONCURRENCY) {
  for (const t of targets) {
    wrk(t.url, t.path, t.session, t.tool, connections, WARMUP);
    const r = wrk(t.url, t.path, t.session, t.tool, connections, DURATION);
    results.push({ target: t.name, connections, ...r });
    console.error(
      `${t.name.padEnd(6)} c=${String(connections).padStart(3)}  ${r.rps.toFixed(0).padStart(7)} calls/s  p50 ${r.p50_ms.toFixed(2)} ms  p99 ${r.p99_ms.toFixed(2)} ms  bad ${r.bad} errors ${r.errors}`,
    );
  }
}
const hubPeakRss = peakRssMb(hub.pid);
cleanup();
rmSync(dataDir, { recursive: true, force: true });

console.log(
  '\n| connections | direct calls/s | hub calls/s | hub/direct | direct p50 / p99 ms | hub p50 / p99 ms | added p99 ms |',
);
console.log('|---|---|---|---|---|---|---|');
for (const connections of CONCURRENCY) {
  const d = results.find((r) => r.target === 'direct' && r.connections === connections);
  const h = results.find((r) => r.target === 'hub' && r.connections === connections);
  console.log(
    `| ${connections} | ${d.rps.toFixed(0)} | ${h.rps.toFixed(0)} | ${(h.rps / d.rps).toFixed(2)} | ${d.p50_ms.toFixed(2)} / ${d.p99_ms.toFixed(2)} | ${h.p50_ms.toFixed(2)} / ${h.p99_ms.toFixed(2)} | ${(h.p99_ms - d.p99_ms).toFixed(2)} |`,
  );
}
console.log(
  `\nhub peak RSS: ${hubPeakRss} MB; bad responses: ${results.reduce((n, r) => n + r.bad + r.errors, 0)}`,
);
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/e2e-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(file, JSON.stringify({ duration: DURATION, results, hubPeakRssMb: hubPeakRss }, null, 2));
console.log(`raw results: ${file}`);
