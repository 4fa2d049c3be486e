/**
 * The hub's JWT signing keys: one active key signs, retired keys still verify (tokens signed before a
 * rotation stay valid until they expire), disabled keys do neither. Private keys are stored sealed
 * under the server secret; only the active one is ever decrypted.
 */
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { SigningKeyAlg, StoredJwk } from '../store/schema.ts';
import type { SigningKeyRecord } from '../store/signing-keys.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { seal, unseal } from './crypto.ts';
import { IDENTITY_TOPIC } from './topics.ts';

export const SIGNING_ALGORITHMS: readonly SigningKeyAlg[] = ['EdDSA', 'ES256'];
export const KID_FORMAT = /^[A-Za-z0-9_-]{8,64}$/;

/** A public key for /.well-known/jwks.json. */
export interface PublicJwk extends JWK {
  kid: string;
  alg: SigningKeyAlg;
  use: 'sig';
}

export interface SigningKeyInfo {
  kid: string;
  alg: SigningKeyAlg;
  state: SigningKeyRecord['state'];
  createdAt: Date;
  retiredAt: Date | null;
}

interface VerificationKey {
  alg: SigningKeyAlg;
  key: CryptoKey;
  jwk: PublicJwk;
}

interface ActiveKey {
  kid: string;
  alg: SigningKeyAlg;
  privateKey: CryptoKey;
}

const sealContext = (kid: string) => `signing_keys:${kid}`;

async function newKey(alg: SigningKeyAlg, sealKey: Buffer) {
  const { publicKey, privateKey } =
    alg === 'EdDSA'
      ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })
      : await generateKeyPair('ES256', { extractable: true });
  const kid = randomBytes(12).toString('base64url');
  const publicJwk = (await exportJWK(publicKey)) as StoredJwk;
  const privateJwk = seal(sealKey, JSON.stringify(await exportJWK(privateKey)), sealContext(kid));
  return { kid, alg, publicJwk, privateJwk };
}

export class KeyRing {
  readonly #store: Store;
  readonly #sealKey: Buffer;
  readonly #logger: Logger;
  readonly #alg: SigningKeyAlg;
  #verification = new Map<string, VerificationKey>();
  #active: ActiveKey | undefined;
  #jwks: { keys: PublicJwk[] } = { keys: [] };
  readonly #listeners = new Set<() => void>();

  constructor(store: Store, sealKey: Buffer, logger: Logger, alg: SigningKeyAlg = 'EdDSA') {
    this.#store = store;
    this.#sealKey = sealKey;
    this.#logger = logger;
    this.#alg = alg;
  }

  /** Reads the keys; creates the first one when there is none. */
  async load(): Promise<void> {
    let records = await this.#store.signingKeys.list();
    if (!records.some((r) => r.state === 'active')) {
      const created = await newKey(this.#alg, this.#sealKey);
      if (await this.#store.signingKeys.insertFirst(created)) {
        this.#logger.info({ kid: created.kid, alg: created.alg }, 'created the first JWT signing key');
      }
      records = await this.#store.signingKeys.list();
    }
    await this.#install(records);
    if (!this.#active) {
      // The active key is sealed under another secret (OMNIHUB_SECRET changed): start a new one.
      this.#logger.error(
        'the active JWT signing key cannot be decrypted with this server secret (was OMNIHUB_SECRET changed?); rotating to a new key',
      );
      await this.rotate();
    }
  }

  async #install(records: SigningKeyRecord[]): Promise<void> {
    const verification = new Map<string, VerificationKey>();
    let active: ActiveKey | undefined;
    for (const r of records) {
      if (r.state === 'disabled' || !SIGNING_ALGORITHMS.includes(r.alg)) continue;
      try {
        const jwk: PublicJwk = { ...r.publicJwk, kid: r.kid, alg: r.alg, use: 'sig' };
        const key = (await importJWK(r.publicJwk, r.alg)) as CryptoKey;
        verification.set(r.kid, { alg: r.alg, key, jwk });
      } catch (err) {
        this.#logger.error({ err, kid: r.kid }, 'unreadable JWT verification key ignored');
        continue;
      }
      if (r.state === 'active') {
        try {
          const privateJwk = JSON.parse(unseal(this.#sealKey, r.privateJwk, sealContext(r.kid))) as JWK;
          active = { kid: r.kid, alg: r.alg, privateKey: (await importJWK(privateJwk, r.alg)) as CryptoKey };
        } catch {
          active = undefined;
        }
      }
    }
    this.#verification = verification;
    this.#active = active;
    this.#jwks = { keys: [...verification.values()].map((v) => v.jwk) };
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` whenever the set of keys changes (caches of verified tokens must go). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #notify(): Promise<void> {
    try {
      await this.#store.notifyChange(IDENTITY_TOPIC);
    } catch (err) {
      this.#logger.warn({ err }, 'signing key change notification failed');
    }
  }

  /** The key that signs new tokens. */
  get active(): ActiveKey {
    if (!this.#active) throw new Error('no active signing key (KeyRing.load() not called?)');
    return this.#active;
  }

  /** Only our own keys, looked up by kid: never a URL, path or query. */
  verificationKey(kid: unknown): VerificationKey | undefined {
    return typeof kid === 'string' && KID_FORMAT.test(kid) ? this.#verification.get(kid) : undefined;
  }

  /** Algorithms of the keys that currently verify. */
  get algorithms(): SigningKeyAlg[] {
    return [...new Set([...this.#verification.values()].map((v) => v.alg))];
  }

  /** The public keys of every active and retired key. */
  jwks(): { keys: PublicJwk[] } {
    return this.#jwks;
  }

  async list(): Promise<SigningKeyInfo[]> {
    return (await this.#store.signingKeys.list()).map((r) => ({
      kid: r.kid,
      alg: r.alg,
      state: r.state,
      createdAt: r.createdAt,
      retiredAt: r.retiredAt,
    }));
  }

  /**
   * Makes a new key active. The previous one is retired: it no longer signs but still verifies the
   * tokens it signed until you disable it. Retired keys older than `disableRetiredOlderThanMs` are
   * disabled at the same time (their tokens have long expired).
   */
  async rotate(disableRetiredOlderThanMs?: number): Promise<string> {
    const created = await newKey(this.#alg, this.#sealKey);
    await this.#store.transaction(async (tx) => {
      if (disableRetiredOlderThanMs !== undefined) {
        const horizon = Date.now() - disableRetiredOlderThanMs;
        for (const r of await tx.signingKeys.list()) {
          if (r.state === 'retired' && r.retiredAt && r.retiredAt.getTime() < horizon) {
            await tx.signingKeys.setState(r.kid, 'disabled');
          }
        }
      }
      await tx.signingKeys.activate(created);
    });
    await this.#install(await this.#store.signingKeys.list());
    await this.#notify();
    this.#logger.info({ kid: created.kid, alg: created.alg }, 'rotated the JWT signing key');
    return created.kid;
  }

  /** Retires (still verifies) or disables (verifies nothing) a key that is not the active one. */
  async setState(kid: string, state: 'retired' | 'disabled'): Promise<boolean> {
    if (!KID_FORMAT.test(kid) || kid === this.#active?.kid) return false;
    const changed = await this.#store.signingKeys.setState(kid, state);
    if (changed) {
      await this.#install(await this.#store.signingKeys.list());
      await this.#notify();
    }
    return changed;
  }

  /** Re-reads the keys (another instance rotated or disabled one). */
  async reload(): Promise<void> {
    await this.#install(await this.#store.signingKeys.list());
    if (!this.#active) this.#logger.error('no usable active JWT signing key after reload');
  }
}
