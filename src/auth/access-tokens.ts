/**
 * Hub access tokens: short-lived JWTs signed by the KeyRing's active key.
 *
 * Header `{alg: EdDSA|ES256, kid, typ: "at+jwt"}`; claims `iss` and `aud` = the hub's public URL,
 * `sub` = user id, `sid` = session (refresh-token family), `jti`, `iat`, `nbf`, `exp`,
 * `token_use: "access"`.
 *
 * Verification never trusts the header: the key is looked up by `kid` among the hub's own keys only
 * (no jku/x5u/jwk/x5c: a token carrying them is refused outright), the algorithm is pinned to that
 * key's, and issuer, audience, type, expiry, not-before and token use are all required. Tokens of a
 * revoked session (logout, refresh-token reuse) are refused for the rest of their short life.
 *
 * Verified tokens are cached (bounded) so the request path does one Map lookup, not a signature
 * check; the cache is dropped whenever the keys change (a disabled key stops verifying at once).
 */
import { randomUUID } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { Reloader } from './reloader.ts';
import type { KeyRing } from './signing-keys.ts';

export const ACCESS_TOKEN_TYPE = 'at+jwt';
export const ACCESS_TOKEN_USE = 'access';

/** Header parameters that point at keys elsewhere or embed one: never followed, always refused. */
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'jwk', 'x5c', 'x5t', 'x5t#S256'] as const;
const MAX_TOKEN_LENGTH = 8_192;
const MAX_CACHED = 10_000;

export interface AccessClaims {
  userId: string;
  /** The session (refresh-token family) the token belongs to. */
  sessionId: string;
  jti: string;
  /** ms since epoch. */
  expiresAt: number;
}

export interface AccessTokenOptions {
  keyRing: KeyRing;
  store: Store;
  logger: Logger;
  /** `iss` and `aud` of every hub token: the hub's public URL. */
  publicUrl: string;
  /** Access-token lifetime (default 900 s). */
  ttlSeconds?: number;
  /** Accepted clock skew (default 30 s). */
  clockToleranceSeconds?: number;
  now?: () => number;
}

export class AccessTokens {
  readonly #keyRing: KeyRing;
  readonly #store: Store;
  readonly #publicUrl: string;
  readonly ttlSeconds: number;
  readonly #tolerance: number;
  readonly #now: () => number;
  readonly #reloader: Reloader;
  #verified = new Map<string, AccessClaims>();
  /** Revoked session id → when it was revoked (ms); kept while tokens issued before could live. */
  #revoked = new Map<string, number>();

  constructor(options: AccessTokenOptions) {
    this.#keyRing = options.keyRing;
    this.#store = options.store;
    this.#publicUrl = options.publicUrl;
    this.ttlSeconds = options.ttlSeconds ?? 900;
    this.#tolerance = options.clockToleranceSeconds ?? 30;
    this.#now = options.now ?? Date.now;
    this.#reloader = new Reloader(() => this.#loadRevocations(), options.logger, 'revoked sessions');
  }

  get issuer(): string {
    return this.#publicUrl;
  }

  /** How long a revoked session must be remembered: the longest an access token of it can live. */
  get #horizonMs(): number {
    return (this.ttlSeconds + this.#tolerance + 60) * 1000;
  }

  async sign(userId: string, sessionId: string): Promise<{ token: string; expiresIn: number }> {
    const { kid, alg, privateKey } = this.#keyRing.active;
    const nowSeconds = Math.floor(this.#now() / 1000);
    const token = await new SignJWT({ sid: sessionId, token_use: ACCESS_TOKEN_USE })
      .setProtectedHeader({ alg, kid, typ: ACCESS_TOKEN_TYPE })
      .setIssuer(this.#publicUrl)
      .setAudience(this.#publicUrl)
      .setSubject(userId)
      .setJti(randomUUID())
      .setIssuedAt(nowSeconds)
      .setNotBefore(nowSeconds)
      .setExpirationTime(nowSeconds + this.ttlSeconds)
      .sign(privateKey);
    return { token, expiresIn: this.ttlSeconds };
  }

  /** The claims of a token verified before and still good; undefined when it needs a full check. */
  peek(token: string): AccessClaims | undefined {
    const cached = this.#verified.get(token);
    if (!cached || cached.expiresAt + this.#tolerance * 1000 <= this.#now()) return undefined;
    return this.#revoked.has(cached.sessionId) ? undefined : cached;
  }

  /** The token's claims when it is a valid, unrevoked hub access token; undefined otherwise. */
  async verify(token: string): Promise<AccessClaims | undefined> {
    const now = this.#now();
    const cached = this.#verified.get(token);
    if (cached) {
      if (cached.expiresAt + this.#tolerance * 1000 <= now) {
        this.#verified.delete(token);
        return undefined;
      }
      return this.#revoked.has(cached.sessionId) ? undefined : cached;
    }
    const claims = await this.#verifySignature(token, now);
    if (!claims || this.#revoked.has(claims.sessionId)) return undefined;
    if (this.#verified.size >= MAX_CACHED) this.#verified.clear();
    this.#verified.set(token, claims);
    return claims;
  }

  async #verifySignature(token: string, now: number): Promise<AccessClaims | undefined> {
    if (token.length > MAX_TOKEN_LENGTH) return undefined;
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token) as Record<string, unknown>;
    } catch {
      return undefined;
    }
    if (FORBIDDEN_HEADERS.some((h) => h in header)) return undefined;
    const key = this.#keyRing.verificationKey(header.kid);
    if (!key || header.alg !== key.alg) return undefined;
    try {
      const { payload } = await jwtVerify(token, key.key, {
        algorithms: [key.alg],
        issuer: this.#publicUrl,
        audience: this.#publicUrl,
        typ: ACCESS_TOKEN_TYPE,
        requiredClaims: ['iss', 'aud', 'sub', 'exp', 'iat', 'nbf', 'jti'],
        clockTolerance: this.#tolerance,
        maxTokenAge: this.ttlSeconds + this.#tolerance,
        currentDate: new Date(now),
      });
      if (payload.token_use !== ACCESS_TOKEN_USE) return undefined;
      if (typeof payload.sid !== 'string' || typeof payload.sub !== 'string') return undefined;
      return {
        userId: payload.sub,
        sessionId: payload.sid,
        jti: payload.jti as string,
        expiresAt: (payload.exp as number) * 1000,
      };
    } catch {
      return undefined;
    }
  }

  /** Refuses the session's access tokens from now on (this instance; others via reloadRevocations). */
  revokeSession(sessionId: string): void {
    this.#revoked.set(sessionId, this.#now());
  }

  /** Re-reads recently revoked sessions (another instance logged someone out). */
  reloadRevocations(): Promise<void> {
    return this.#reloader.trigger();
  }

  async #loadRevocations(): Promise<void> {
    const since = new Date(this.#now() - this.#horizonMs);
    const families = await this.#store.refreshTokens.revokedFamiliesSince(since);
    // Revocations are never undone: merge, then forget the ones no live token can belong to.
    const next = new Map(this.#revoked);
    for (const family of families) if (!next.has(family)) next.set(family, this.#now());
    for (const [family, at] of next) if (at < since.getTime()) next.delete(family);
    this.#revoked = next;
  }

  /** Drops every cached verification (call when signing keys change). */
  keysChanged(): void {
    this.#verified = new Map();
  }
}
