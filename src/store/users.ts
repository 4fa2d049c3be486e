import { type Kysely, sql } from 'kysely';
import { HubError } from '../server/errors.ts';
import type { Database, UserRow } from './schema.ts';
import type { UpsertOutcome } from './servers.ts';

/** A user as the rest of the hub sees it: never the password hash (see `getCredentials`). */
export interface UserRecord {
  id: string;
  email: string;
  name: string | null;
  enabled: boolean;
  hasPassword: boolean;
  /** Role names, sorted. */
  roles: string[];
  createdAt: Date;
  updatedAt: Date;
}

/** Fields left undefined keep their stored value (or the default on insert); null clears them. */
export interface UserInput {
  email: string;
  name?: string | null;
  /** An argon2id PHC string, never a plain password. */
  passwordHash?: string | null;
  enabled?: boolean;
}

export interface UsersRepository {
  list(): Promise<UserRecord[]>;
  get(id: string): Promise<UserRecord | undefined>;
  /** Case-insensitive. */
  getByEmail(email: string): Promise<UserRecord | undefined>;
  /** For sign-in only: the user and the stored hash. */
  getCredentials(email: string): Promise<{ user: UserRecord; passwordHash: string | null } | undefined>;
  /** Creates the user or updates it by email. */
  upsert(input: UserInput): Promise<{ id: string; outcome: UpsertOutcome }>;
  /** Replaces the user's roles with exactly `roles`. Returns true when anything changed. */
  setRoles(userId: string, roles: readonly string[]): Promise<boolean>;
  /** Returns false when there was no such user. */
  remove(id: string): Promise<boolean>;
}

/** Emails are compared and stored lower case: `John@X.com` and `john@x.com` are one account. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function usersRepository(db: Kysely<Database>): UsersRepository {
  async function rolesOf(ids: string[]): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    if (ids.length === 0) return map;
    const rows = await db
      .selectFrom('user_roles')
      .select(['user_id', 'role_name'])
      .where('user_id', 'in', ids)
      .orderBy('role_name')
      .execute();
    for (const row of rows) {
      const list = map.get(row.user_id);
      if (list) list.push(row.role_name);
      else map.set(row.user_id, [row.role_name]);
    }
    return map;
  }

  function toRecord(row: UserRow, roles: string[]): UserRecord {
    return {
      id: row.id,
      email: row.email,
      name: row.name,
      enabled: row.enabled,
      hasPassword: row.password_hash !== null,
      roles,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async function one(row: UserRow | undefined): Promise<UserRecord | undefined> {
    if (!row) return undefined;
    const roles = await rolesOf([row.id]);
    return toRecord(row, roles.get(row.id) ?? []);
  }

  return {
    async list() {
      const rows = await db.selectFrom('users').selectAll().orderBy('email').execute();
      const roles = await rolesOf(rows.map((r) => r.id));
      return rows.map((row) => toRecord(row, roles.get(row.id) ?? []));
    },

    async get(id) {
      // A malformed id would be a uuid cast error in SQL; it simply names no user.
      if (!UUID.test(id)) return undefined;
      return one(await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst());
    },

    async getByEmail(email) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('email', '=', normalizeEmail(email))
        .executeTakeFirst();
      return one(row);
    },

    async getCredentials(email) {
      const row = await db
        .selectFrom('users')
        .selectAll()
        .where('email', '=', normalizeEmail(email))
        .executeTakeFirst();
      const user = await one(row);
      return user && row ? { user, passwordHash: row.password_hash } : undefined;
    },

    async upsert(input) {
      const email = normalizeEmail(input.email);
      const changes: { name?: string | null; password_hash?: string | null; enabled?: boolean } = {};
      if (input.name !== undefined) changes.name = input.name;
      if (input.passwordHash !== undefined) changes.password_hash = input.passwordHash;
      if (input.enabled !== undefined) changes.enabled = input.enabled;
      const keys = Object.keys(changes) as Array<keyof typeof changes>;

      const row = await db
        .insertInto('users')
        .values({ email, ...changes })
        .onConflict((oc) =>
          keys.length === 0
            ? // Nothing to change: a no-op update still returns the existing row's id.
              oc.column('email').doUpdateSet({ email: (eb) => eb.ref('excluded.email') })
            : oc
                .column('email')
                .doUpdateSet({
                  ...Object.fromEntries(keys.map((k) => [k, sql.ref(`excluded.${k}`)])),
                  updated_at: sql<Date>`now()`,
                })
                .where((eb) =>
                  eb.or(keys.map((k) => eb(`users.${k}`, 'is distinct from', eb.ref(`excluded.${k}`)))),
                ),
        )
        .returning(['id', sql<boolean>`xmax = 0`.as('inserted')])
        .executeTakeFirst();
      if (row) {
        if (row.inserted) return { id: row.id, outcome: 'created' };
        return { id: row.id, outcome: keys.length === 0 ? 'unchanged' : 'updated' };
      }
      const existing = await db
        .selectFrom('users')
        .select('id')
        .where('email', '=', email)
        .executeTakeFirstOrThrow();
      return { id: existing.id, outcome: 'unchanged' };
    },

    async setRoles(userId, roles) {
      const wanted = [...new Set(roles)];
      if (wanted.length > 0) {
        const known = await db.selectFrom('roles').select('name').where('name', 'in', wanted).execute();
        const missing = wanted.filter((r) => !known.some((k) => k.name === r));
        if (missing.length > 0) {
          throw new HubError('BAD_REQUEST', `Unknown role(s): ${missing.join(', ')}`, { data: { missing } });
        }
      }
      let query = db.deleteFrom('user_roles').where('user_id', '=', userId);
      if (wanted.length > 0) query = query.where('role_name', 'not in', wanted);
      const removed = await query.executeTakeFirst();
      let added = 0n;
      if (wanted.length > 0) {
        const result = await db
          .insertInto('user_roles')
          .values(wanted.map((role_name) => ({ user_id: userId, role_name })))
          .onConflict((oc) => oc.doNothing())
          .executeTakeFirst();
        added = result.numInsertedOrUpdatedRows ?? 0n;
      }
      return removed.numDeletedRows > 0n || added > 0n;
    },

    async remove(id) {
      if (!UUID.test(id)) return false;
      const result = await db.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
