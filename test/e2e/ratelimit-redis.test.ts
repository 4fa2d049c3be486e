/**
 * Rate limits across real hub processes (`omnihub start`): two hubs sharing the real Redis enforce one
 * combined limit; a hub whose Redis goes away keeps serving with local limits, says so in its logs and
 * metrics, and shares again once Redis is back.
 *
 * The hubs run with OMNIHUB_AUTH=off, so every call is the same principal (the local administrator) on
 * both: exactly what a user with one API key spread over two instances looks like to the limiter. Each
 * run uses a server name of its own, so its Redis keys (`omnihub:rl:{…}:s:<server>`) are its own too.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateRedis, startRedis, stopAllRedis, stopRedis } from '../../src/ratelimit/testing/redis.ts';
import { connectClient } from '../helpers/client.ts';
import { eventually } from '../helpers/hub.ts';
import { EVERYTHING, freePort, killGroup, spawnUntil } from '../helpers/processes.ts';

const SHARED_REDIS = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const LIMIT = 6;

interface HubProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

const started: ChildProcess[] = [];
const clients: Client[] = [];

afterAll(async () => {
  for (const client of clients) await client.close().catch(() => undefined);
  for (const child of started) killGroup(child, 'SIGKILL');
  await stopAllRedis();
});

/** Starts `omnihub start` with a config limiting `server` to LIMIT calls an hour per principal. */
async function startHubProcess(server: string, redisUrl: string): Promise<HubProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'omnihub-rl-'));
  const config = join(dir, 'hub.yaml');
  writeFileSync(
    config,
    [
      'servers:',
      `  ${server}:`,
      '    transport: stdio',
      '    command: node',
      `    args: [${EVERYTHING}, stdio]`,
      'roles:',
      '  admin:',
      '    allow:',
      '      - { server: "*", tools: "*" }',
      'rate_limits:',
      '  servers:',
      `    ${server}: { rate: ${LIMIT}, per: 1h }`,
    ].join('\n'),
  );
  const port = await freePort();
  const child = await spawnUntil(
    'node',
    ['bin/omnihub.mjs', 'start', '--config', config, '--port', String(port)],
    /is running/,
    {
      OMNIHUB_DATA_DIR: join(dir, 'data'),
      OMNIHUB_AUTH: 'off',
      OMNIHUB_LOG_LEVEL: 'info',
      REDIS_URL: redisUrl,
    },
    60_000,
  );
  started.push(child);
  let output = '';
  child.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

async function clientFor(hub: HubProcess, server: string): Promise<Client> {
  const client = await connectClient(`${hub.url}/mcp/${server}`);
  clients.push(client);
  await eventually(async () => {
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('echo');
  }, 30_000);
  return client;
}

/** 'ok', or the retry hint of a RATE_LIMITED refusal; anything else fails the test. */
async function echo(client: Client): Promise<'ok' | number> {
  try {
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hi' } });
    expect(result.isError).not.toBe(true);
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32006);
    const retryAfterMs = ((err as McpError).data as { retryAfterMs?: number }).retryAfterMs;
    expect(retryAfterMs).toBeGreaterThan(0);
    return retryAfterMs as number;
  }
}

async function metricsOf(hub: HubProcess): Promise<string> {
  const res = await fetch(`${hub.url}/metrics`);
  expect(res.status).toBe(200);
  return res.text();
}

describe('two hub processes sharing Redis', () => {
  const server = `rl_${randomBytes(5).toString('hex')}`;
  let a: HubProcess;
  let b: HubProcess;
  let clientA: Client;
  let clientB: Client;

  beforeAll(async () => {
    [a, b] = await Promise.all([
      startHubProcess(server, SHARED_REDIS),
      startHubProcess(server, SHARED_REDIS),
    ]);
    [clientA, clientB] = await Promise.all([clientFor(a, server), clientFor(b, server)]);
  }, 120_000);

  it('enforce one combined limit', async () => {
    const answers: ('ok' | number)[] = [];
    for (let i = 0; i < LIMIT; i++) {
      answers.push(await echo(clientA));
      answers.push(await echo(clientB));
    }
    expect(answers.filter((x) => x === 'ok')).toHaveLength(LIMIT);
    // Over the limit on both, with an honest hint (one call an hour refills every 10 minutes).
    const refusedA = await echo(clientA);
    const refusedB = await echo(clientB);
    expect(refusedA).toBeTypeOf('number');
    expect(refusedB).toBeTypeOf('number');
    expect(refusedA as number).toBeLessThanOrEqual(600_000);
    const text = await metricsOf(a);
    expect(text).toMatch(/omnihub_rate_limited_total\{scope="server"\} [1-9]/);
    expect(text).toMatch(/omnihub_rate_limit_redis_up 1/);
  }, 60_000);
});

describe('a hub whose Redis goes away', () => {
  const server = `rl_${randomBytes(5).toString('hex')}`;
  let redis: PrivateRedis;
  let hub: HubProcess;
  let client: Client;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHubProcess(server, redis.url);
    client = await clientFor(hub, server);
  }, 120_000);

  it('keeps serving with local limits, says so, and shares again when Redis is back', async () => {
    expect(await echo(client)).toBe('ok');
    await eventually(async () => expect(await metricsOf(hub)).toMatch(/omnihub_rate_limit_redis_up 1/));

    await stopRedis(redis.child);
    await eventually(() => expect(hub.output()).toMatch(/Redis is unreachable/), 10_000);
    // Still serving, still limiting: this instance's own buckets start full.
    const answers: ('ok' | number)[] = [];
    for (let i = 0; i < LIMIT + 2; i++) answers.push(await echo(client));
    expect(answers.filter((x) => x === 'ok')).toHaveLength(LIMIT);
    const text = await metricsOf(hub);
    expect(text).toMatch(/omnihub_rate_limit_redis_up 0/);
    expect(text).toMatch(/omnihub_rate_limit_local_fallback_total [1-9]/);

    redis = await startRedis(redis.port);
    await eventually(() => expect(hub.output()).toMatch(/Redis is back/), 15_000);
    await eventually(async () => expect(await metricsOf(hub)).toMatch(/omnihub_rate_limit_redis_up 1/));
    // The restarted Redis is empty (it keeps nothing on disk): the shared bucket is full again.
    const after: ('ok' | number)[] = [];
    for (let i = 0; i < LIMIT; i++) after.push(await echo(client));
    expect(after.filter((x) => x === 'ok')).toHaveLength(LIMIT);
  }, 90_000);
});
