import { spawn } from 'node:child_process';
import { afterAll, expect, it } from 'vitest';
import { diesWithParent, startRedis, stopAllRedis } from './redis.ts';

afterAll(stopAllRedis);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 25));
  return !alive(pid);
}

it('stopAllRedis kills every server still running', async () => {
  const servers = await Promise.all([startRedis(), startRedis()]);
  const pids = servers.map((s) => s.child.pid as number);
  expect(pids.every(alive)).toBe(true);
  await stopAllRedis();
  for (const pid of pids) expect(await gone(pid)).toBe(true);
});

it.skipIf(!diesWithParent)('a server dies with the process that started it, however it died', async () => {
  const script = `
    const { startRedis } = await import('./src/ratelimit/testing/redis.ts');
    const redis = await startRedis();
    console.log(redis.child.pid);
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    parent.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    parent.once('exit', (code) => reject(new Error(`the parent exited early (${code})`)));
  });
  expect(alive(pid)).toBe(true);
  // SIGKILL: no exit handler, no afterAll runs in the parent.
  parent.kill('SIGKILL');
  expect(await gone(pid)).toBe(true);
});
