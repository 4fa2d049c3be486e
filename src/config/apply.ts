import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { HubError } from '../server/errors.ts';
import type { UpsertOutcome } from '../store/servers.ts';
import type { Store } from '../store/store.ts';
import { normalizeEmail } from '../store/users.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { HubConfig } from './schema.ts';
import { STORED_SECTIONS } from './settings.ts';

/** OWASP's argon2id parameters (19 MiB, 2 passes, 1 lane). */
export const PASSWORD_HASH_OPTIONS = {
  algorithm: 2 as Algorithm, // Algorithm.Argon2id: a const enum, not importable under isolatedModules
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
} as const;

export interface ApplyCounts {
  created: number;
  updated: number;
  unchanged: number;
  removed: number;
}

export interface ApplySummary {
  servers: ApplyCounts;
  roles: ApplyCounts;
  /** Users are never removed by a config: `removed` is always 0. */
  users: ApplyCounts;
  /** The `rate_limits` and `alerts` sections, each counted as one. */
  settings: ApplyCounts;
  /** True when anything was created, updated or removed. */
  changed: boolean;
}

export interface ApplyOptions {
  /**
   * Remove servers and roles the config doesn't list, and clear the `rate_limits` and `alerts` sections
   * it leaves out (built-in roles and users are kept).
   */
  prune?: boolean;
  logger?: Logger;
}

const counts = (): ApplyCounts => ({ created: 0, updated: 0, unchanged: 0, removed: 0 });

function count(c: ApplyCounts, outcome: UpsertOutcome): void {
  c[outcome] += 1;
}

async function passwordMatches(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    // Not an argon2 hash we can read: treat as a mismatch, so it gets replaced.
    return false;
  }
}

/**
 * Writes a validated config's servers, roles, users, rate limits and alerts in one transaction: on any
 * failure nothing is changed. Re-applying the same config changes nothing (a password is re-hashed only when it no
 * longer verifies against the stored hash). Other hub instances hear about it on the `config` topic.
 */
export async function applyConfig(
  store: Store,
  config: HubConfig,
  options: ApplyOptions = {},
): Promise<ApplySummary> {
  const summary: ApplySummary = {
    servers: counts(),
    roles: counts(),
    users: counts(),
    settings: counts(),
    changed: false,
  };

  await store.transaction(async (tx) => {
    for (const [name, server] of Object.entries(config.servers)) {
      count(summary.servers, await tx.servers.upsert(name, server));
    }
    if (options.prune) {
      for (const existing of await tx.servers.list()) {
        if (!(existing.name in config.servers) && (await tx.servers.remove(existing.name))) {
          summary.servers.removed += 1;
        }
      }
    }

    for (const [name, role] of Object.entries(config.roles)) {
      count(summary.roles, await tx.roles.upsert(name, role));
    }
    if (options.prune) {
      for (const existing of await tx.roles.list()) {
        if (existing.builtin || existing.name in config.roles) continue;
        if (await tx.roles.remove(existing.name)) summary.roles.removed += 1;
      }
    }

    const known = new Set((await tx.roles.list()).map((r) => r.name));
    for (const [i, user] of config.users.entries()) {
      const email = normalizeEmail(user.email);
      const unknown = user.roles.filter((r) => !known.has(r));
      if (unknown.length > 0) {
        throw new HubError('CONFIG_INVALID', `users.${i} (${email}): unknown role(s) ${unknown.join(', ')}`, {
          data: { problems: [`users.${i}.roles: unknown role(s) ${unknown.join(', ')}`] },
        });
      }
      let passwordHash: string | undefined;
      if (user.password !== undefined) {
        const current = await tx.users.getCredentials(email);
        const stored = current?.passwordHash;
        if (!stored || !(await passwordMatches(stored, user.password))) {
          passwordHash = await hash(user.password, PASSWORD_HASH_OPTIONS);
        }
      }
      const { id, outcome } = await tx.users.upsert({
        email,
        enabled: user.enabled,
        ...(user.name !== undefined ? { name: user.name } : {}),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
      });
      const rolesChanged = await tx.users.setRoles(id, user.roles);
      count(summary.users, outcome === 'unchanged' && rolesChanged ? 'updated' : outcome);
    }

    // A section the file leaves out stays as stored, like a server it does not list.
    for (const name of STORED_SECTIONS) {
      const value = config[name];
      if (value !== undefined) count(summary.settings, await tx.settings.set(name, value));
      else if (options.prune && (await tx.settings.remove(name))) summary.settings.removed += 1;
    }
  });

  summary.changed = [summary.servers, summary.roles, summary.users, summary.settings].some(
    (c) => c.created + c.updated + c.removed > 0,
  );
  try {
    await store.notifyChange('config');
  } catch (err) {
    // The config is committed; a lost notification only delays other instances until their next reload.
    options.logger?.warn({ err }, 'config applied but the change notification failed');
  }
  return summary;
}
