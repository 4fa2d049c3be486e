/**
 * API keys for programs and MCP clients: created (secret shown once), listed (never the secret),
 * revoked, and verified on every request from an in-memory cache of the usable keys.
 *
 * The cache holds every key that is not revoked and not expired, with the keyed hash of its secret.
 * It is reloaded when the `identity` topic changes (on any instance), so a revocation reaches every
 * instance within a moment. A key id missing from the cache (created on another instance a moment
 * ago) is read from the database once; ids not found there are remembered until the next reload, so
 * made-up ids cannot drive queries.
 */
import { z } from 'zod';
import type { AuditSink } from '../audit/types.ts';
import { type RuleConfig, ruleSchema } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';
import type { ApiKeyCredential, ApiKeyRecord } from '../store/api-keys.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { API_KEY_ID, generateApiKey, parseApiKey } from './api-key-format.ts';
import { digestsEqual, keyedHash } from './crypto.ts';
import { Reloader } from './reloader.ts';
import { IDENTITY_TOPIC } from './topics.ts';

export type { ApiKeyRecord } from '../store/api-keys.ts';

export interface CreateApiKeyInput {
  userId: string;
  name: string;
  /** Allow rules narrowing the owner's permissions; omitted or null: all of them. */
  scopes?: readonly RuleConfig[] | null;
  /** Omitted or null: never expires. Must be in the future. */
  expiresAt?: Date | null;
}

export interface CreatedApiKey {
  /** The full key, `omh_…`: returned this once, never stored. */
  key: string;
  record: ApiKeyRecord;
}

/** Who did something, for the audit log. */
export interface AuditActor {
  id: string;
  userId?: string;
  email?: string;
}

/** A key that authenticated: what the authenticator needs to build a principal. */
export interface VerifiedApiKey {
  id: string;
  userId: string;
  scopes: readonly RuleConfig[] | undefined;
}

interface CachedKey {
  id: string;
  userId: string;
  hash: Buffer;
  scopes: readonly RuleConfig[] | undefined;
  /** ms since epoch; Infinity when the key never expires. */
  expiresAt: number;
  /** What verify() hands out (built once). */
  verified: VerifiedApiKey;
}

const scopesSchema = z
  .array(ruleSchema)
  .min(1, 'scopes must list at least one rule (omit it for all of the owner’s permissions)')
  .max(100);
const MAX_MISSING = 10_000;
const MAX_VERIFIED = 10_000;
const TOUCH_EVERY_MS = 60_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function toCached(c: ApiKeyCredential): CachedKey {
  const scopes = c.scopes === null ? undefined : Object.freeze(c.scopes.map((r) => Object.freeze({ ...r })));
  return {
    id: c.id,
    userId: c.userId,
    hash: Buffer.from(c.hash, 'hex'),
    scopes,
    expiresAt: c.expiresAt ? c.expiresAt.getTime() : Number.POSITIVE_INFINITY,
    verified: Object.freeze({ id: c.id, userId: c.userId, scopes }),
  };
}

export interface ApiKeyServiceOptions {
  store: Store;
  /** HMAC key for the stored secret hashes (ServerKeys.apiKeyHash). */
  hashKey: Buffer;
  logger: Logger;
  audit?: AuditSink;
  now?: () => number;
}

export class ApiKeyService {
  readonly #store: Store;
  readonly #hashKey: Buffer;
  readonly #logger: Logger;
  readonly #audit: AuditSink | undefined;
  readonly #now: () => number;
  readonly #reloader: Reloader;
  #cache = new Map<string, CachedKey>();
  /**
   * Presented keys that verified, to the cache entry they verified against: a repeat request costs
   * one Map lookup instead of an HMAC. Valid only while that very entry is still in `#cache`.
   */
  #verified = new Map<string, CachedKey>();
  #missing = new Set<string>();
  #generation = 0;
  /** Key ids used since the last flush of last_used_at. */
  #used = new Set<string>();
  #touchTimer: NodeJS.Timeout | undefined;

  constructor(options: ApiKeyServiceOptions) {
    this.#store = options.store;
    this.#hashKey = options.hashKey;
    this.#logger = options.logger;
    this.#audit = options.audit;
    this.#now = options.now ?? Date.now;
    this.#reloader = new Reloader(() => this.#load(), this.#logger, 'API keys');
    this.#touchTimer = setInterval(() => void this.flushUsage(), TOUCH_EVERY_MS);
    this.#touchTimer.unref();
  }

  /** (Re)reads every usable key into memory. */
  load(): Promise<void> {
    return this.#reloader.trigger();
  }

  async #load(): Promise<void> {
    const usable = await this.#store.apiKeys.listUsable();
    const cache = new Map<string, CachedKey>();
    for (const c of usable) cache.set(c.id, toCached(c));
    this.#cache = cache;
    this.#verified = new Map();
    this.#missing = new Set();
    this.#generation += 1;
  }

  #hash(secret: string): Buffer {
    return keyedHash(this.#hashKey, secret);
  }

  /**
   * Checks a presented key. Undefined for anything that does not authenticate: malformed, wrong
   * checksum, unknown id, wrong secret, revoked, expired. The secret is compared in constant time.
   */
  async verify(presented: string): Promise<VerifiedApiKey | undefined> {
    const seen = this.#verified.get(presented);
    if (seen && this.#cache.get(seen.id) === seen) return this.#accept(seen);
    const parsed = parseApiKey(presented);
    if (!parsed) return undefined;
    const key = this.#cache.get(parsed.id) ?? (await this.#lookup(parsed.id));
    // Hash even when the id is unknown: the work done does not tell which part was wrong.
    const digest = this.#hash(parsed.secret);
    if (!key || !digestsEqual(digest, key.hash)) return undefined;
    if (this.#verified.size >= MAX_VERIFIED) this.#verified.clear();
    this.#verified.set(presented, key);
    return this.#accept(key);
  }

  #accept(key: CachedKey): VerifiedApiKey | undefined {
    if (key.expiresAt <= this.#now()) return undefined;
    this.#used.add(key.id);
    return key.verified;
  }

  async #lookup(id: string): Promise<CachedKey | undefined> {
    if (this.#missing.has(id)) return undefined;
    const generation = this.#generation;
    const record = await this.#store.apiKeys.getCredential(id);
    if (generation !== this.#generation) return this.#cache.get(id);
    const usable =
      record && record.revokedAt === null && (!record.expiresAt || record.expiresAt.getTime() > this.#now());
    if (!record || !usable) {
      if (this.#missing.size >= MAX_MISSING) this.#missing.clear();
      this.#missing.add(id);
      return undefined;
    }
    const cached = toCached(record);
    this.#cache.set(id, cached);
    return cached;
  }

  /** Creates a key for `userId`. The returned `key` is the only copy of the secret anywhere. */
  async create(input: CreateApiKeyInput, actor?: AuditActor): Promise<CreatedApiKey> {
    const name = typeof input.name === 'string' ? input.name.trim() : '';
    if (name.length < 1 || name.length > 200) {
      throw new HubError('INVALID_PARAMS', 'An API key needs a name of 1 to 200 characters');
    }
    let scopes: RuleConfig[] | null = null;
    if (input.scopes != null) {
      const parsed = scopesSchema.safeParse(input.scopes);
      if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `scopes.${i.path.join('.')}: ${i.message}`);
        throw new HubError('INVALID_PARAMS', `Invalid API key scopes: ${problems.join('; ')}`, {
          data: { problems },
        });
      }
      scopes = parsed.data;
    }
    const expiresAt = input.expiresAt ?? null;
    if (expiresAt !== null && (!(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime()))) {
      throw new HubError('INVALID_PARAMS', 'expires_at must be a valid date');
    }
    if (expiresAt !== null && expiresAt.getTime() <= this.#now()) {
      throw new HubError('INVALID_PARAMS', 'expires_at must be in the future');
    }
    if (!UUID.test(input.userId) || !(await this.#store.users.get(input.userId))) {
      throw new HubError('NOT_FOUND', 'No such user');
    }
    const generated = generateApiKey();
    const record = await this.#store.apiKeys.insert({
      id: generated.id,
      userId: input.userId,
      name,
      hash: this.#hash(generated.secret).toString('hex'),
      scopes,
      expiresAt,
    });
    this.#cache.set(record.id, toCached({ ...record, hash: this.#hash(generated.secret).toString('hex') }));
    this.#missing.delete(record.id);
    await this.#notify();
    this.#record('key_created', actor, record);
    return { key: generated.key, record };
  }

  list(userId?: string): Promise<ApiKeyRecord[]> {
    return this.#store.apiKeys.list(userId);
  }

  get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.#store.apiKeys.get(id);
  }

  /**
   * Revokes a key (only when it belongs to `options.userId`, if given). False when there was nothing
   * to revoke. Takes effect on this instance at once, on others within a moment.
   */
  async revoke(id: string, options: { userId?: string; actor?: AuditActor } = {}): Promise<boolean> {
    if (!API_KEY_ID.test(id)) return false;
    const revoked = await this.#store.apiKeys.revoke(id, options.userId);
    if (!revoked) return false;
    this.#cache.delete(id);
    await this.#notify();
    const record = await this.#store.apiKeys.get(id);
    this.#record('key_revoked', options.actor, record ?? { id, userId: options.userId ?? '' });
    return true;
  }

  /** Writes last_used_at for the keys used since the last flush (off the request path). */
  async flushUsage(): Promise<void> {
    if (this.#used.size === 0) return;
    const ids = [...this.#used];
    this.#used = new Set();
    try {
      await this.#store.apiKeys.touch(ids);
    } catch (err) {
      this.#logger.warn({ err }, 'recording API key usage failed');
    }
  }

  async close(): Promise<void> {
    if (this.#touchTimer) clearInterval(this.#touchTimer);
    this.#touchTimer = undefined;
    await this.flushUsage();
  }

  async #notify(): Promise<void> {
    try {
      await this.#store.notifyChange(IDENTITY_TOPIC);
    } catch (err) {
      // Committed; other instances pick it up at their next reload.
      this.#logger.warn({ err }, 'API key change notification failed');
    }
  }

  #record(
    action: 'key_created' | 'key_revoked',
    actor: AuditActor | undefined,
    key: { id: string; userId: string; name?: string },
  ): void {
    if (!this.#audit) return;
    try {
      this.#audit.record({
        type: 'auth',
        action,
        actor: actor ?? { id: 'system' },
        target: key.id,
        outcome: 'ok',
        after: { key_id: key.id, user_id: key.userId, ...(key.name ? { name: key.name } : {}) },
      });
    } catch (err) {
      this.#logger.warn({ err }, 'audit record failed');
    }
  }
}
