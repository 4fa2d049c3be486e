import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

/** Typings for the audit tables (migration 3); kept here so the audit module owns its storage. */
export interface AuditEventsTable {
  /** Chain position: 1, 2, 3… across every hub instance sharing the database. */
  seq: string | number | bigint;
  id: string;
  time: Date;
  type: string;
  action: string;
  request_id: string | null;
  actor_id: string | null;
  user_id: string | null;
  actor_email: string | null;
  key_id: string | null;
  /** JSON array text. */
  roles: string | null;
  client_ip: string | null;
  user_agent: string | null;
  client_name: string | null;
  client_version: string | null;
  server: string | null;
  target: string | null;
  resource: string | null;
  /** Canonical JSON text of the redacted (and capped) arguments. */
  arguments: string | null;
  arguments_hash: string | null;
  arguments_bytes: number | null;
  allowed: boolean | null;
  rule: string | null;
  reason: string | null;
  outcome: string;
  error: string | null;
  latency_ms: number | null;
  replica: string | null;
  before: string | null;
  after: string | null;
  instance: string | null;
  prev_hash: string;
  hash: string;
  /** Lower-case text the free-text filter searches (derived, not part of the hash). */
  search: string;
}

export interface AuditChainTable {
  id: string;
  /** Last appended position and hash. */
  seq: string | number | bigint;
  hash: string;
  /** Where the stored chain starts after retention: the position and hash of the last deleted event. */
  anchor_seq: string | number | bigint;
  anchor_hash: string;
  updated_at: Date;
}

export interface AuditTables {
  audit_events: AuditEventsTable;
  audit_chain: AuditChainTable;
}

export type AuditDatabase = Database & AuditTables;

/** The store's Kysely instance, seen with the audit tables. */
export function auditDb(db: Kysely<Database>): Kysely<AuditDatabase> {
  return db as unknown as Kysely<AuditDatabase>;
}

export const CHAIN_ID = 'main';
export const GENESIS_HASH = '0'.repeat(64);
