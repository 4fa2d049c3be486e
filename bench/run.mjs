#!/usr/bin/env node
// End-to-end benchmark: tools/call of a trivial echo tool, direct to an HTTP upstream and through the hub,
// side by side in one run, at each concurrency. The hub and the upstream share CPU 0; wrk runs on CPU 1.
// Usage: node bench/run.mjs [--duration 5] [--warmup 10] [--concurrency 1,50] [--rounds 3]
//        [--profiles bare,auth,audit,protect,secure] [--database-url postgres://…/empty_db]
//        [--hub-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"]
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,50' },
    profiles: { type: 'string', default: 'bare,auth,audit,protect,secure' },
    rounds: { type: 'string', default: '3' },
    // PostgreSQL for every hub (default: each its own embedded PGlite). Use an empty database.
    'database-url': { type: 'string', default: '' },
    // Node.js flags for the hubs only, e.g. to profile them (profiles are written when they exit).
    'hub-node-args': { type: 'string', default: '' },
  },
});
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const CONCURRENCY = values.concurrency.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const UPSTREAM_PORT = 19199;
const HUB_PORT = 19090;
const HUB_NODE_ARGS = values['hub-node-args'].split(/\s+/).filter(Boolean);

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
async function rpc(url, session, method, params, auth = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      ...HEADERS,
      ...auth,
      ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const text = await res.text();
  return { session: res.headers.get('mcp-session-id'), body: text ? JSON.parse(text) : undefined };
}
async function openSession(url, auth = {}) {
  const init = await rpc(
    url,
    undefined,
    'initialize',
    { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
    auth,
  );
  if (!init.session) throw new Error(`initialize failed at ${url}: ${JSON.stringify(init.body)}`);
  await fetch(url, {
    method: 'POST',
    headers: { ...HEADERS, ...auth, 'mcp-session-id': init.session, 'mcp-protocol-version': '2025-11-25' },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  return init.session;
}

function wrk({ url, path, session, tool, headers = {} }, connections, seconds) {
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
    env: {
      ...process.env,
      BENCH_PATH: path,
      BENCH_SESSION: session,
      BENCH_TOOL: tool,
      BENCH_AUTHORIZATION: headers.authorization ?? '',
    },
    encoding: 'utf8',
  });
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`wrk printed no result:\n${out}`);
  return JSON.parse(line.slice(7));
}

/** User + system CPU time a process (or one thread of it) has used so far, in microseconds (Linux /proc). */
function cpuMicros(pid, thread) {
  const file = thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`;
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the line; after "pid (comm) " they are at 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

function peakRssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Math.round(Number(match[1]) / 1024) : undefined;
}

/**
 * Moves a hub's database threads to `core`: the embedded database's (pglite-worker.ts names it
 * omnihub-db) and the PostgreSQL audit writer's (pg-worker.ts: omnihub-audit). They exist to work
 * beside the request path; pinned with the hub they would only take turns with it. (PostgreSQL's own
 * processes are not pinned either.)
 */
const DATABASE_THREADS = new Set(['omnihub-db', 'omnihub-audit']);
function pinDatabaseThreads(pid, core) {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    if (DATABASE_THREADS.has(name) && have('taskset')) {
      execFileSync('taskset', ['-p', '-c', String(core), tid], { stdio: 'ignore' });
    }
  }
}

// Hub profiles, each its own process on its own data dir, measured one after the other against the same
// upstream: `bare` (OMNIHUB_AUTH=off, OMNIHUB_AUDIT=off: no credentials, administrator policy), `auth`
// (an API key of a non-admin user, the policy deciding every call), `audit` (auth plus the audit log),
// `protect` (auth plus health probes every second, circuit breakers and rate limits per principal,
// server and tool), `secure` (all of it).
const PROFILES = {
  bare: { auth: false, audit: false, protect: false },
  auth: { auth: true, audit: false, protect: false },
  audit: { auth: true, audit: true, protect: false },
  protect: { auth: true, audit: false, protect: true },
  secure: { auth: true, audit: true, protect: true },
};
const profileNames = values.profiles.split(',');
for (const name of profileNames) {
  if (!PROFILES[name]) {
    console.error(`unknown profile ${name}; known: ${Object.keys(PROFILES).join(', ')}`);
    process.exit(2);
  }
}

const workDir = mkdtempSync(join(tmpdir(), 'omnihub-bench-'));

/** The hub config of a profile: `protect` turns on health probes, breakers and rate limits. */
function writeConfig(name) {
  const { protect } = PROFILES[name];
  const file = join(workDir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'servers:',
      '  echo:',
      '    transport: http',
      `    url: http://127.0.0.1:${UPSTREAM_PORT}/mcp`,
      '    idempotent_tools: [echo]',
      `    health_check: { enabled: ${protect}, interval_ms: 1000 }`,
      `    circuit_breaker: { enabled: ${protect} }`,
      'roles:',
      '  bencher:',
      '    allow:',
      '      - { server: echo, tools: [echo] }',
      '      - { server: other*, tools: "*", resources: ["dev_*"] }',
      '    deny:',
      '      - { server: echo, tools: [dangerous_*] }',
      'users:',
      '  - { email: bench@omnihub.test, password: "bench-password-1", roles: [bencher] }',
      // Limits far above what the bench can reach: every call pays for the check, none is refused.
      ...(protect
        ? [
            'rate_limits:',
            '  default: { rate: 1000000, per: 1s }',
            '  servers:',
            '    echo: { rate: 1000000, per: 1s, tools: { echo: { rate: 1000000, per: 1s } } }',
          ]
        : []),
      '',
    ].join('\n'),
  );
  return file;
}

const upstream = start(0, 'node', ['examples/servers/echo-http.mjs', '--port', String(UPSTREAM_PORT)]);
const direct = `http://127.0.0.1:${UPSTREAM_PORT}`;
await waitFor(
  async () => (await fetch(`${direct}/mcp`, { method: 'POST', headers: HEADERS, body: '{}' })).status > 0,
  'upstream',
);

function cli(env, args) {
  return execFileSync('node', ['bin/omnihub.mjs', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

/** Starts a hub with the profile; returns its URL, the MCP session and the headers to call with. */
async function startHub(name, port) {
  const env = {
    OMNIHUB_DATA_DIR: join(workDir, `data-${name}`),
    OMNIHUB_LOG_LEVEL: 'warn',
    OMNIHUB_SECRET: 'bench-secret-bench-secret-bench-secret-0123456789',
    OMNIHUB_ADMIN_EMAIL: 'admin@omnihub.test',
    OMNIHUB_ADMIN_PASSWORD: 'bench-admin-password',
    DATABASE_URL: values['database-url'],
    OMNIHUB_AUTH: PROFILES[name].auth ? 'required' : 'off',
    OMNIHUB_AUDIT: PROFILES[name].audit ? 'on' : 'off',
  };
  let headers = {};
  const configFile = writeConfig(name);
  if (PROFILES[name].auth) {
    cli(env, ['apply', '-f', configFile]);
    const created = JSON.parse(
      cli(env, ['key', 'create', '-u', 'bench@omnihub.test', '-n', 'bench', '--json']),
    );
    headers = { authorization: `Bearer ${created.key}` };
  }
  const process_ = start(
    0,
    'node',
    [...HUB_NODE_ARGS, 'bin/omnihub.mjs', 'start', '--config', configFile, '--port', String(port)],
    env,
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${url}/ready`)).ok, `hub ${name}`);
  const session = await openSession(`${url}/mcp`, headers);
  await waitFor(async () => {
    const list = await rpc(`${url}/mcp`, session, 'tools/list', {}, headers);
    return list.body?.result?.tools?.some((t) => t.name === 'echo__echo');
  }, `hub ${name} to list echo__echo`);
  return { name, url, session, headers, process: process_ };
}

// The floor: a bare pass-through proxy on the same CPU (see floor-proxy.mjs).
const FLOOR_PORT = HUB_PORT - 1;
const floorProxy = start(0, 'node', [
  'bench/floor-proxy.mjs',
  '--port',
  String(FLOOR_PORT),
  '--upstream',
  direct,
]);
const floorUrl = `http://127.0.0.1:${FLOOR_PORT}`;
await waitFor(
  async () => (await fetch(`${floorUrl}/mcp`, { method: 'POST', headers: HEADERS, body: '{}' })).status > 0,
  'floor proxy',
);

const directSession = await openSession(`${direct}/mcp`);
const runs = [];
const peakRss = {};
const directTarget = {
  name: 'direct',
  url: direct,
  path: '/mcp',
  session: directSession,
  tool: 'echo',
  pid: upstream.pid,
};
// Every hub runs at once (idle while not measured); the targets are measured in rounds, one after the
// other, so drift of this shared machine hits every target alike. Each figure is the median round.
const targets = [
  directTarget,
  { name: 'floor', url: floorUrl, path: '/mcp', session: directSession, tool: 'echo', pid: floorProxy.pid },
];
const hubs = [];
for (const [i, name] of profileNames.entries()) {
  const hub = await startHub(name, HUB_PORT + i);
  hubs.push(hub);
  targets.push({
    name,
    url: hub.url,
    path: '/mcp',
    session: hub.session,
    tool: 'echo__echo',
    headers: hub.headers,
    pid: hub.process.pid,
  });
}
// Warm every target up under the heaviest load first: the JIT, and for PGlite the WebAssembly tier-up
// of the database, settle before anything is measured; then a short warm-up at each concurrency.
const heaviest = Math.max(...CONCURRENCY);
for (const target of targets) wrk(target, heaviest, WARMUP);
// After the warm-up: the PostgreSQL writer thread starts with the first audit batch.
for (const hub of hubs) pinDatabaseThreads(hub.process.pid, 1);
for (const connections of CONCURRENCY) {
  for (const target of targets) wrk(target, connections, 3);
  for (let round = 1; round <= ROUNDS; round++) {
    for (const target of targets) {
      const pid = target.pid;
      const cpuBefore = cpuMicros(pid);
      const mainBefore = cpuMicros(pid, pid);
      const r = wrk(target, connections, DURATION);
      // The process's own CPU per call: steadier than calls/s on a shared machine. Its main thread's
      // share is the request path; the rest is the embedded database, GC helpers and the like.
      r.cpu_us_per_call = (cpuMicros(pid) - cpuBefore) / r.requests;
      r.main_cpu_us_per_call = (cpuMicros(pid, pid) - mainBefore) / r.requests;
      runs.push({ target: target.name, connections, round, ...r });
      console.error(
        `round ${round} ${target.name.padEnd(7)} c=${String(connections).padStart(3)}  ${r.rps.toFixed(0).padStart(7)} calls/s  p50 ${r.p50_ms.toFixed(2)} ms  p99 ${r.p99_ms.toFixed(2)} ms  cpu ${r.cpu_us_per_call.toFixed(0)} µs/call  bad ${r.bad} errors ${r.errors}`,
      );
    }
  }
}
for (const hub of hubs) {
  peakRss[hub.name] = peakRssMb(hub.process.pid);
  hub.process.kill('SIGTERM');
}

/** The median round of a target (by calls/s), with its latencies. */
function median(target, connections) {
  const all = runs.filter((r) => r.target === target && r.connections === connections);
  all.sort((a, b) => a.rps - b.rps);
  return all[Math.floor(all.length / 2)];
}
cleanup();
rmSync(workDir, { recursive: true, force: true });

const find = median;
console.log(
  '\n| profile | connections | calls/s | vs direct | vs bare | p50 / p99 ms | added p99 ms | CPU µs/call (main thread) | peak RSS MB |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const connections of CONCURRENCY) {
  const d = find('direct', connections);
  const f = find('floor', connections);
  console.log(
    `| direct | ${connections} | ${d.rps.toFixed(0)} | 1.00 | | ${d.p50_ms.toFixed(2)} / ${d.p99_ms.toFixed(2)} | | ${d.cpu_us_per_call.toFixed(0)} | |`,
  );
  console.log(
    `| floor proxy | ${connections} | ${f.rps.toFixed(0)} | ${(f.rps / d.rps).toFixed(2)} | | ${f.p50_ms.toFixed(2)} / ${f.p99_ms.toFixed(2)} | ${(f.p99_ms - d.p99_ms).toFixed(2)} | ${f.cpu_us_per_call.toFixed(0)} | |`,
  );
  for (const name of profileNames) {
    const h = find(name, connections);
    const bare = find('bare', connections);
    console.log(
      `| ${name} | ${connections} | ${h.rps.toFixed(0)} | ${(h.rps / d.rps).toFixed(2)} | ${bare ? (h.rps / bare.rps).toFixed(2) : ''} | ${h.p50_ms.toFixed(2)} / ${h.p99_ms.toFixed(2)} | ${(h.p99_ms - d.p99_ms).toFixed(2)} | ${h.cpu_us_per_call.toFixed(0)} (${h.main_cpu_us_per_call.toFixed(0)}) | ${peakRss[name]} |`,
    );
  }
}
// Each feature's cost: calls/s with it on over calls/s of the same run without it.
const FEATURE_RATIOS = [
  ['auth', 'bare'],
  ['audit', 'auth'],
  ['protect', 'auth'],
  ['secure', 'auth'],
];
for (const connections of CONCURRENCY) {
  const ratios = FEATURE_RATIOS.filter(([on, off]) => find(on, connections) && find(off, connections)).map(
    ([on, off]) => `${on}/${off} ${(find(on, connections).rps / find(off, connections).rps).toFixed(2)}`,
  );
  if (ratios.length > 0) console.log(`c=${connections}: ${ratios.join(' · ')}`);
}
console.log(`\nbad responses (all rounds): ${runs.reduce((n, r) => n + r.bad + r.errors, 0)}`);
mkdirSync('bench/results', { recursive: true });
const file = `bench/results/e2e-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
writeFileSync(
  file,
  JSON.stringify({ duration: DURATION, rounds: ROUNDS, runs, peakRssMb: peakRss }, null, 2),
);
console.log(`raw results: ${file}`);
