/**
 * Sign-in with email and password.
 *
 * - No user enumeration: an unknown, disabled or password-less account gets the same answer as a
 *   wrong password, after the same work (the password is verified against a dummy argon2id hash).
 * - Brute force: failures are counted per account and per client address; once either budget is
 *   spent, attempts are refused with 429 and a retry time before any password is checked. The
 *   counters depend only on the submitted email and the address, never on whether the account exists.
 * - Hashes made with weaker parameters are upgraded on a successful sign-in.
 */
import type { AuditSink } from '../audit/types.ts';
import { HubError } from '../server/errors.ts';
import type { Store } from '../store/store.ts';
import { normalizeEmail } from '../store/users.ts';
import type { Logger } from '../telemetry/logger.ts';
import { FailureLimiter, type FailureRule } from './brute-force.ts';
import {
  verifyPassword as argonVerify,
  dummyHash,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  needsRehash,
} from './passwords.ts';
import type { ClientInfo } from './principal.ts';
import type { TokenPair, TokenService } from './tokens.ts';
import type { UserDirectory } from './user-directory.ts';

export const LOGIN_FAILED = 'Invalid email or password';

export interface LoginOptions {
  store: Store;
  tokens: TokenService;
  users: UserDirectory;
  logger: Logger;
  audit?: AuditSink;
  /** Failures per account (default 5 per 15 minutes). */
  perAccount?: FailureRule;
  /** Failures per client address (default 20 per 15 minutes). */
  perClient?: FailureRule;
  /** Password check (tests observe it); default argon2id verify. */
  verifyPassword?: (storedHash: string, password: string) => Promise<boolean>;
  now?: () => number;
}

export interface LoginResult extends TokenPair {
  userId: string;
}

export class LoginService {
  readonly #store: Store;
  readonly #tokens: TokenService;
  readonly #users: UserDirectory;
  readonly #logger: Logger;
  readonly #audit: AuditSink | undefined;
  readonly #accounts: FailureLimiter;
  readonly #clients: FailureLimiter;
  readonly #verify: (storedHash: string, password: string) => Promise<boolean>;

  constructor(options: LoginOptions) {
    this.#store = options.store;
    this.#tokens = options.tokens;
    this.#users = options.users;
    this.#logger = options.logger;
    this.#audit = options.audit;
    const clock = options.now ? { now: options.now } : {};
    this.#accounts = new FailureLimiter(options.perAccount ?? { max: 5, windowMs: 15 * 60_000 }, clock);
    this.#clients = new FailureLimiter(options.perClient ?? { max: 20, windowMs: 15 * 60_000 }, clock);
    this.#verify = options.verifyPassword ?? argonVerify;
    // Made now, so the first sign-in of an unknown account takes no longer than any other.
    dummyHash().catch((err: unknown) =>
      this.#logger.error({ err }, 'preparing the dummy password hash failed'),
    );
  }

  async login(emailInput: unknown, passwordInput: unknown, client: ClientInfo): Promise<LoginResult> {
    if (typeof emailInput !== 'string' || typeof passwordInput !== 'string') {
      throw new HubError('INVALID_PARAMS', 'email and password are required strings');
    }
    if (emailInput.length > 320 || passwordInput.length > MAX_PASSWORD_LENGTH) {
      throw new HubError('INVALID_PARAMS', 'email or password too long');
    }
    const email = normalizeEmail(emailInput);
    const accountKey = `account:${email}`;
    const clientKey = `client:${client.ip}`;
    const waitMs = Math.max(this.#accounts.retryAfterMs(accountKey), this.#clients.retryAfterMs(clientKey));
    if (waitMs > 0) {
      const retryAfter = Math.ceil(waitMs / 1000);
      this.#record('login_failed', { id: 'anonymous', email }, client, 'rate_limited', 'too many attempts');
      throw new HubError(
        'RATE_LIMITED',
        `Too many failed sign-in attempts; try again in ${retryAfter} seconds`,
        { data: { retry_after: retryAfter } },
      );
    }

    const credentials = await this.#store.users.getCredentials(email);
    const usable = credentials?.user.enabled === true && typeof credentials.passwordHash === 'string';
    // Always one argon2 verification, against the dummy hash when there is nothing real to check.
    const storedHash = usable ? (credentials.passwordHash as string) : await dummyHash();
    const matches = await this.#verify(storedHash, passwordInput);
    if (!usable || !matches || !credentials) {
      this.#accounts.fail(accountKey);
      this.#clients.fail(clientKey);
      this.#record('login_failed', { id: 'anonymous', email }, client, 'denied', LOGIN_FAILED);
      throw new HubError('UNAUTHENTICATED', LOGIN_FAILED);
    }

    const { user } = credentials;
    this.#accounts.reset(accountKey);
    if (needsRehash(storedHash)) await this.#rehash(user.email, passwordInput);
    // Make sure the directory knows the user (created a moment ago on another instance).
    await this.#users.get(user.id);
    const pair = await this.#tokens.issue(user.id);
    this.#record('login', { id: `user:${user.id}`, userId: user.id, email: user.email }, client, 'ok');
    return { ...pair, userId: user.id };
  }

  async #rehash(email: string, password: string): Promise<void> {
    try {
      await this.#store.users.upsert({ email, passwordHash: await hashPassword(password) });
    } catch (err) {
      this.#logger.warn({ err }, 'upgrading a password hash failed');
    }
  }

  #record(
    action: 'login' | 'login_failed',
    actor: { id: string; userId?: string; email?: string },
    client: ClientInfo,
    outcome: 'ok' | 'denied' | 'rate_limited',
    error?: string,
  ): void {
    if (!this.#audit) return;
    try {
      this.#audit.record({
        type: 'auth',
        action,
        actor,
        client: { ip: client.ip, ...(client.userAgent ? { userAgent: client.userAgent } : {}) },
        outcome,
        ...(error ? { error } : {}),
      });
    } catch (err) {
      this.#logger.warn({ err }, 'audit record failed');
    }
  }
}
