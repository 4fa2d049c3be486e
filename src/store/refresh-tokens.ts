import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.ts';

export interface RefreshTokenRow {
  id: string;
  familyId: string;
  userId: string;
  expiresAt: Date;
  familyExpiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewRefreshToken {
  /** Omitted: a new family (a new sign-in). */
  familyId?: string;
  userId: string;
  tokenHash: string;
  expiresAt: Date;
  familyExpiresAt: Date;
}

export interface RefreshTokensRepository {
  insert(token: NewRefreshToken): Promise<{ id: string; familyId: string }>;
  /** The token with this hash, row-locked until the transaction ends (use inside store.transaction). */
  findForUpdate(tokenHash: string): Promise<RefreshTokenRow | undefined>;
  find(tokenHash: string): Promise<RefreshTokenRow | undefined>;
  /** Marks the token used; false when it already was (a concurrent refresh won). */
  markUsed(id: string): Promise<boolean>;
  /** Revokes every not yet revoked token of the family; returns how many. */
  revokeFamily(familyId: string): Promise<number>;
  /** Revokes every session of the user; returns how many tokens. */
  revokeUser(userId: string): Promise<number>;
  /** Families with a token revoked at or after `since` (the access tokens of those sessions die too). */
  revokedFamiliesSince(since: Date): Promise<string[]>;
  /** Removes tokens whose family ended before `before`; returns how many. */
  purgeExpired(before: Date): Promise<number>;
}

export function refreshTokensRepository(db: Kysely<Database>): RefreshTokensRepository {
  const columns = [
    'id',
    'family_id',
    'user_id',
    'expires_at',
    'family_expires_at',
    'used_at',
    'revoked_at',
  ] as const;
  type Row = {
    id: string;
    family_id: string;
    user_id: string;
    expires_at: Date;
    family_expires_at: Date;
    used_at: Date | null;
    revoked_at: Date | null;
  };
  const toRow = (r: Row): RefreshTokenRow => ({
    id: r.id,
    familyId: r.family_id,
    userId: r.user_id,
    expiresAt: r.expires_at,
    familyExpiresAt: r.family_expires_at,
    usedAt: r.used_at,
    revokedAt: r.revoked_at,
  });

  return {
    async insert(token) {
      const row = await db
        .insertInto('refresh_tokens')
        .values({
          family_id: token.familyId ?? sql<string>`gen_random_uuid()`,
          user_id: token.userId,
          token_hash: token.tokenHash,
          expires_at: token.expiresAt,
          family_expires_at: token.familyExpiresAt,
        })
        .returning(['id', 'family_id'])
        .executeTakeFirstOrThrow();
      return { id: row.id, familyId: row.family_id };
    },

    async findForUpdate(tokenHash) {
      const row = await db
        .selectFrom('refresh_tokens')
        .select(columns)
        .where('token_hash', '=', tokenHash)
        .forUpdate()
        .executeTakeFirst();
      return row && toRow(row);
    },

    async find(tokenHash) {
      const row = await db
        .selectFrom('refresh_tokens')
        .select(columns)
        .where('token_hash', '=', tokenHash)
        .executeTakeFirst();
      return row && toRow(row);
    },

    async markUsed(id) {
      const result = await db
        .updateTable('refresh_tokens')
        .set({ used_at: sql<Date>`now()` })
        .where('id', '=', id)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async revokeFamily(familyId) {
      const result = await db
        .updateTable('refresh_tokens')
        .set({ revoked_at: sql<Date>`now()` })
        .where('family_id', '=', familyId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async revokeUser(userId) {
      const result = await db
        .updateTable('refresh_tokens')
        .set({ revoked_at: sql<Date>`now()` })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    async revokedFamiliesSince(since) {
      const rows = await db
        .selectFrom('refresh_tokens')
        .select('family_id')
        .distinct()
        .where('revoked_at', '>=', since)
        .execute();
      return rows.map((r) => r.family_id);
    },

    async purgeExpired(before) {
      const result = await db
        .deleteFrom('refresh_tokens')
        .where('family_expires_at', '<', before)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
