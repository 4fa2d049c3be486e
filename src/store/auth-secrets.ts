import type { Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** Secrets the hub generates for itself. Never listed, never sent anywhere. */
export interface AuthSecretsRepository {
  /**
   * Returns the secret stored under `name`, storing `candidate` first when there is none. Safe when
   * several instances race: every one of them gets the value that won.
   */
  getOrCreate(name: string, candidate: string): Promise<string>;
}

export function authSecretsRepository(db: Kysely<Database>): AuthSecretsRepository {
  return {
    async getOrCreate(name, candidate) {
      await db
        .insertInto('auth_secrets')
        .values({ name, value: candidate })
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      const row = await db
        .selectFrom('auth_secrets')
        .select('value')
        .where('name', '=', name)
        .executeTakeFirstOrThrow();
      return row.value;
    },
  };
}
