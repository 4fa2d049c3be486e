/** `omnihub role …`: look at roles and their rules (change them in the config file or /api/v1/roles). */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { formatTable, operate } from '../admin/operator.ts';
import { roleView } from '../admin/role-service.ts';

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

export function registerRoleCommands(program: Command): void {
  const role = program.command('role').description('show roles');

  role
    .command('list')
    .description('list roles')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      operate(async (op) => {
        const roles = await op.roles.list();
        if (opts.json) return out(JSON.stringify(roles.map(roleView), null, 2));
        const users = await op.users.list();
        out(
          formatTable(
            ['NAME', 'USERS', 'ALLOW', 'DENY', 'DESCRIPTION'],
            roles.map((r) => [
              r.builtin ? `${r.name} (built in)` : r.name,
              String(users.filter((u) => u.roles.includes(r.name)).length),
              String(r.allow.length),
              String(r.deny.length),
              r.description ?? '',
            ]),
          ),
        );
      }),
    );

  role
    .command('show <name>')
    .description("show a role's rules (YAML, as in the config file)")
    .option('--json', 'print JSON')
    .action((name: string, opts: { json?: boolean }) =>
      operate(async (op) => {
        const r = await op.roles.get(name);
        if (opts.json) return out(JSON.stringify(roleView(r), null, 2));
        // Rules read back from the database lose their key order: print them as people write them.
        const ordered = (rule: Record<string, unknown>) =>
          Object.fromEntries(
            ['server', 'tools', 'prompts', 'uris', 'resources']
              .filter((k) => k in rule)
              .map((k) => [k, rule[k]]),
          );
        const body = {
          ...(r.description ? { description: r.description } : {}),
          allow: r.allow.map(ordered),
          deny: r.deny.map(ordered),
        };
        out(stringify({ [r.name]: body }, { collectionStyle: 'block' }).trimEnd());
      }),
    );
}
