#!/usr/bin/env node
// Cost of the resilience layer on the upstream hot path: tools/call through one ServerUpstream to the raw
// HTTP echo upstream, 50 concurrent loops, with circuit breakers + health probes (1 s) on vs both off.
// Alternating runs; prints the medians and their ratio (target: on ≥ 90% of off).
// Usage: node --import tsx bench/upstream-resilience.mjs [--seconds 4] [--rounds 3]
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';
import { parseConfig } from '../src/config/load.ts';
import { HealthMonitor } from '../src/health/monitor.ts';
import { silentLogger } from '../src/telemetry/logger.ts';
import { createServerUpstream } from '../src/upstream/index.ts';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' } },
});
const MS = Number(values.seconds) * 1000;
const ROUNDS = Number(values.rounds);
const PORT = 19377;

const echo = spawn('node', ['examples/servers/echo-http.mjs', '--port', String(PORT)], { stdio: 'ignore' });
process.on('exit', () => echo.kill());
await new Promise((r) => setTimeout(r, 800));

async function run(on, ms) {
  const config = parseConfig({
    servers: {
      s: {
        transport: 'http',
        url: `http://127.0.0.1:${PORT}/mcp`,
        circuit_breaker: { enabled: on },
        health_check: { enabled: on, interval_ms: 1000 },
      },
    },
  }).servers.s;
  const upstream = createServerUpstream('s', config, silentLogger);
  const monitor = new HealthMonitor({ logger: silentLogger });
  await upstream.start();
  if (on) monitor.watch('s', upstream, config.health_check);
  let calls = 0;
  const end = Date.now() + ms;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (Date.now() < end) {
        await upstream.request('tools/call', { name: 'echo', arguments: { message: 'hi' } }, {});
        calls++;
      }
    }),
  );
  await monitor.close();
  await upstream.close();
  return calls / (ms / 1000);
}

const results = { on: [], off: [] };
await run(true, 1500); // warm-up
await run(false, 1500);
for (let i = 0; i < ROUNDS; i++) {
  results.off.push(await run(false, MS));
  results.on.push(await run(true, MS));
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const on = median(results.on);
const off = median(results.off);
console.log(JSON.stringify({ calls_per_s: results }));
console.log(`median off ${off.toFixed(0)}/s, on ${on.toFixed(0)}/s, ratio ${(on / off).toFixed(3)}`);
process.exit(on / off >= 0.9 ? 0 : 1);
