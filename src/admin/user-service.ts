/**
 * Managing users: the one implementation behind `/api/v1/users` and `omnihub user …`. Every change
 * runs in one transaction (nothing changes on error), then notifies the caches and is audited.
 */
import { z } from 'zod';
import { generatePassword, hashPassword, MAX_PASSWORD_LENGTH } from '../auth/passwords.ts';
import { HubError } from '../server/errors.ts';
import type { StoreTransaction } from '../store/store.ts';
import { normalizeEmail, type UserRecord } from '../store/users.ts';
import { type Actor, type ChangeContext, committed, Topics } from './changes.ts';

export const ADMIN_ROLE = 'admin';

/** A user as the API shows it (never a password hash). */
export interface UserView {
  id: string;
  email: string;
  name: string | null;
  enabled: boolean;
  has_password: boolean;
  roles: string[];
  created_at: string;
  updated_at: string;
}

export function userView(user: UserRecord): UserView {
  return {
    id: user.id,
    email: user.email,
    name: user.name,
    enabled: user.enabled,
    has_password: user.hasPassword,
    roles: [...user.roles],
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}

const password = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(MAX_PASSWORD_LENGTH, `must be at most ${MAX_PASSWORD_LENGTH} characters`);
const roleList = z.array(z.string().min(1).max(64)).max(100);

export const createUserSchema = z
  .object({
    email: z.string().trim().email().max(320),
    name: z.string().max(200).nullable().optional(),
    password: password.optional(),
    roles: roleList.default([]),
    enabled: z.boolean().default(true),
  })
  .strict();

export const updateUserSchema = z
  .object({
    name: z.string().max(200).nullable().optional(),
    enabled: z.boolean().optional(),
    roles: roleList.optional(),
    /** A new password, or null to remove password sign-in (SSO / API keys only). */
    password: password.nullable().optional(),
  })
  .strict();

export const setPasswordSchema = z
  .object({
    /** Omitted: a strong random password is generated and returned once. */
    password: password.optional(),
  })
  .strict();

export type CreateUserInput = z.infer<typeof createUserSchema>;
export type UpdateUserInput = z.infer<typeof updateUserSchema>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds a user by id or by email (anything with an `@`). */
export async function findUser(
  repo: Pick<StoreTransaction, 'users'>,
  ref: string,
): Promise<UserRecord | undefined> {
  if (ref.includes('@')) return repo.users.getByEmail(ref);
  return UUID.test(ref) ? repo.users.get(ref) : undefined;
}

async function mustFind(tx: Pick<StoreTransaction, 'users'>, ref: string): Promise<UserRecord> {
  const user = await findUser(tx, ref);
  if (!user) throw new HubError('NOT_FOUND', `No user ${ref}`);
  return user;
}

function enabledAdmins(users: readonly UserRecord[]): number {
  return users.filter((u) => u.enabled && u.roles.includes(ADMIN_ROLE)).length;
}

/**
 * Refuses a change that would leave a hub that had an enabled admin without one: nobody could manage
 * it any more except through the CLI on its machine.
 */
async function keepAnAdmin(tx: StoreTransaction, adminsBefore: number): Promise<void> {
  if (adminsBefore === 0) return;
  if (enabledAdmins(await tx.users.list()) === 0) {
    throw new HubError(
      'CONFLICT',
      'This change would leave no enabled user with the admin role; give another user the admin role first',
    );
  }
}

export class UserService {
  readonly #ctx: ChangeContext;
  constructor(ctx: ChangeContext) {
    this.#ctx = ctx;
  }

  list(): Promise<UserRecord[]> {
    return this.#ctx.store.users.list();
  }

  async get(ref: string): Promise<UserRecord> {
    return mustFind(this.#ctx.store, ref);
  }

  async create(actor: Actor, input: CreateUserInput): Promise<UserRecord> {
    const email = normalizeEmail(input.email);
    const passwordHash = input.password !== undefined ? await hashPassword(input.password) : undefined;
    const user = await this.#ctx.store.transaction(async (tx) => {
      if (await tx.users.getByEmail(email)) throw new HubError('CONFLICT', `A user ${email} already exists`);
      const { id } = await tx.users.upsert({
        email,
        enabled: input.enabled,
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
      });
      await tx.users.setRoles(id, input.roles);
      return mustFind(tx, id);
    });
    await committed(this.#ctx, actor, [Topics.users], {
      action: 'user.create',
      target: user.email,
      after: userView(user),
    });
    return user;
  }

  async update(actor: Actor, ref: string, input: UpdateUserInput): Promise<UserRecord> {
    const passwordHash =
      input.password === undefined || input.password === null
        ? input.password
        : await hashPassword(input.password);
    const { before, after } = await this.#ctx.store.transaction(async (tx) => {
      const before = await mustFind(tx, ref);
      const adminsBefore = enabledAdmins(await tx.users.list());
      await tx.users.upsert({
        email: before.email,
        ...(input.name !== undefined ? { name: input.name } : {}),
        ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
        ...(passwordHash !== undefined ? { passwordHash } : {}),
      });
      if (input.roles !== undefined) await tx.users.setRoles(before.id, input.roles);
      await keepAnAdmin(tx, adminsBefore);
      return { before, after: await mustFind(tx, before.id) };
    });
    const topics: string[] = [Topics.users];
    // A disabled user's sessions and keys stop at once; the identity caches reload on this topic too.
    if (input.enabled === false || input.password !== undefined) topics.push(Topics.identity);
    await committed(this.#ctx, actor, topics, {
      action:
        input.password !== undefined && Object.keys(input).length === 1 ? 'user.password' : 'user.update',
      target: after.email,
      before: userView(before),
      after: { ...userView(after), ...(input.password !== undefined ? { password_changed: true } : {}) },
    });
    return after;
  }

  setEnabled(actor: Actor, ref: string, enabled: boolean): Promise<UserRecord> {
    return this.update(actor, ref, { enabled });
  }

  setRoles(actor: Actor, ref: string, roles: string[]): Promise<UserRecord> {
    return this.update(actor, ref, { roles });
  }

  /** Sets a password (or a generated one, returned once). */
  async setPassword(
    actor: Actor,
    ref: string,
    newPassword?: string,
  ): Promise<{ user: UserRecord; generated?: string }> {
    const generated = newPassword === undefined ? generatePassword() : undefined;
    const user = await this.update(actor, ref, { password: newPassword ?? generated });
    return generated === undefined ? { user } : { user, generated };
  }

  async remove(actor: Actor, ref: string): Promise<UserRecord> {
    const removed = await this.#ctx.store.transaction(async (tx) => {
      const user = await mustFind(tx, ref);
      const adminsBefore = enabledAdmins(await tx.users.list());
      await tx.users.remove(user.id);
      await keepAnAdmin(tx, adminsBefore);
      return user;
    });
    // The user's API keys and refresh tokens went with it (cascade): the identity caches must drop them.
    await committed(this.#ctx, actor, [Topics.users, Topics.identity], {
      action: 'user.delete',
      target: removed.email,
      before: userView(removed),
    });
    return removed;
  }
}
