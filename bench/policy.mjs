#!/usr/bin/env node
// Policy decision micro-benchmark: one in-process `decide()` on a policy of 1,000 rules over 100 servers.
// Usage: node --import tsx bench/policy.mjs [--decisions 200000]
import { parseArgs } from 'node:util';
import { compilePolicy, decide } from '../src/policy/engine.ts';

const { values } = parseArgs({ options: { decisions: { type: 'string', default: '200000' } } });
const N = Number(values.decisions);

// Deterministic PRNG so that runs are comparable.
let seed = 42;
const rand = () => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed / 0x80000000;
};
const pick = (a) => a[Math.floor(rand() * a.length)];

const SERVERS = Array.from({ length: 100 }, (_, i) => `srv${String(i).padStart(3, '0')}`);
const TOOLS = Array.from({ length: 40 }, (_, i) => `${pick(['get', 'list', 'run', 'analyze'])}_${i}`);
const RESOURCES = ['dev_db', 'dev_01', 'staging_db', 'prod_db', 'prod_eu', 'test'];

function serverGlob() {
  const r = rand();
  if (r < 0.7) return pick(SERVERS); // exact name
  if (r < 0.9) return `srv0${Math.floor(rand() * 10)}*`; // prefix glob
  if (r < 0.97) return `*${Math.floor(rand() * 10)}`; // suffix glob
  return '*';
}
function names(list) {
  const r = rand();
  if (r < 0.15) return '*';
  if (r < 0.3) return `${pick(['get', 'list', 'run', 'analyze'])}_*`;
  return Array.from({ length: 1 + Math.floor(rand() * 4) }, () => pick(list));
}
function rule(deny) {
  const r = { server: serverGlob() };
  const what = rand();
  if (what < 0.7) r.tools = names(TOOLS);
  else if (what < 0.85) r.prompts = names(['report', 'summary', 'daily_*']);
  else r.uris = ['file:///data/*', 'db://*'];
  if (rand() < 0.3) r.resources = deny ? ['prod_*'] : [pick(['dev_*', 'staging_*', 'test'])];
  return r;
}

const ROLES = Array.from({ length: 10 }, (_, i) => `role${i}`);
const roles = {};
let count = 0;
for (const name of ROLES) {
  roles[name] = { allow: [], deny: [] };
  for (let i = 0; i < 100; i++, count++) {
    if (rand() < 0.15) roles[name].deny.push(rule(true));
    else roles[name].allow.push(rule(false));
  }
}
const t0 = process.hrtime.bigint();
const policy = compilePolicy(roles);
const compileUs = Number(process.hrtime.bigint() - t0) / 1e3;

function request() {
  const r = rand();
  const kind = r < 0.8 ? 'tool' : r < 0.9 ? 'prompt' : r < 0.95 ? 'uri' : 'server';
  const server = rand() < 0.98 ? pick(SERVERS) : `unknown${Math.floor(rand() * 5)}`;
  const name =
    kind === 'tool'
      ? pick(TOOLS)
      : kind === 'prompt'
        ? pick(['report', 'daily_sales'])
        : kind === 'uri'
          ? 'file:///data/x.csv'
          : undefined;
  const req = { server, kind };
  if (name !== undefined) req.name = name;
  if (kind === 'tool' && rand() < 0.7) req.resource = pick(RESOURCES);
  const subject = { roles: Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(ROLES)) };
  return { subject, req };
}

const cases = Array.from({ length: N }, request);
let allowed = 0;
// Warm-up: JIT and the per-server views (a real hub serves a fixed set of servers).
for (let i = 0; i < 3; i++) for (const c of cases) decide(policy, c.subject, c.req);

const lat = new Float64Array(N);
for (let i = 0; i < N; i++) {
  const c = cases[i];
  const start = process.hrtime.bigint();
  const d = decide(policy, c.subject, c.req);
  lat[i] = Number(process.hrtime.bigint() - start) / 1e3;
  if (d.allow) allowed++;
}
// Throughput without per-call timer overhead.
const loops = 3;
const tStart = process.hrtime.bigint();
for (let l = 0; l < loops; l++) for (const c of cases) decide(policy, c.subject, c.req);
const seconds = Number(process.hrtime.bigint() - tStart) / 1e9;

// Timer floor: two back-to-back hrtime calls, to read the figures above against.
const floor = new Float64Array(N);
for (let i = 0; i < N; i++) {
  const s = process.hrtime.bigint();
  floor[i] = Number(process.hrtime.bigint() - s) / 1e3;
}

const pct = (arr, p) => {
  const sorted = Float64Array.from(arr).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const fmt = (x) => x.toFixed(2);
console.log(
  `policy: ${count} rules, ${ROLES.length} roles, ${SERVERS.length} servers; compiled in ${fmt(compileUs / 1000)} ms`,
);
console.log(
  `decisions: ${N} random requests (${((allowed / N) * 100).toFixed(1)}% allowed), node ${process.version}`,
);
console.log(
  `latency µs: p50 ${fmt(pct(lat, 50))}  p99 ${fmt(pct(lat, 99))}  p99.9 ${fmt(pct(lat, 99.9))}  max ${fmt(pct(lat, 100))}`,
);
console.log(`timer floor µs: p50 ${fmt(pct(floor, 50))}  p99 ${fmt(pct(floor, 99))}`);
console.log(
  `throughput: ${Math.round((loops * N) / seconds).toLocaleString('en-US')} decisions/s (one core)`,
);
const p99 = pct(lat, 99);
if (p99 > 10) {
  console.error(`p99 ${fmt(p99)} µs is over the 10 µs target`);
  process.exitCode = 1;
}
