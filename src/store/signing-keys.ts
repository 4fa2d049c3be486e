import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import type { Database, SealedJwk, SigningKeyAlg, SigningKeyState, StoredJwk } from './schema.ts';

export interface SigningKeyRecord {
  kid: string;
  alg: SigningKeyAlg;
  publicJwk: StoredJwk;
  /** Sealed: only the hub, holding the server secret, can open it. */
  privateJwk: SealedJwk;
  state: SigningKeyState;
  createdAt: Date;
  retiredAt: Date | null;
}

export interface NewSigningKey {
  kid: string;
  alg: SigningKeyAlg;
  publicJwk: StoredJwk;
  privateJwk: SealedJwk;
}

export interface SigningKeysRepository {
  /** Every key, newest first. */
  list(): Promise<SigningKeyRecord[]>;
  /** Makes `key` the one active key; the previously active key becomes `retired` (still verifies). */
  activate(key: NewSigningKey): Promise<void>;
  /** Inserts `key` as active only when no key is active; false when another key already is. */
  insertFirst(key: NewSigningKey): Promise<boolean>;
  /**
   * Moves a key to `retired` or `disabled`. Returns false when there is no such key (or it is the
   * active key and `state` is `retired`: rotate instead).
   */
  setState(kid: string, state: Exclude<SigningKeyState, 'active'>): Promise<boolean>;
}

export function signingKeysRepository(db: Kysely<Database>): SigningKeysRepository {
  const values = (key: NewSigningKey, state: SigningKeyState) => ({
    kid: key.kid,
    alg: key.alg,
    public_jwk: JSON.stringify(key.publicJwk),
    private_jwk: JSON.stringify(key.privateJwk),
    state,
  });
  return {
    async list() {
      const rows = await db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute();
      return rows.map((r) => ({
        kid: r.kid,
        alg: r.alg,
        publicJwk: r.public_jwk,
        privateJwk: r.private_jwk,
        state: r.state,
        createdAt: r.created_at,
        retiredAt: r.retired_at,
      }));
    },

    async activate(key) {
      // Two statements: callers run this in a transaction (store.transaction) to make it atomic.
      await db
        .updateTable('signing_keys')
        .set({ state: 'retired', retired_at: sql<Date>`now()` })
        .where('state', '=', 'active')
        .execute();
      await db.insertInto('signing_keys').values(values(key, 'active')).execute();
    },

    async insertFirst(key) {
      const result = await db
        .insertInto('signing_keys')
        .values(values(key, 'active'))
        .onConflict((oc) => oc.doNothing()) // the partial unique index allows one active key
        .executeTakeFirst();
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async setState(kid, state) {
      let query = db
        .updateTable('signing_keys')
        .set({ state, retired_at: sql<Date>`coalesce(retired_at, now())` })
        .where('kid', '=', kid);
      if (state === 'retired') query = query.where('state', '!=', 'active');
      const result = await query.executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
  };
}
