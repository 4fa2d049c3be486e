import { type Kysely, sql } from 'kysely';
import { HubError } from '../server/errors.ts';
import type { Database } from './schema.ts';

export interface Migration {
  version: number;
  name: string;
  /** Single statements: PGlite's extended protocol runs one statement per query. */
  statements: string[];
}

/**
 * Ordered, append-only. Never edit a released migration: add a new one. Every statement must run on
 * PostgreSQL 15+ and on PGlite alike.
 */
export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'servers, roles, users, settings',
    statements: [
      `create table servers (
        name text primary key check (name ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$'),
        transport text not null check (transport in ('stdio', 'http', 'sse')),
        config jsonb not null,
        enabled boolean not null default true,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create table roles (
        name text primary key check (length(name) between 1 and 200),
        description text,
        rules jsonb not null default '{"allow":[],"deny":[]}'::jsonb,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create table users (
        id uuid primary key default gen_random_uuid(),
        email text not null unique check (email = lower(email) and length(email) between 3 and 320),
        name text,
        password_hash text,
        enabled boolean not null default true,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      )`,
      `create table user_roles (
        user_id uuid not null references users (id) on delete cascade,
        role_name text not null references roles (name) on delete cascade on update cascade,
        primary key (user_id, role_name)
      )`,
      'create index user_roles_role_name_idx on user_roles (role_name)',
      `create table settings (
        key text primary key,
        value jsonb not null,
        updated_at timestamptz not null default now()
      )`,
      // The built-in administrator role: config files may reference `admin` without defining it.
      `insert into roles (name, description, rules) values ('admin', 'Hub administrators (built in)',
        '{"allow":[{"server":"*","tools":"*","prompts":"*","uris":"*"}],"deny":[]}'::jsonb)`,
    ],
  },
  {
    version: 2,
    name: 'identity: secrets, signing keys, refresh tokens, api keys',
    statements: [
      // Secrets the hub generates for itself (the server secret when OMNIHUB_SECRET is unset). Kept out
      // of `settings` so no settings listing can ever show them.
      `create table auth_secrets (
        name text primary key,
        value text not null,
        created_at timestamptz not null default now()
      )`,
      // JWT signing keys. private_jwk holds the private JWK encrypted (AES-256-GCM) under a key derived
      // from the server secret; public_jwk is published at /.well-known/jwks.json unless disabled.
      `create table signing_keys (
        kid text primary key check (kid ~ '^[A-Za-z0-9_-]{8,64}$'),
        alg text not null check (alg in ('EdDSA', 'ES256')),
        public_jwk jsonb not null,
        private_jwk jsonb not null,
        state text not null default 'active' check (state in ('active', 'retired', 'disabled')),
        created_at timestamptz not null default now(),
        retired_at timestamptz
      )`,
      `create unique index signing_keys_one_active_idx on signing_keys (state) where state = 'active'`,
      // Opaque refresh tokens: only their keyed hash is stored. One family per sign-in.
      `create table refresh_tokens (
        id uuid primary key default gen_random_uuid(),
        family_id uuid not null,
        user_id uuid not null references users (id) on delete cascade,
        token_hash text not null unique,
        expires_at timestamptz not null,
        family_expires_at timestamptz not null,
        used_at timestamptz,
        revoked_at timestamptz,
        created_at timestamptz not null default now()
      )`,
      'create index refresh_tokens_family_idx on refresh_tokens (family_id)',
      'create index refresh_tokens_user_idx on refresh_tokens (user_id)',
      'create index refresh_tokens_revoked_idx on refresh_tokens (revoked_at) where revoked_at is not null',
      // API keys: the public id in clear (lookup), the secret only as HMAC-SHA-256 under the server secret.
      `create table api_keys (
        id text primary key check (id ~ '^[A-Za-z0-9]{12}$'),
        user_id uuid not null references users (id) on delete cascade,
        name text not null check (length(name) between 1 and 200),
        hash text not null,
        scopes jsonb,
        expires_at timestamptz,
        revoked_at timestamptz,
        last_used_at timestamptz,
        created_at timestamptz not null default now()
      )`,
      'create index api_keys_user_idx on api_keys (user_id)',
    ],
  },
  {
    version: 3,
    name: 'audit trail: hash-chained events, chain head',
    statements: [
      // One row per event. seq is the chain position; hash = SHA-256(prev_hash, canonical content)
      // (src/audit/event.ts). Text columns keep exactly what was hashed, so verification re-reads it.
      `create table audit_events (
        seq bigint primary key,
        id uuid not null unique,
        time timestamptz(3) not null,
        type text not null,
        action text not null,
        request_id text,
        actor_id text,
        user_id text,
        actor_email text,
        key_id text,
        roles text,
        client_ip text,
        user_agent text,
        client_name text,
        client_version text,
        server text,
        target text,
        resource text,
        arguments text,
        arguments_hash text,
        arguments_bytes integer,
        allowed boolean,
        rule text,
        reason text,
        outcome text not null,
        error text,
        latency_ms double precision,
        replica text,
        before text,
        after text,
        instance text,
        prev_hash text not null,
        hash text not null,
        search text not null default ''
      )`,
      // Newest-first listings: every filter index ends with (time, seq) so a filtered page is one
      // backward index range scan, and the cursor (time, seq) continues it.
      'create index audit_events_time_idx on audit_events (time, seq)',
      'create index audit_events_actor_idx on audit_events (actor_id, time, seq)',
      'create index audit_events_email_idx on audit_events (actor_email, time, seq)',
      'create index audit_events_server_idx on audit_events (server, time, seq)',
      'create index audit_events_target_idx on audit_events (target, time, seq)',
      'create index audit_events_resource_idx on audit_events (resource, time, seq)',
      'create index audit_events_outcome_idx on audit_events (outcome, time, seq)',
      'create index audit_events_denied_idx on audit_events (time, seq) where allowed = false',
      // The chain head: appends lock this row (FOR UPDATE), so hub instances sharing the database take
      // turns and the chain stays one verifiable sequence. anchor_* is where retention cut the chain.
      `create table audit_chain (
        id text primary key,
        seq bigint not null,
        hash text not null,
        anchor_seq bigint not null,
        anchor_hash text not null,
        updated_at timestamptz not null default now()
      )`,
      `insert into audit_chain (id, seq, hash, anchor_seq, anchor_hash)
        values ('main', 0, repeat('0', 64), 0, repeat('0', 64))`,
      // Free-text search: a trigram index where pg_trgm can be had (PostgreSQL); PGlite, or a role that
      // may not create extensions, goes without (the filter still works, by scanning within the others).
      `do $$
      declare
        ext_schema text;
      begin
        select n.nspname into ext_schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
          where e.extname = 'pg_trgm';
        if ext_schema is null then
          create extension if not exists pg_trgm;
          select n.nspname into ext_schema from pg_extension e join pg_namespace n on n.oid = e.extnamespace
            where e.extname = 'pg_trgm';
        end if;
        execute format('create index audit_events_search_idx on audit_events using gin (search %I.gin_trgm_ops)', ext_schema);
      exception when others then
        raise notice 'audit free-text index skipped: %', sqlerrm;
      end
      $$`,
    ],
  },
  {
    version: 4,
    name: 'health history',
    statements: [
      // One row per health state change of a server (replica null) or of one replica, plus admin
      // actions (disable, enable, drain). Written off the request path by src/health/history.ts.
      `create table health_events (
        id bigserial primary key,
        server text not null,
        replica text,
        kind text not null default 'state' check (kind in ('state', 'disabled', 'enabled', 'drain', 'undrain')),
        from_state text check (from_state in ('healthy', 'degraded', 'down')),
        to_state text check (to_state in ('healthy', 'degraded', 'down')),
        reason text,
        at timestamptz not null default now()
      )`,
      'create index health_events_server_idx on health_events (server, id desc)',
    ],
  },
];

/** Roles the hub relies on: never pruned by `applyConfig`, never removed through the store. */
export const BUILTIN_ROLES: readonly string[] = ['admin'];

export interface MigrateResult {
  applied: number[];
  current: number;
}

/**
 * Applies the pending migrations in one transaction. A transaction-scoped advisory lock makes hub
 * instances that start together take turns: the second one waits, then finds nothing left to do.
 * `schema` is the schema the store lives in (created when missing); it must already be on search_path.
 */
export async function migrate(db: Kysely<Database>, schema?: string): Promise<MigrateResult> {
  // Versions may be appended out of numeric order (parallel work): the newest known is the maximum.
  const known = Math.max(0, ...migrations.map((m) => m.version));
  return db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${`omnihub.migrate.${schema ?? ''}`}))`.execute(tx);
    if (schema !== undefined) await sql`create schema if not exists ${sql.id(schema)}`.execute(tx);
    await sql`create table if not exists schema_migrations (
      version integer primary key,
      name text not null,
      applied_at timestamptz not null default now()
    )`.execute(tx);
    const rows = await tx.selectFrom('schema_migrations').select('version').execute();
    const done = new Set(rows.map((r) => r.version));
    const newest = Math.max(0, ...done);
    if (newest > known) {
      // Running old code on a newer schema could corrupt data: refuse instead.
      throw new HubError(
        'STORE_UNAVAILABLE',
        `The database schema (version ${newest}) is newer than this omnihub supports (version ${known}); upgrade omnihub`,
      );
    }
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      for (const statement of m.statements) await sql.raw(statement).execute(tx);
      await tx.insertInto('schema_migrations').values({ version: m.version, name: m.name }).execute();
      applied.push(m.version);
    }
    return { applied, current: known };
  });
}
