/**
 * What every admin change does after it commits: tell every hub instance (change topics) and leave an
 * audit record with the object before and after (secrets already removed by the caller's views).
 */
import type { AuditInput, AuditOutcome, AuditSink } from '../audit/types.ts';
import type { ClientInfo, Principal } from '../auth/principal.ts';
import type { Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';

/** The change topics the hub's caches follow (the same names as `src/auth/topics.ts`). */
export const Topics = {
  users: 'users',
  roles: 'roles',
  identity: 'identity',
  config: 'config',
} as const;

/** Who made a change: a signed-in principal (REST) or the local operator (CLI). */
export interface Actor {
  id: string;
  userId?: string;
  email?: string;
  keyId?: string;
  roles?: readonly string[];
  ip?: string;
  userAgent?: string;
}

export function actorFromPrincipal(principal: Principal, client?: ClientInfo): Actor {
  return {
    id: principal.id,
    ...(principal.userId !== undefined ? { userId: principal.userId } : {}),
    ...(principal.email !== undefined ? { email: principal.email } : {}),
    ...(principal.keyId !== undefined ? { keyId: principal.keyId } : {}),
    roles: principal.roles,
    ...(client?.ip !== undefined ? { ip: client.ip } : {}),
    ...(client?.userAgent !== undefined ? { userAgent: client.userAgent } : {}),
  };
}

/** The local operator running `omnihub user …` on the hub's machine. */
export function cliActor(): Actor {
  const user = process.env.USER ?? process.env.LOGNAME;
  return { id: user ? `cli:${user}` : 'cli' };
}

export interface ChangeContext {
  store: Store;
  audit?: AuditSink;
  logger: Logger;
}

export interface ChangeRecord {
  action: string;
  /** What was changed: a user's email, a role or server name, an API key id. */
  target: string;
  before?: unknown;
  after?: unknown;
  outcome?: AuditOutcome;
  error?: string;
  server?: string;
}

/** Notifies every topic; a lost notification only delays other instances, so it is logged, not thrown. */
export async function announce(ctx: ChangeContext, topics: readonly string[]): Promise<void> {
  for (const topic of new Set(topics)) {
    try {
      await ctx.store.notifyChange(topic);
    } catch (err) {
      ctx.logger.warn({ err, topic }, 'change committed but the change notification failed');
    }
  }
}

export function recordChange(ctx: ChangeContext, actor: Actor, change: ChangeRecord): void {
  if (!ctx.audit) return;
  const input: AuditInput = {
    type: 'admin',
    action: change.action,
    actor: {
      id: actor.id,
      ...(actor.userId !== undefined ? { userId: actor.userId } : {}),
      ...(actor.email !== undefined ? { email: actor.email } : {}),
      ...(actor.keyId !== undefined ? { keyId: actor.keyId } : {}),
      ...(actor.roles !== undefined ? { roles: actor.roles } : {}),
    },
    target: change.target,
    outcome: change.outcome ?? 'ok',
    ...(actor.ip !== undefined || actor.userAgent !== undefined
      ? {
          client: {
            ...(actor.ip !== undefined ? { ip: actor.ip } : {}),
            ...(actor.userAgent !== undefined ? { userAgent: actor.userAgent } : {}),
          },
        }
      : {}),
    ...(change.server !== undefined ? { server: change.server } : {}),
    ...(change.before !== undefined ? { before: change.before } : {}),
    ...(change.after !== undefined ? { after: change.after } : {}),
    ...(change.error !== undefined ? { error: change.error } : {}),
  };
  try {
    ctx.audit.record(input);
  } catch (err) {
    // Audit never fails a request; the sink should not throw, but a broken one must not undo a change.
    ctx.logger.error({ err, action: change.action }, 'audit sink failed');
  }
}

/** Announces the topics and records the change: the tail of every successful admin mutation. */
export async function committed(
  ctx: ChangeContext,
  actor: Actor,
  topics: readonly string[],
  change: ChangeRecord,
): Promise<void> {
  await announce(ctx, topics);
  recordChange(ctx, actor, change);
}
