/** `omnihub user …`: manage users directly on the hub's store (same rules as /api/v1/users). */
import type { Command } from 'commander';
import { parseInput } from '../admin/http.ts';
import { formatTable, operate, readStdin } from '../admin/operator.ts';
import { createUserSchema, userView } from '../admin/user-service.ts';
import { HubError } from '../server/errors.ts';
import type { UserRecord } from '../store/users.ts';

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

function describeUser(u: UserRecord): string {
  return `${u.email} (${u.enabled ? 'enabled' : 'disabled'}; roles: ${u.roles.join(', ') || 'none'})`;
}

async function passwordFromStdin(): Promise<string> {
  const password = await readStdin();
  if (password.length === 0) throw new HubError('INVALID_PARAMS', 'No password on stdin');
  return password;
}

export function registerUserCommands(program: Command): void {
  const user = program
    .command('user')
    .description('manage users (DATABASE_URL or OMNIHUB_DATA_DIR names the store)');

  user
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      operate(async (op) => {
        const users = await op.users.list();
        if (opts.json) return out(JSON.stringify(users.map(userView), null, 2));
        out(
          formatTable(
            ['EMAIL', 'NAME', 'ENABLED', 'ROLES', 'ID'],
            users.map((u) => [
              u.email,
              u.name ?? '',
              u.enabled ? 'yes' : 'no',
              u.roles.join(',') || '-',
              u.id,
            ]),
          ),
        );
      }),
    );

  user
    .command('show <user>')
    .description('show one user (email or id)')
    .option('--json', 'print JSON')
    .action((ref: string, opts: { json?: boolean }) =>
      operate(async (op) => {
        const u = await op.users.get(ref);
        out(opts.json ? JSON.stringify(userView(u), null, 2) : `${describeUser(u)}\n  id: ${u.id}`);
      }),
    );

  user
    .command('add <email>')
    .description('create a user')
    .option('-n, --name <name>', 'display name')
    .option('-r, --role <role...>', 'roles to grant')
    .option('--password-stdin', 'read the password from stdin')
    .option('--generate-password', 'generate a strong password and print it once')
    .option('--disabled', 'create the user disabled')
    .action(
      (
        email: string,
        opts: {
          name?: string;
          role?: string[];
          passwordStdin?: boolean;
          generatePassword?: boolean;
          disabled?: boolean;
        },
      ) =>
        operate(async (op) => {
          if (opts.passwordStdin && opts.generatePassword) {
            throw new HubError('INVALID_PARAMS', 'Use --password-stdin or --generate-password, not both');
          }
          const password = opts.passwordStdin ? await passwordFromStdin() : undefined;
          const input = parseInput(
            createUserSchema,
            {
              email,
              ...(opts.name !== undefined ? { name: opts.name } : {}),
              ...(password !== undefined ? { password } : {}),
              roles: opts.role ?? [],
              enabled: !opts.disabled,
            },
            '',
          );
          const created = await op.users.create(op.actor, input);
          out(`created ${describeUser(created)}`);
          if (opts.generatePassword) {
            const { generated } = await op.users.setPassword(op.actor, created.id);
            out(`password (shown once): ${generated}`);
          }
        }),
    );

  user
    .command('set-roles <user> [roles...]')
    .description("replace a user's roles (none given: remove all)")
    .action((ref: string, roles: string[]) =>
      operate(async (op) => out(`updated ${describeUser(await op.users.setRoles(op.actor, ref, roles))}`)),
    );

  for (const enabled of [false, true]) {
    user
      .command(`${enabled ? 'enable' : 'disable'} <user>`)
      .description(enabled ? 'enable a user' : 'disable a user (tokens and API keys stop working at once)')
      .action((ref: string) =>
        operate(async (op) =>
          out(`updated ${describeUser(await op.users.setEnabled(op.actor, ref, enabled))}`),
        ),
      );
  }

  user
    .command('passwd <user>')
    .description('set a password from stdin, or generate one and print it once')
    .option('--password-stdin', 'read the new password from stdin')
    .action((ref: string, opts: { passwordStdin?: boolean }) =>
      operate(async (op) => {
        const password = opts.passwordStdin ? await passwordFromStdin() : undefined;
        const { user: u, generated } = await op.users.setPassword(op.actor, ref, password);
        out(`password set for ${u.email}`);
        if (generated) out(`password (shown once): ${generated}`);
      }),
    );

  user
    .command('rm <user>')
    .description('delete a user with their API keys and sessions')
    .action((ref: string) =>
      operate(async (op) => out(`deleted ${(await op.users.remove(op.actor, ref)).email}`)),
    );
}
