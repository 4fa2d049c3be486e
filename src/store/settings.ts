import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';
import type { UpsertOutcome } from './servers.ts';

/** Config sections kept whole under a key (e.g. `rate_limits`, `alerts`). Values are JSON. */
export interface SettingsRepository {
  /** The stored value, or undefined when there is none. */
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<UpsertOutcome>;
  /** Returns false when there was no such key. */
  remove(key: string): Promise<boolean>;
}

export function settingsRepository(db: Kysely<Database>): SettingsRepository {
  return {
    async get(key) {
      const row = await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
      return row?.value;
    },

    async set(key, value) {
      // As for servers: identical values are left alone (jsonb compares by content), `xmax = 0` marks inserts.
      const row = await db
        .insertInto('settings')
        .values({ key, value: JSON.stringify(value) })
        .onConflict((oc) =>
          oc
            .column('key')
            .doUpdateSet({ value: (eb) => eb.ref('excluded.value'), updated_at: sql<Date>`now()` })
            .where((eb) => eb('settings.value', 'is distinct from', eb.ref('excluded.value'))),
        )
        .returning(sql<boolean>`xmax = 0`.as('inserted'))
        .executeTakeFirst();
      if (!row) return 'unchanged';
      return row.inserted ? 'created' : 'updated';
    },

    async remove(key) {
      const result = await db.deleteFrom('settings').where('key', '=', key).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
