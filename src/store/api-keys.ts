import { type Kysely, sql } from 'kysely';
import type { RuleConfig } from '../config/schema.ts';
import type { Database } from './schema.ts';

/** An API key as anyone may see it: never the secret, never its hash. */
export interface ApiKeyRecord {
  id: string;
  userId: string;
  name: string;
  /** null: all of the owner's permissions; a list narrows them. */
  scopes: RuleConfig[] | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** What the authenticator caches: the record plus the keyed hash of the secret. */
export interface ApiKeyCredential extends ApiKeyRecord {
  hash: string;
}

export interface NewApiKey {
  id: string;
  userId: string;
  name: string;
  hash: string;
  scopes?: RuleConfig[] | null;
  expiresAt?: Date | null;
}

export interface ApiKeysRepository {
  insert(key: NewApiKey): Promise<ApiKeyRecord>;
  /** Keys of one user (or every key), newest first. */
  list(userId?: string): Promise<ApiKeyRecord[]>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** One key with its hash, whatever its state (the authenticator checks revocation and expiry). */
  getCredential(id: string): Promise<ApiKeyCredential | undefined>;
  /** Keys that can still authenticate (not revoked, not expired), with their hashes. */
  listUsable(): Promise<ApiKeyCredential[]>;
  /** Revokes the key (only when it belongs to `userId`, if given). False when nothing was revoked. */
  revoke(id: string, userId?: string): Promise<boolean>;
  /** Records that these keys were used (written in batches, off the request path). */
  touch(ids: readonly string[]): Promise<void>;
}

const KEY_ID = /^[A-Za-z0-9]{12}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const recordColumns = [
  'id',
  'user_id',
  'name',
  'scopes',
  'expires_at',
  'revoked_at',
  'last_used_at',
  'created_at',
] as const;

interface Row {
  id: string;
  user_id: string;
  name: string;
  scopes: RuleConfig[] | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

function toRecord(r: Row): ApiKeyRecord {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    scopes: r.scopes,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    createdAt: r.created_at,
  };
}

export function apiKeysRepository(db: Kysely<Database>): ApiKeysRepository {
  return {
    async insert(key) {
      const row = await db
        .insertInto('api_keys')
        .values({
          id: key.id,
          user_id: key.userId,
          name: key.name,
          hash: key.hash,
          scopes: key.scopes == null ? null : JSON.stringify(key.scopes),
          expires_at: key.expiresAt ?? null,
        })
        .returning(recordColumns)
        .executeTakeFirstOrThrow();
      return toRecord(row);
    },

    async list(userId) {
      if (userId !== undefined && !UUID.test(userId)) return [];
      let query = db.selectFrom('api_keys').select(recordColumns).orderBy('created_at', 'desc');
      if (userId !== undefined) query = query.where('user_id', '=', userId);
      return (await query.execute()).map(toRecord);
    },

    async get(id) {
      if (!KEY_ID.test(id)) return undefined;
      const row = await db
        .selectFrom('api_keys')
        .select(recordColumns)
        .where('id', '=', id)
        .executeTakeFirst();
      return row && toRecord(row);
    },

    async getCredential(id) {
      if (!KEY_ID.test(id)) return undefined;
      const row = await db
        .selectFrom('api_keys')
        .select([...recordColumns, 'hash'])
        .where('id', '=', id)
        .executeTakeFirst();
      return row && { ...toRecord(row), hash: row.hash };
    },

    async listUsable() {
      const rows = await db
        .selectFrom('api_keys')
        .select([...recordColumns, 'hash'])
        .where('revoked_at', 'is', null)
        .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
        .execute();
      return rows.map((r) => ({ ...toRecord(r), hash: r.hash }));
    },

    async revoke(id, userId) {
      if (!KEY_ID.test(id) || (userId !== undefined && !UUID.test(userId))) return false;
      let query = db
        .updateTable('api_keys')
        .set({ revoked_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('revoked_at', 'is', null);
      if (userId !== undefined) query = query.where('user_id', '=', userId);
      const result = await query.executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async touch(ids) {
      const valid = ids.filter((id) => KEY_ID.test(id));
      if (valid.length === 0) return;
      await db
        .updateTable('api_keys')
        .set({ last_used_at: sql<Date>`now()` })
        .where('id', 'in', valid)
        .execute();
    },
  };
}
