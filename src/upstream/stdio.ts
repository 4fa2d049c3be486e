import { type ChildProcess, spawn } from 'node:child_process';
import type { JsonRpcMessage } from '../mcp/jsonrpc.ts';
import type { Logger } from '../telemetry/logger.ts';
import { NotSentError, type Transport } from './transport.ts';

export interface StdioOptions {
  /** Server name, for logs. */
  name: string;
  command: string;
  args: readonly string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  logger: Logger;
  /** How long to wait after closing stdin, and after SIGTERM, before escalating. */
  gracefulMs?: number;
}

/** The only variables a child inherits from the hub: the hub's environment holds its secrets. */
const INHERITED_ENV = ['PATH', 'HOME', 'LANG'] as const;

/** Guard against a child that writes an endless line (no newline) to stdout. */
const MAX_LINE = 64 * 1024 * 1024;

// Children run in their own process group (so a stop reaches grandchildren). They would outlive a
// hub that exits without closing its upstreams, so the last thing the hub does is kill them.
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function trackGroup(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const group of liveGroups) killGroup(group, 'SIGKILL');
  });
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export function minimalEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return Object.assign(env, extra);
}

/** Newline-delimited JSON-RPC over a child's stdin/stdout; stderr goes to the log. */
export class StdioTransport implements Transport {
  readonly associatesRequests = false;
  readonly abortable = false;
  onmessage?: Transport['onmessage'];
  onclose?: Transport['onclose'];

  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private closing = false;
  private closed = false;
  private stdoutBuf = '';
  private stderrBuf = '';
  private readonly gracefulMs: number;

  constructor(private readonly opts: StdioOptions) {
    this.gracefulMs = opts.gracefulMs ?? 2000;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const { command, args, env, cwd } = this.opts;
    const child = spawn(command, args as string[], {
      cwd,
      env: minimalEnv(env),
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      windowsHide: true,
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr!.on('data', (chunk: string) => this.onStderr(chunk));
    // EPIPE when the child dies mid-write: the exit handler reports the loss.
    child.stdin!.on('error', (err) => this.opts.logger.debug({ server: this.opts.name, err }, 'stdin error'));

    return new Promise((resolve, reject) => {
      child.once('spawn', () => {
        if (child.pid !== undefined) trackGroup(child.pid);
        resolve();
      });
      child.once('error', (err) => {
        this.finish(err);
        reject(new NotSentError(`cannot start ${this.opts.command}`, err));
      });
      child.once('exit', (code, signal) => {
        if (child.pid !== undefined) liveGroups.delete(child.pid);
        this.finish(
          this.closing ? undefined : new Error(`process exited (${signal ?? `code ${code ?? 'unknown'}`})`),
        );
      });
    });
  }

  send(message: JsonRpcMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.closed || stdin.destroyed || !stdin.writable) {
      return Promise.reject(new NotSentError('upstream process is not running'));
    }
    // Node buffers writes; the child reading slower than we write only costs memory here.
    stdin.write(JSON.stringify(message) + '\n');
    return Promise.resolve();
  }

  /** Close stdin, wait; SIGTERM the group, wait; SIGKILL the group (MCP lifecycle, stdio shutdown). */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || this.closing) return this.exited;
    this.closing = true;
    const pid = child.pid;
    if (child.exitCode === null && child.signalCode === null && pid !== undefined) {
      child.stdin?.end();
      if (!(await this.waitExit(this.gracefulMs))) {
        killGroup(pid, 'SIGTERM');
        if (!(await this.waitExit(this.gracefulMs))) {
          killGroup(pid, 'SIGKILL');
          await this.waitExit(this.gracefulMs);
        }
      }
    }
    // Grandchildren may still hold the group after the leader left.
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
    this.finish(undefined);
  }

  private waitExit(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.exited!.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private finish(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.(error);
  }

  private onStdout(chunk: string): void {
    const data = this.stdoutBuf + chunk;
    let start = 0;
    let nl = data.indexOf('\n');
    while (nl !== -1) {
      this.onLine(data.slice(start, nl));
      start = nl + 1;
      nl = data.indexOf('\n', start);
    }
    let buf = start === 0 ? data : data.slice(start);
    if (buf.length > MAX_LINE) {
      this.opts.logger.warn(
        { server: this.opts.name },
        'upstream wrote an over-long line to stdout; dropped',
      );
      buf = '';
    }
    this.stdoutBuf = buf;
  }

  private onLine(raw: string): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.opts.logger.warn({ server: this.opts.name, line: line.slice(0, 500) }, 'non-JSON line on stdout');
      return;
    }
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.opts.logger.warn({ server: this.opts.name }, 'non-message JSON on stdout');
      return;
    }
    this.onmessage?.(message as JsonRpcMessage);
  }

  private onStderr(chunk: string): void {
    const lines = (this.stderrBuf + chunk).split('\n');
    this.stderrBuf = lines.pop() ?? '';
    if (this.stderrBuf.length > 64 * 1024) this.stderrBuf = '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      // stderr is a log channel, not an error signal (spec 2025-11-25, stdio); loud words get warn.
      if (/\b(error|fatal|panic|exception)\b/i.test(line)) {
        this.opts.logger.warn({ server: this.opts.name, stderr: line }, 'upstream stderr');
      } else {
        this.opts.logger.debug({ server: this.opts.name, stderr: line }, 'upstream stderr');
      }
    }
  }
}
