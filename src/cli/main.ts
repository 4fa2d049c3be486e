import { Command, InvalidArgumentError } from 'commander';
import { config as loadDotenv } from 'dotenv';
import { applyConfig } from '../config/apply.ts';
import { readEnv } from '../config/env.ts';
import { loadConfigFile } from '../config/load.ts';
import { HubError } from '../server/errors.ts';
import { installSignalHandlers } from '../server/lifecycle.ts';
import { startHub } from '../server/start.ts';
import { VERSION } from '../server/version.ts';
import { openStore } from '../store/store.ts';
import { createLogger } from '../telemetry/logger.ts';
import { registerAuditCommands } from './audit.ts';
import { registerKeyCommands } from './key.ts';
import { registerRoleCommands } from './role.ts';
import { registerServerCommands } from './server.ts';
import { registerUserCommands } from './user.ts';

loadDotenv({ quiet: true });

function port(value: string): string {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number');
  return value;
}

/** Prints a clear one-block message for expected errors; a stack only for the unexpected. */
function fail(err: unknown): never {
  process.stderr.write(
    `omnihub: ${err instanceof HubError ? err.message : ((err as Error)?.stack ?? String(err))}\n`,
  );
  process.exit(1);
}

const program = new Command('omnihub').description('A secure hub for MCP servers').version(VERSION);

program
  .command('start')
  .description('start the hub')
  .option('-c, --config <file>', 'config file (YAML) applied at start')
  .option('-p, --port <port>', 'port to listen on (env OMNIHUB_PORT, default 8090)', port)
  .option('--host <host>', 'address to bind (env OMNIHUB_HOST, default 127.0.0.1)')
  .action(async (opts: { config?: string; port?: string; host?: string }) => {
    const env = readEnv({
      ...process.env,
      ...(opts.port ? { OMNIHUB_PORT: opts.port } : {}),
      ...(opts.host ? { OMNIHUB_HOST: opts.host } : {}),
    });
    const logger = createLogger({ level: env.logLevel });
    const hub = await startHub(env, logger, opts.config);
    const where = env.databaseUrl ? 'PostgreSQL' : `embedded database in ${env.dataDir}`;
    process.stdout.write(
      [
        `omnihub ${VERSION} is running (${where})`,
        `  MCP endpoint (all servers): ${hub.url}/mcp`,
        ...hub.mcp.serverNames().map((s) => `  MCP endpoint (${s}): ${hub.url}/mcp/${s}`),
        `  health: ${hub.url}/health   readiness: ${hub.url}/ready`,
        `  log in: POST ${hub.url}/api/v1/auth/login {"email","password"} → Bearer token for /mcp`,
        ...(hub.firstAdmin ? [`  first administrator: ${hub.firstAdmin}`] : []),
        '',
      ].join('\n'),
    );
    // SIGTERM/SIGINT: drain (ready → 503, finish in-flight calls), then stop; docs/observability.md.
    installSignalHandlers(hub, logger, {
      timeoutMs: env.shutdownTimeoutMs,
      delayMs: env.shutdownDelayMs,
      onDraining: () => hub.metrics.setDraining(true),
    });
  });

program
  .command('apply')
  .description('validate a config file and apply it to the store (all or nothing)')
  .requiredOption('-f, --file <file>', 'config file (YAML)')
  .option(
    '--prune',
    'remove servers and roles the file does not list, and rate_limits/alerts/identity_providers it leaves out',
  )
  .option('--dry-run', 'validate only')
  .action(async (opts: { file: string; prune?: boolean; dryRun?: boolean }) => {
    const config = await loadConfigFile(opts.file);
    if (opts.dryRun) {
      process.stdout.write(`${opts.file} is valid: ${Object.keys(config.servers).length} servers\n`);
      return;
    }
    const env = readEnv();
    const logger = createLogger({ level: 'warn' });
    const store = await openStore({ databaseUrl: env.databaseUrl, dataDir: env.dataDir, logger });
    try {
      const summary = await applyConfig(store, config, { prune: opts.prune, logger });
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } finally {
      await store.close();
    }
  });

registerAuditCommands(program);
registerUserCommands(program);
registerKeyCommands(program);
registerRoleCommands(program);
registerServerCommands(program);

program.parseAsync(process.argv).catch(fail);
