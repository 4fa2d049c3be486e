/**
 * Sessions: an access token plus an opaque refresh token per sign-in.
 *
 * Refresh tokens (`omhrt_` + 43 base62 characters, ~256 bits) are stored only as HMAC-SHA-256 under a
 * key derived from the server secret. All tokens of one sign-in form a family. Each refresh marks the
 * presented token used and issues the next one; presenting a used token again means it was copied, so
 * the whole family is revoked (the thief and the owner both have to sign in again). Logout revokes the
 * family; the session's access tokens are refused from then on, on every instance.
 */
import { HubError } from '../server/errors.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import type { AccessClaims, AccessTokens } from './access-tokens.ts';
import { keyedHash, randomBase62 } from './crypto.ts';
import { IDENTITY_TOPIC } from './topics.ts';
import type { UserDirectory } from './user-directory.ts';

export const REFRESH_TOKEN_PREFIX = 'omhrt_';
const REFRESH_FORMAT = /^omhrt_[0-9A-Za-z]{43}$/;

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  /** Seconds until the access token expires. */
  expires_in: number;
}

export interface TokenServiceOptions {
  store: Store;
  access: AccessTokens;
  users: UserDirectory;
  /** HMAC key for stored refresh-token hashes (ServerKeys.refreshTokenHash). */
  hashKey: Buffer;
  logger: Logger;
  /** Lifetime of one refresh token (default 14 days): an idle session ends after this. */
  refreshTtlSeconds?: number;
  /** Longest a session lives however often it is refreshed (default 30 days). */
  sessionTtlSeconds?: number;
  now?: () => number;
}

/** Why a refresh failed; the client sees one message for all of them. */
export type RefreshFailure = 'malformed' | 'unknown' | 'revoked' | 'reused' | 'expired' | 'user_disabled';

export class RefreshError extends HubError {
  readonly reason: RefreshFailure;
  readonly userId: string | undefined;
  constructor(reason: RefreshFailure, userId?: string) {
    super('UNAUTHENTICATED', 'Invalid or expired refresh token');
    this.reason = reason;
    this.userId = userId;
  }
}

export class TokenService {
  readonly #store: Store;
  readonly access: AccessTokens;
  readonly #users: UserDirectory;
  readonly #hashKey: Buffer;
  readonly #logger: Logger;
  readonly #refreshTtlMs: number;
  readonly #sessionTtlMs: number;
  readonly #now: () => number;

  constructor(options: TokenServiceOptions) {
    this.#store = options.store;
    this.access = options.access;
    this.#users = options.users;
    this.#hashKey = options.hashKey;
    this.#logger = options.logger;
    this.#refreshTtlMs = (options.refreshTtlSeconds ?? 14 * 24 * 3600) * 1000;
    this.#sessionTtlMs = (options.sessionTtlSeconds ?? 30 * 24 * 3600) * 1000;
    this.#now = options.now ?? Date.now;
  }

  #hash(token: string): string {
    return keyedHash(this.#hashKey, token).toString('hex');
  }

  /** Starts a session for a user who just proved who they are. */
  async issue(userId: string): Promise<TokenPair> {
    const refresh = `${REFRESH_TOKEN_PREFIX}${randomBase62(43)}`;
    const now = this.#now();
    const familyExpiresAt = new Date(now + this.#sessionTtlMs);
    const { familyId } = await this.#store.refreshTokens.insert({
      userId,
      tokenHash: this.#hash(refresh),
      expiresAt: new Date(Math.min(now + this.#refreshTtlMs, familyExpiresAt.getTime())),
      familyExpiresAt,
    });
    return this.#pair(userId, familyId, refresh);
  }

  async #pair(userId: string, familyId: string, refresh: string): Promise<TokenPair> {
    const { token, expiresIn } = await this.access.sign(userId, familyId);
    return { access_token: token, refresh_token: refresh, token_type: 'Bearer', expires_in: expiresIn };
  }

  /** Trades a refresh token for a new pair; throws RefreshError (401) when it cannot. */
  async refresh(presented: unknown): Promise<TokenPair & { userId: string }> {
    if (typeof presented !== 'string' || !REFRESH_FORMAT.test(presented)) throw new RefreshError('malformed');
    const hash = this.#hash(presented);
    const next = `${REFRESH_TOKEN_PREFIX}${randomBase62(43)}`;
    const now = this.#now();
    const outcome = await this.#store.transaction(async (tx) => {
      const row = await tx.refreshTokens.findForUpdate(hash);
      if (!row) return { fail: 'unknown' as const };
      if (row.revokedAt) return { fail: 'revoked' as const, row };
      if (row.usedAt) {
        // Reuse: someone holds a copy. Commit the revocation, then refuse.
        await tx.refreshTokens.revokeFamily(row.familyId);
        return { fail: 'reused' as const, row };
      }
      if (row.expiresAt.getTime() <= now || row.familyExpiresAt.getTime() <= now) {
        return { fail: 'expired' as const, row };
      }
      await tx.refreshTokens.markUsed(row.id);
      await tx.refreshTokens.insert({
        familyId: row.familyId,
        userId: row.userId,
        tokenHash: this.#hash(next),
        expiresAt: new Date(Math.min(now + this.#refreshTtlMs, row.familyExpiresAt.getTime())),
        familyExpiresAt: row.familyExpiresAt,
      });
      return { fail: undefined, row };
    });
    if (outcome.fail === 'unknown') throw new RefreshError('unknown');
    const { row } = outcome;
    if (outcome.fail === 'reused') {
      this.#logger.warn(
        { userId: row.userId, session: row.familyId },
        'refresh token reused: the whole session was revoked',
      );
      await this.#revoked(row.familyId);
      throw new RefreshError('reused', row.userId);
    }
    if (outcome.fail) throw new RefreshError(outcome.fail, row.userId);
    const user = await this.#users.get(row.userId);
    if (!user?.enabled) {
      await this.revokeSession(row.familyId);
      throw new RefreshError('user_disabled', row.userId);
    }
    return { ...(await this.#pair(row.userId, row.familyId, next)), userId: row.userId };
  }

  /** Which session a refresh token belongs to (used or not); undefined when unknown. */
  async sessionOf(presented: unknown): Promise<{ sessionId: string; userId: string } | undefined> {
    if (typeof presented !== 'string' || !REFRESH_FORMAT.test(presented)) return undefined;
    const row = await this.#store.refreshTokens.find(this.#hash(presented));
    return row && { sessionId: row.familyId, userId: row.userId };
  }

  /** Ends one session: its refresh tokens stop working, and so do its access tokens. */
  async revokeSession(sessionId: string): Promise<void> {
    await this.#store.refreshTokens.revokeFamily(sessionId);
    await this.#revoked(sessionId);
  }

  /** Ends every session of a user (sign out everywhere, password change). */
  async revokeUserSessions(userId: string): Promise<number> {
    const count = await this.#store.refreshTokens.revokeUser(userId);
    await this.access.reloadRevocations();
    await this.#notify();
    return count;
  }

  /** Checks a hub access token (see AccessTokens.verify). */
  verifyAccess(token: string): Promise<AccessClaims | undefined> {
    return this.access.verify(token);
  }

  /** Deletes sessions that ended long ago. */
  purgeExpired(): Promise<number> {
    return this.#store.refreshTokens.purgeExpired(new Date(this.#now()));
  }

  async #revoked(sessionId: string): Promise<void> {
    this.access.revokeSession(sessionId);
    await this.#notify();
  }

  async #notify(): Promise<void> {
    try {
      await this.#store.notifyChange(IDENTITY_TOPIC);
    } catch (err) {
      this.#logger.warn({ err }, 'session change notification failed');
    }
  }
}
