/** `omnihub server …`: list, show, enable, disable and remove upstream MCP servers in the store. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { formatTable, operate } from '../admin/operator.ts';
import { serverView } from '../admin/server-service.ts';

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

export function registerServerCommands(program: Command): void {
  const server = program
    .command('server')
    .description('manage upstream MCP servers (running hubs follow at once)');

  server
    .command('list')
    .description('list servers')
    .option('--json', 'print JSON (credentials redacted)')
    .action((opts: { json?: boolean }) =>
      operate(async (op) => {
        const servers = await op.servers.list();
        if (opts.json) return out(JSON.stringify(servers.map(serverView), null, 2));
        out(
          formatTable(
            ['NAME', 'TRANSPORT', 'ENABLED', 'TARGET'],
            servers.map((s) => [
              s.name,
              s.transport,
              s.enabled ? 'yes' : 'no',
              s.config.transport === 'stdio'
                ? [s.config.command, ...s.config.args].join(' ')
                : (s.config.url ?? s.config.urls?.join(', ') ?? ''),
            ]),
          ),
        );
      }),
    );

  server
    .command('show <name>')
    .description("show a server's config (YAML, credentials redacted)")
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean }) =>
      operate(async (op) => {
        const view = serverView(await op.servers.get(name));
        out(opts.json ? JSON.stringify(view, null, 2) : stringify({ [view.name]: view.config }).trimEnd());
      }),
    );

  for (const enabled of [true, false]) {
    server
      .command(`${enabled ? 'enable' : 'disable'} <name>`)
      .description(enabled ? 'enable a server' : 'disable a server')
      .action((name: string) =>
        operate(async (op) => {
          await op.servers.setEnabled(op.actor, name, enabled);
          out(`${enabled ? 'enabled' : 'disabled'} ${name}`);
        }),
      );
  }

  server
    .command('rm <name>')
    .description('remove a server')
    .action((name: string) =>
      operate(async (op) => {
        await op.servers.remove(op.actor, name);
        out(`removed ${name}`);
      }),
    );
}
