import { z } from 'zod';
import type { ApiKeyService } from '../../auth/api-keys.ts';
import type { Principal } from '../../auth/principal.ts';
import { ruleSchema } from '../../config/schema.ts';
import { HubError } from '../../server/errors.ts';
import type { ApiKeyRecord } from '../../store/api-keys.ts';
import type { Store } from '../../store/store.ts';
import { paginate, parseInput } from '../http.ts';
import { pageOf, pageParameters, pathParam, type RouteSpec, ref } from '../route-table.ts';
import { findUser } from '../user-service.ts';
import { pageQuerySchema } from './users.ts';

/** What the admin API needs of the auth module's API key service. */
export type ApiKeyManager = Pick<ApiKeyService, 'create' | 'list' | 'get' | 'revoke'>;

export interface ApiKeyView {
  id: string;
  /** The visible start of the key (`omh_<id>_`), to recognise it in a client's settings. */
  prefix: string;
  user_id: string;
  name: string;
  scopes: ApiKeyRecord['scopes'];
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  created_at: string;
}

export function apiKeyView(key: ApiKeyRecord): ApiKeyView {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: key.id,
    prefix: `omh_${key.id}_`,
    user_id: key.userId,
    name: key.name,
    scopes: key.scopes,
    expires_at: iso(key.expiresAt),
    revoked_at: iso(key.revokedAt),
    last_used_at: iso(key.lastUsedAt),
    created_at: key.createdAt.toISOString(),
  };
}

const createKeySchema = z
  .object({
    name: z.string().trim().min(1).max(200),
    /** Allow rules the key is narrowed to; omitted or null: all of the owner's permissions. */
    scopes: z.array(ruleSchema).min(1).max(100).nullable().optional(),
    expires_at: z.string().datetime({ offset: true }).nullable().optional(),
    /** Days from now (instead of expires_at). */
    expires_in_days: z.number().int().min(1).max(3650).optional(),
    /** Admins only: create the key for this user (email or id). */
    user: z.string().min(1).max(320).optional(),
  })
  .strict()
  .refine((b) => b.expires_at == null || b.expires_in_days === undefined, {
    message: 'give expires_at or expires_in_days, not both',
    path: ['expires_in_days'],
  });

const listQuery = pageQuerySchema.extend({ user: z.string().min(1).max(320).optional() }).strict();

const DAY_MS = 86_400_000;

/** Keys belong to hub users: an IdP principal without a user record has none. */
function ownerId(principal: Principal): string {
  if (principal.userId === undefined) {
    throw new HubError('ACCESS_DENIED', 'API keys belong to hub users; this identity has no hub user');
  }
  return principal.userId;
}

export function keyRoutes(store: Store, keys: ApiKeyManager): RouteSpec[] {
  /** The user whose keys an admin asks about (`user` given), else the caller. */
  async function subjectUser(
    principal: Principal,
    admin: boolean,
    user: string | undefined,
  ): Promise<string> {
    if (user === undefined) return ownerId(principal);
    if (!admin) throw new HubError('ACCESS_DENIED', "Only admins manage other users' API keys");
    const found = await findUser(store, user);
    if (!found) throw new HubError('NOT_FOUND', `No user ${user}`);
    return found.id;
  }

  /** A key the caller may see: their own, or any for an admin. Others' keys are simply not found. */
  async function visibleKey(principal: Principal, admin: boolean, id: string): Promise<ApiKeyRecord> {
    const key = await keys.get(id);
    if (!key || (!admin && key.userId !== principal.userId))
      throw new HubError('NOT_FOUND', `No API key ${id}`);
    return key;
  }

  const keyParam = pathParam('key', 'The key id (the 12 characters after `omh_`)');
  const id = (req: { params: unknown }): string => (req.params as { key: string }).key;

  return [
    {
      method: 'GET',
      url: '/api/v1/keys',
      operationId: 'listKeys',
      summary: "List the caller's API keys (admins: any user's with `user`), newest first; never the secret",
      tag: 'keys',
      access: 'user',
      parameters: [
        ...pageParameters,
        {
          name: 'user',
          in: 'query',
          description: 'Admins: the owner (email or id)',
          schema: { type: 'string' },
        },
      ],
      responses: { 200: { description: 'A page of keys', schema: pageOf('ApiKey') } },
      async handler({ req, principal, admin }) {
        const query = parseInput(listQuery, req.query, 'query');
        const userId = await subjectUser(principal, admin, query.user);
        const page = paginate(
          await keys.list(userId),
          (k) => `${k.createdAt.toISOString()}|${k.id}`,
          query,
          true,
        );
        return { items: page.items.map(apiKeyView), next_cursor: page.next_cursor };
      },
    },
    {
      method: 'POST',
      url: '/api/v1/keys',
      operationId: 'createKey',
      summary: 'Create an API key; the response holds the secret `key`, shown this once',
      tag: 'keys',
      access: 'user',
      body: ref('ApiKeyCreate'),
      responses: { 201: { description: 'The key, with its secret', schema: ref('ApiKeyCreated') } },
      async handler({ req, reply, principal, admin, actor }) {
        const input = parseInput(createKeySchema, req.body, 'body');
        if (principal.scopes !== undefined) {
          // A narrowed key could otherwise mint an unnarrowed one.
          throw new HubError('ACCESS_DENIED', 'A scoped API key cannot create API keys');
        }
        const userId = await subjectUser(principal, admin, input.user);
        const expiresAt =
          input.expires_in_days !== undefined
            ? new Date(Date.now() + input.expires_in_days * DAY_MS)
            : input.expires_at
              ? new Date(input.expires_at)
              : null;
        const created = await keys.create(
          { userId, name: input.name, scopes: input.scopes ?? null, expiresAt },
          {
            id: actor.id,
            ...(actor.userId ? { userId: actor.userId } : {}),
            ...(actor.email ? { email: actor.email } : {}),
          },
        );
        reply.code(201);
        return { ...apiKeyView(created.record), key: created.key };
      },
    },
    {
      method: 'GET',
      url: '/api/v1/keys/:key',
      operationId: 'getKey',
      summary: 'Get one API key (own, or any for admins)',
      tag: 'keys',
      access: 'user',
      parameters: [keyParam],
      responses: { 200: { description: 'The key (never the secret)', schema: ref('ApiKey') } },
      async handler({ req, principal, admin }) {
        return apiKeyView(await visibleKey(principal, admin, id(req)));
      },
    },
    {
      method: 'DELETE',
      url: '/api/v1/keys/:key',
      operationId: 'revokeKey',
      summary: 'Revoke an API key (own, or any for admins): refused from the next request on',
      tag: 'keys',
      access: 'user',
      parameters: [keyParam],
      responses: { 204: { description: 'Revoked (or already revoked)' } },
      async handler({ req, reply, principal, admin, actor }) {
        const key = await visibleKey(principal, admin, id(req));
        await keys.revoke(key.id, {
          ...(admin ? {} : { userId: key.userId }),
          actor: {
            id: actor.id,
            ...(actor.userId ? { userId: actor.userId } : {}),
            ...(actor.email ? { email: actor.email } : {}),
          },
        });
        reply.code(204);
        return null;
      },
    },
  ];
}
