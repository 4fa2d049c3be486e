import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Spawns a process in its own group and waits until its output matches `ready`. */
export async function spawnUntil(
  command: string,
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
  timeoutMs = 20_000,
): Promise<ChildProcess> {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Nobody else holds the child yet: left running, it would outlive the test run.
      killGroup(child, 'SIGKILL');
      reject(new Error(`not ready in time: ${command} ${args.join(' ')}\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready: ${output}`));
    });
  });
  return child;
}

/** Kills a spawned process group. */
export function killGroup(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child?.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export const EVERYTHING = 'node_modules/@modelcontextprotocol/server-everything/dist/index.js';

/** Pids of this process's children whose command line contains `script` (stdio upstreams the hub spawned). */
export function childrenRunning(script: string): number[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return ps
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => Number(f[1]) === process.pid && f.slice(2).join(' ').includes(script))
    .map((f) => Number(f[0]));
}
