/**
 * API key format: `omh_<id>_<secret>_<checksum>`
 *
 * - `omh_` lets secret scanners (and people) recognise a leaked key; `_` keeps a double-click selecting
 *   the whole key.
 * - `id`: 12 base62 characters, stored in clear: O(1) lookup, safe to show and log.
 * - `secret`: 32 base62 characters (~190 bits); only HMAC-SHA-256(server key, secret) is stored.
 * - `checksum`: CRC32 of everything before it, 6 base62 characters: a typo or a random string is
 *   refused without touching any cache or the database.
 */
import { checksum62, randomBase62 } from './crypto.ts';

export const API_KEY_PREFIX = 'omh_';
const ID_LENGTH = 12;
const SECRET_LENGTH = 32;
const FORMAT = /^omh_([0-9A-Za-z]{12})_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})$/;
export const API_KEY_ID = /^[0-9A-Za-z]{12}$/;

export interface ParsedApiKey {
  id: string;
  secret: string;
}

export function generateApiKey(): ParsedApiKey & { key: string } {
  const id = randomBase62(ID_LENGTH);
  const secret = randomBase62(SECRET_LENGTH);
  const body = `${API_KEY_PREFIX}${id}_${secret}`;
  return { id, secret, key: `${body}_${checksum62(body)}` };
}

/** The key's parts when it is well formed and its checksum matches; undefined otherwise. */
export function parseApiKey(key: string): ParsedApiKey | undefined {
  const m = FORMAT.exec(key);
  if (!m) return undefined;
  const [, id, secret, sum] = m as unknown as [string, string, string, string];
  if (checksum62(key.slice(0, key.length - 7)) !== sum) return undefined;
  return { id, secret };
}

/** True for anything that claims to be an API key (by prefix), well formed or not. */
export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}
