import { randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { PASSWORD_HASH_OPTIONS } from '../config/apply.ts';
import { randomBase62 } from './crypto.ts';

/** Longer passwords are refused before hashing (argon2 cost grows with the input). */
export const MAX_PASSWORD_LENGTH = 1024;

export function hashPassword(password: string): Promise<string> {
  return hash(password, PASSWORD_HASH_OPTIONS);
}

/** False on a mismatch and on anything that is not a readable argon2 hash. */
export async function verifyPassword(storedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(storedHash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;

/**
 * A hash of a random password with the current parameters. Sign-ins for unknown, password-less or
 * disabled accounts verify against it, so they take as long as real ones.
 */
export function dummyHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(32).toString('hex'));
  return dummy;
}

/** True when the PHC string uses weaker parameters than the current ones (re-hash on sign-in). */
export function needsRehash(storedHash: string): boolean {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(storedHash);
  if (!m) return true;
  const [memory, time, lanes] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return (
    memory < PASSWORD_HASH_OPTIONS.memoryCost ||
    time < PASSWORD_HASH_OPTIONS.timeCost ||
    lanes < PASSWORD_HASH_OPTIONS.parallelism
  );
}

/** A strong random password (24 base62 characters, ~142 bits) for a generated first admin. */
export function generatePassword(): string {
  return randomBase62(24);
}
