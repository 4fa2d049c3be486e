/** `omnihub key …`: create, list and revoke API keys directly on the hub's store. */
import { type Command, InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { parseInput } from '../admin/http.ts';
import { formatTable, operate } from '../admin/operator.ts';
import { apiKeyView } from '../admin/routes/keys.ts';
import { findUser } from '../admin/user-service.ts';
import { ruleSchema } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';

const out = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

function days(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw new InvalidArgumentError('must be 1 to 3650 days');
  return n;
}

const scopesSchema = z.array(ruleSchema).min(1).max(100);

function parseScopes(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new HubError('INVALID_PARAMS', '--scopes must be JSON, e.g. \'[{"server":"code","tools":"*"}]\'');
  }
}

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('manage API keys');

  key
    .command('create')
    .description('create an API key for a user; the key is printed this once')
    .requiredOption('-u, --user <user>', 'owner (email or id)')
    .requiredOption('-n, --name <name>', 'what the key is for')
    .option('--expires-in-days <days>', 'expire after this many days', days)
    .option('--scopes <json>', 'narrow the key to these allow rules (JSON list)')
    .option('--json', 'print JSON (with the key)')
    .action((opts: { user: string; name: string; expiresInDays?: number; scopes?: string; json?: boolean }) =>
      operate(async (op) => {
        const owner = await findUser(op.store, opts.user);
        if (!owner) throw new HubError('NOT_FOUND', `No user ${opts.user}`);
        const scopes =
          opts.scopes === undefined ? null : parseInput(scopesSchema, parseScopes(opts.scopes), 'scopes');
        const keys = await op.apiKeys();
        const created = await keys.create(
          {
            userId: owner.id,
            name: opts.name,
            scopes,
            expiresAt: opts.expiresInDays ? new Date(Date.now() + opts.expiresInDays * 86_400_000) : null,
          },
          { id: op.actor.id },
        );
        if (opts.json)
          return out(JSON.stringify({ ...apiKeyView(created.record), key: created.key }, null, 2));
        out(`created API key ${created.record.id} for ${owner.email}`);
        out(`key (shown once, store it now): ${created.key}`);
      }),
    );

  key
    .command('list')
    .description('list API keys (never their secrets)')
    .option('-u, --user <user>', 'only keys of this user (email or id)')
    .option('--json', 'print JSON')
    .action((opts: { user?: string; json?: boolean }) =>
      operate(async (op) => {
        let userId: string | undefined;
        if (opts.user !== undefined) {
          const owner = await findUser(op.store, opts.user);
          if (!owner) throw new HubError('NOT_FOUND', `No user ${opts.user}`);
          userId = owner.id;
        }
        const keys = await op.store.apiKeys.list(userId);
        if (opts.json) return out(JSON.stringify(keys.map(apiKeyView), null, 2));
        const emails = new Map((await op.users.list()).map((u) => [u.id, u.email]));
        const state = (k: (typeof keys)[number]) =>
          k.revokedAt ? 'revoked' : k.expiresAt && k.expiresAt.getTime() <= Date.now() ? 'expired' : 'active';
        out(
          formatTable(
            ['ID', 'OWNER', 'NAME', 'STATE', 'SCOPED', 'EXPIRES', 'LAST USED'],
            keys.map((k) => [
              k.id,
              emails.get(k.userId) ?? k.userId,
              k.name,
              state(k),
              k.scopes ? 'yes' : 'no',
              k.expiresAt?.toISOString() ?? 'never',
              k.lastUsedAt?.toISOString() ?? '-',
            ]),
          ),
        );
      }),
    );

  key
    .command('revoke <id>')
    .description('revoke an API key (refused from the next request on, on every hub instance)')
    .action((id: string) =>
      operate(async (op) => {
        const existing = await op.store.apiKeys.get(id);
        if (!existing) throw new HubError('NOT_FOUND', `No API key ${id}`);
        const keys = await op.apiKeys();
        const revoked = await keys.revoke(id, { actor: { id: op.actor.id } });
        out(revoked ? `revoked ${id}` : `${id} was already revoked`);
      }),
    );
}
