/**
 * The local operator's view of the hub for `omnihub user|key|role|server …`: the same services the
 * REST API uses, directly on the store named by the environment (DATABASE_URL or OMNIHUB_DATA_DIR).
 * Changes notify the same topics, so running hubs pick them up at once.
 */
import { AuditLog } from '../audit/log.ts';
import type { AuditSink } from '../audit/types.ts';
import { ApiKeyService } from '../auth/api-keys.ts';
import { resolveServerKeys } from '../auth/server-secret.ts';
import { type HubEnv, readEnv } from '../config/env.ts';
import { openStore, type Store } from '../store/store.ts';
import { createLogger, type Logger } from '../telemetry/logger.ts';
import { type Actor, type ChangeContext, cliActor } from './changes.ts';
import { RoleService } from './role-service.ts';
import { ServerService } from './server-service.ts';
import { UserService } from './user-service.ts';

export interface Operator {
  store: Store;
  actor: Actor;
  users: UserService;
  roles: RoleService;
  servers: ServerService;
  /** The API key service (needs the server secret: OMNIHUB_SECRET or the one kept in the database). */
  apiKeys(): Promise<ApiKeyService>;
  close(): Promise<void>;
}

export interface OperatorOptions {
  env: Pick<HubEnv, 'databaseUrl' | 'dataDir' | 'secret'>;
  logger: Logger;
  /** Where changes are audited; default: the hub's audit log in the same store. */
  audit?: AuditSink;
}

export async function openOperator(options: OperatorOptions): Promise<Operator> {
  const { env, logger } = options;
  const store = await openStore({ databaseUrl: env.databaseUrl, dataDir: env.dataDir, logger });
  // The operator's changes go into the same hash-chained audit log as the API's (flushed on close).
  let ownLog: AuditLog | undefined;
  try {
    if (!options.audit) {
      ownLog = new AuditLog({ store, dataDir: env.dataDir, logger });
      await ownLog.start();
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  const audit = options.audit ?? ownLog;
  const ctx: ChangeContext = { store, logger, ...(audit ? { audit } : {}) };
  let keys: ApiKeyService | undefined;
  return {
    store,
    actor: cliActor(),
    users: new UserService(ctx),
    roles: new RoleService(ctx),
    servers: new ServerService(ctx),
    async apiKeys() {
      if (!keys) {
        const serverKeys = await resolveServerKeys(store, env.secret, logger);
        keys = new ApiKeyService({
          store,
          hashKey: serverKeys.apiKeyHash,
          logger,
          ...(audit ? { audit } : {}),
        });
      }
      return keys;
    },
    async close() {
      await keys?.close();
      await ownLog?.close();
      await store.close();
    },
  };
}

/** Plain aligned columns for terminals. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** Opens the operator on the environment's store, runs `fn`, and always closes it. */
export async function withOperator<T>(
  env: OperatorOptions['env'],
  logger: Logger,
  fn: (op: Operator) => Promise<T>,
): Promise<T> {
  const op = await openOperator({ env, logger });
  try {
    return await fn(op);
  } finally {
    await op.close();
  }
}

/** For CLI commands: the store from this process's environment, quiet logs (warnings and worse). */
export function operate<T>(fn: (op: Operator) => Promise<T>): Promise<T> {
  const env = readEnv();
  return withOperator(env, createLogger({ level: 'warn' }), fn);
}

/** Everything on stdin, without the final newline (for `--password-stdin`). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
