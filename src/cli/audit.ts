/** `omnihub audit verify` and `omnihub audit export`: run against the hub's database (env DATABASE_URL / OMNIHUB_DATA_DIR). */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import { type ExportFormat, exportLines, parseFilters } from '../audit/query.ts';
import { verifyChain } from '../audit/verify.ts';
import { readEnv } from '../config/env.ts';
import { HubError } from '../server/errors.ts';
import { openStore, type Store } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';

async function withStore<T>(fn: (store: Store) => Promise<T>): Promise<T> {
  const env = readEnv();
  const store = await openStore({
    databaseUrl: env.databaseUrl,
    dataDir: env.dataDir,
    logger: createLogger({ level: 'warn' }),
  });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

interface ExportOptions {
  format: string;
  output?: string;
  from?: string;
  to?: string;
  user?: string;
  server?: string;
  tool?: string;
  resource?: string;
  decision?: string;
  outcome?: string;
  type?: string;
  action?: string;
  q?: string;
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('verify and export the audit trail');

  audit
    .command('verify')
    .description(
      'walk the hash chain; exit code 1 names the first event edited, deleted, inserted or reordered',
    )
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const result = await withStore((store) =>
        verifyChain(store.db, {
          onProgress: opts.json ? undefined : (n) => process.stderr.write(`  ${n} events checked…\r`),
        }),
      );
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      } else if (result.ok) {
        process.stdout.write(
          `audit chain OK: ${result.checked} events (seq ${result.anchor.seq + 1}..${result.head.seq}), head ${result.head.hash}\n`,
        );
      } else {
        process.stdout.write(
          `audit chain BROKEN after ${result.checked} good events: ${result.problem?.kind}: ${result.problem?.message}\n`,
        );
      }
      process.exitCode = result.ok ? 0 : 1;
    });

  audit
    .command('export')
    .description('stream events (oldest first) as JSON Lines or CSV')
    .option('--format <format>', 'jsonl | csv', 'jsonl')
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .option('--from <time>', 'from this time (ISO 8601), inclusive')
    .option('--to <time>', 'up to this time (ISO 8601), exclusive')
    .option('--user <user>', 'email, user id or principal id')
    .option('--server <server>')
    .option('--tool <name>', 'tool or prompt name, or resource URI')
    .option('--resource <resource>', 'value of the resource argument (e.g. prod_db)')
    .option('--decision <decision>', 'allow | deny')
    .option('--outcome <outcome>', 'ok, denied, tool_error, upstream_error, timeout, rate_limited, error')
    .option('--type <type>', 'mcp | auth | admin')
    .option('--action <action>', 'MCP method or event action (tools/call, login_failed, …)')
    .option('-q, --q <text>', 'free text')
    .action(async (opts: ExportOptions) => {
      if (opts.format !== 'jsonl' && opts.format !== 'csv') {
        throw new HubError('INVALID_PARAMS', '--format must be jsonl or csv');
      }
      const format: ExportFormat = opts.format;
      const { format: _f, output, ...rest } = opts;
      const filters = parseFilters(rest as Record<string, unknown>);
      await withStore(async (store) => {
        const out: Writable = output ? createWriteStream(output) : process.stdout;
        for await (const chunk of exportLines(store.db, filters, format)) await write(out, chunk);
        if (output) {
          out.end();
          await once(out, 'finish');
        }
      });
    });
}
