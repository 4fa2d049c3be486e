/**
 * Small cryptographic helpers: random tokens in base62, CRC32 checksums, keyed hashes, and sealing
 * (AES-256-GCM) under keys derived from the server secret.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { SealedJwk } from '../store/schema.ts';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** `length` uniformly random base62 characters (rejection sampling: no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 248 = 4 * 62: bytes at or above it would favour the first characters.
      if (byte < 248) out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** CRC32 of `text` as exactly 6 base62 characters (62^6 > 2^32). */
export function checksum62(text: string): string {
  let n = crc32(text);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62] + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/** HMAC-SHA-256 of `data` under `key`. */
export function keyedHash(key: Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** Constant-time comparison of two digests (false on a length mismatch). */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The independent keys the hub derives from its one server secret (HKDF-SHA-256, one label each). */
export interface ServerKeys {
  /** Keys the stored hash of every API key secret. */
  apiKeyHash: Buffer;
  /** Keys the stored hash of every refresh token. */
  refreshTokenHash: Buffer;
  /** Encrypts the private JWT signing keys at rest. */
  signingKeySeal: Buffer;
}

export function deriveServerKeys(secret: string): ServerKeys {
  const derive = (label: string) =>
    Buffer.from(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'omnihub', `omnihub/${label}/v1`, 32));
  return {
    apiKeyHash: derive('api-key-hash'),
    refreshTokenHash: derive('refresh-token-hash'),
    signingKeySeal: derive('signing-key-seal'),
  };
}

/** Encrypts `plaintext` with AES-256-GCM; `context` is authenticated (binds the ciphertext to a row). */
export function seal(key: Buffer, plaintext: string, context: string): SealedJwk {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return {
    v: 1,
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
    data: data.toString('base64url'),
  };
}

/** Decrypts what `seal` produced; throws when the key, the context or the data do not match. */
export function unseal(key: Buffer, sealed: SealedJwk, context: string): string {
  if (sealed.v !== 1) throw new Error(`unknown sealed format v${String(sealed.v)}`);
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64url'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64url')), decipher.final()]).toString(
    'utf8',
  );
}
