/**
 * Managing roles: `/api/v1/roles` and `omnihub role …`. Rules are validated by the config file's own
 * schema (`roleSchema`), so a role means the same thing whichever way it was written.
 */
import { z } from 'zod';
import { roleSchema } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';
import type { RoleRecord } from '../store/roles.ts';
import { type Actor, type ChangeContext, committed, Topics } from './changes.ts';

/**
 * Role names travel in `X-Omnihub-Roles` (comma separated) and in audit records: a conservative
 * alphabet keeps them unambiguous there.
 */
export const ROLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const roleName = z
  .string()
  .regex(ROLE_NAME, 'role names are 1-64 letters, digits, _ . : - (starting with a letter or digit)');

export const createRoleSchema = roleSchema.extend({ name: roleName });
/** A full replacement: rules left out become empty. */
export const replaceRoleSchema = roleSchema;

export interface RoleView {
  name: string;
  description: string | null;
  allow: RoleRecord['allow'];
  deny: RoleRecord['deny'];
  builtin: boolean;
  created_at: string;
  updated_at: string;
}

export function roleView(role: RoleRecord): RoleView {
  return {
    name: role.name,
    description: role.description,
    allow: role.allow,
    deny: role.deny,
    builtin: role.builtin,
    created_at: role.createdAt.toISOString(),
    updated_at: role.updatedAt.toISOString(),
  };
}

export type RoleInput = z.infer<typeof roleSchema>;

export class RoleService {
  readonly #ctx: ChangeContext;
  constructor(ctx: ChangeContext) {
    this.#ctx = ctx;
  }

  list(): Promise<RoleRecord[]> {
    return this.#ctx.store.roles.list();
  }

  async get(name: string): Promise<RoleRecord> {
    const role = await this.#ctx.store.roles.get(name);
    if (!role) throw new HubError('NOT_FOUND', `No role ${name}`);
    return role;
  }

  async create(actor: Actor, name: string, input: RoleInput): Promise<RoleRecord> {
    const role = await this.#ctx.store.transaction(async (tx) => {
      if (await tx.roles.get(name)) throw new HubError('CONFLICT', `A role ${name} already exists`);
      await tx.roles.upsert(name, input);
      return (await tx.roles.get(name)) as RoleRecord;
    });
    await committed(this.#ctx, actor, [Topics.roles], {
      action: 'role.create',
      target: name,
      after: roleView(role),
    });
    return role;
  }

  async replace(actor: Actor, name: string, input: RoleInput): Promise<RoleRecord> {
    const { before, after } = await this.#ctx.store.transaction(async (tx) => {
      const before = await tx.roles.get(name);
      if (!before) throw new HubError('NOT_FOUND', `No role ${name}`);
      await tx.roles.upsert(name, input);
      return { before, after: (await tx.roles.get(name)) as RoleRecord };
    });
    await committed(this.#ctx, actor, [Topics.roles], {
      action: 'role.update',
      target: name,
      before: roleView(before),
      after: roleView(after),
    });
    return after;
  }

  async remove(actor: Actor, name: string): Promise<RoleRecord> {
    const removed = await this.#ctx.store.transaction(async (tx) => {
      const role = await tx.roles.get(name);
      if (!role) throw new HubError('NOT_FOUND', `No role ${name}`);
      const holders = (await tx.users.list()).filter((u) => u.roles.includes(name)).length;
      await tx.roles.remove(name);
      return { role, holders };
    });
    // Removing a role also removes its assignments: the user directory reloads on `users` as well.
    await committed(this.#ctx, actor, [Topics.roles, Topics.users], {
      action: 'role.delete',
      target: name,
      before: { ...roleView(removed.role), holders: removed.holders },
    });
    return removed.role;
  }
}
