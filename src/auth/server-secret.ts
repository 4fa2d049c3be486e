/**
 * The one server secret every derived key comes from: OMNIHUB_SECRET when set, else a random secret
 * the hub generates once and keeps in the database (shared by every instance on that database).
 */
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { deriveServerKeys, randomBase62, type ServerKeys } from './crypto.ts';

const STORED_SECRET_NAME = 'server_secret';

export async function resolveServerKeys(
  store: Store,
  secret: string | undefined,
  logger: Logger,
): Promise<ServerKeys> {
  if (secret !== undefined) return deriveServerKeys(secret);
  const stored = await store.authSecrets.getOrCreate(STORED_SECRET_NAME, randomBase62(64));
  logger.info(
    'OMNIHUB_SECRET is not set: using the server secret kept in the database (set OMNIHUB_SECRET to keep it apart from the data)',
  );
  return deriveServerKeys(stored);
}
