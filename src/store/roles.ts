import { type Kysely, sql } from 'kysely';
import { HubError } from '../server/errors.ts';
import { BUILTIN_ROLES } from './migrations.ts';
import type { Database, RoleRow, RoleRules } from './schema.ts';
import type { UpsertOutcome } from './servers.ts';

export interface RoleRecord extends RoleRules {
  name: string;
  description: string | null;
  /** Built-in roles (`admin`) can be redefined but not removed. */
  builtin: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface RoleInput {
  description?: string | null;
  allow?: RoleRules['allow'];
  deny?: RoleRules['deny'];
}

export interface RolesRepository {
  list(): Promise<RoleRecord[]>;
  get(name: string): Promise<RoleRecord | undefined>;
  upsert(name: string, role: RoleInput): Promise<UpsertOutcome>;
  /** Removes the role and every assignment of it. Returns false when there was no such role. */
  remove(name: string): Promise<boolean>;
}

function toRecord(row: RoleRow): RoleRecord {
  return {
    name: row.name,
    description: row.description,
    allow: row.rules.allow ?? [],
    deny: row.rules.deny ?? [],
    builtin: BUILTIN_ROLES.includes(row.name),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function rolesRepository(db: Kysely<Database>): RolesRepository {
  return {
    async list() {
      const rows = await db.selectFrom('roles').selectAll().orderBy('name').execute();
      return rows.map(toRecord);
    },

    async get(name) {
      const row = await db.selectFrom('roles').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toRecord(row);
    },

    async upsert(name, role) {
      const rules: RoleRules = { allow: role.allow ?? [], deny: role.deny ?? [] };
      const description = role.description ?? null;
      const row = await db
        .insertInto('roles')
        .values({ name, description, rules: JSON.stringify(rules) })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({
              description: (eb) => eb.ref('excluded.description'),
              rules: (eb) => eb.ref('excluded.rules'),
              updated_at: sql<Date>`now()`,
            })
            .where((eb) =>
              eb.or([
                eb('roles.description', 'is distinct from', eb.ref('excluded.description')),
                eb('roles.rules', 'is distinct from', eb.ref('excluded.rules')),
              ]),
            ),
        )
        .returning(sql<boolean>`xmax = 0`.as('inserted'))
        .executeTakeFirst();
      if (!row) return 'unchanged';
      return row.inserted ? 'created' : 'updated';
    },

    async remove(name) {
      if (BUILTIN_ROLES.includes(name)) {
        throw new HubError('CONFLICT', `The role "${name}" is built in and cannot be removed`);
      }
      const result = await db.deleteFrom('roles').where('name', '=', name).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
