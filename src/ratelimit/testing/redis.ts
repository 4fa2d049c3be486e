/**
 * Private redis-server processes for tests, never the shared one on 6379: loopback only, nothing on
 * disk. Each one is tracked from the moment it is spawned, so none outlives its test file:
 * - stopAllRedis() (call it in afterAll) kills every one still running, whatever the tests did;
 * - the test process kills any left when it exits;
 * - on Linux, `setpriv --pdeathsig KILL` makes the kernel kill it if the test process dies abruptly.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

const running = new Set<ChildProcess>();

/** True where the kernel kills a server when the process that started it dies (Linux with setpriv). */
export const diesWithParent =
  spawnSync('setpriv', ['--help'], { encoding: 'utf8' }).stdout?.includes('--pdeathsig') === true;

const parentDeathPrefix = diesWithParent ? ['setpriv', '--pdeathsig', 'KILL'] : [];

process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface PrivateRedis {
  port: number;
  url: string;
  child: ChildProcess;
}

/** Starts redis-server (on `port`, or a free one); resolves once it accepts connections. */
export async function startRedis(port?: number, timeoutMs = 10_000): Promise<PrivateRedis> {
  port ??= await freePort();
  const [command, ...args] = [
    ...parentDeathPrefix,
    'redis-server',
    ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
  ];
  const child = spawn(command as string, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  try {
    await accepting(child, timeoutMs);
  } catch (err) {
    await stopRedis(child);
    throw err;
  }
  return { port, url: `redis://127.0.0.1:${port}`, child };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function accepting(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let out = '';
    let ready = false;
    const timer = setTimeout(() => reject(new Error(`redis-server not ready in time: ${out}`)), timeoutMs);
    // Keeps reading after ready too: a full pipe would stall the server.
    const onData = (chunk: Buffer) => {
      if (ready) return;
      out += chunk.toString();
      if (/Ready to accept connections/.test(out)) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${out}`));
    });
  });
}

/** Kills one server and waits until it is gone. */
export function stopRedis(child: ChildProcess): Promise<void> {
  if (!running.has(child)) return Promise.resolve();
  if (child.pid === undefined) {
    // Never started (no redis-server on this machine): there is no exit to wait for.
    running.delete(child);
    return Promise.resolve();
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

/** Kills every server this process started that is still running. */
export async function stopAllRedis(): Promise<void> {
  await Promise.all([...running].map(stopRedis));
}
