/**
 * The first administrator: when no enabled user holds the `admin` role, one is made from
 * OMNIHUB_ADMIN_EMAIL / OMNIHUB_ADMIN_PASSWORD. Without a password a random one is generated and
 * printed once (the only time the hub ever shows a password). Instances starting together take turns
 * on an advisory lock, so exactly one of them creates (and prints) it.
 */
import { sql } from 'kysely';
import type { HubEnv } from '../config/env.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { generatePassword, hashPassword } from './passwords.ts';
import { USERS_TOPIC } from './topics.ts';

export const DEFAULT_ADMIN_EMAIL = 'admin@omnihub.local';

export interface FirstAdminResult {
  /** False when an enabled admin already existed (nothing changed). */
  created: boolean;
  email?: string;
  /** True when the password was generated (and printed). */
  generatedPassword?: boolean;
}

export async function ensureFirstAdmin(
  store: Store,
  env: Pick<HubEnv, 'adminEmail' | 'adminPassword'>,
  logger: Logger,
  options: { print?: (text: string) => void } = {},
): Promise<FirstAdminResult> {
  const print = options.print ?? ((text: string) => process.stderr.write(text));
  const email = (env.adminEmail ?? DEFAULT_ADMIN_EMAIL).trim().toLowerCase();
  const generated = env.adminPassword === undefined ? generatePassword() : undefined;
  const password = env.adminPassword ?? (generated as string);
  // Hashing takes a moment: do it before taking the lock.
  const passwordHash = await hashPassword(password);

  const created = await store.transaction(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext('omnihub.first-admin'))`.execute(tx.db);
    const hasAdmin = await tx.db
      .selectFrom('users')
      .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
      .select('users.id')
      .where('user_roles.role_name', '=', 'admin')
      .where('users.enabled', '=', true)
      .executeTakeFirst();
    if (hasAdmin) return false;
    const existing = await tx.users.getByEmail(email);
    const { id } = await tx.users.upsert({ email, enabled: true, passwordHash });
    await tx.users.setRoles(id, [...new Set([...(existing?.roles ?? []), 'admin'])]);
    return true;
  });
  if (!created) return { created: false };

  try {
    await store.notifyChange(USERS_TOPIC);
  } catch (err) {
    logger.warn({ err }, 'first admin created but the change notification failed');
  }
  if (generated === undefined) {
    logger.warn({ email }, 'created the first admin from OMNIHUB_ADMIN_EMAIL / OMNIHUB_ADMIN_PASSWORD');
    return { created: true, email, generatedPassword: false };
  }
  // Printed once on the terminal, on purpose: nobody could sign in otherwise. Never logged (logs are
  // shipped and kept) and never stored in clear.
  logger.warn({ email }, 'created the first admin with a generated password (printed once on stderr)');
  print(
    [
      '',
      '  ┌─ omnihub: first administrator created ───────────────',
      `  │ email:    ${email}`,
      `  │ password: ${generated}`,
      '  │ Shown once. Sign in and change it, or set OMNIHUB_ADMIN_PASSWORD.',
      '  └──────────────────────────────────────────────────────',
      '',
      '',
    ].join('\n'),
  );
  return { created: true, email, generatedPassword: true };
}
