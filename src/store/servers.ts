import { type Kysely, sql } from 'kysely';
import type { ServerConfig } from '../config/schema.ts';
import type { Database, ServerRow, Transport } from './schema.ts';

export interface ServerRecord {
  name: string;
  transport: Transport;
  /** The validated config; `config.enabled` always mirrors the `enabled` column. */
  config: ServerConfig;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
}

/** What an upsert did: `unchanged` when the stored row already held exactly these values. */
export type UpsertOutcome = 'created' | 'updated' | 'unchanged';

export interface ServersRepository {
  list(): Promise<ServerRecord[]>;
  get(name: string): Promise<ServerRecord | undefined>;
  /** Creates or replaces a server; `enabled` defaults to `config.enabled`. */
  upsert(name: string, config: ServerConfig, options?: { enabled?: boolean }): Promise<UpsertOutcome>;
  /** Returns false when there was no such server. */
  remove(name: string): Promise<boolean>;
}

function toRecord(row: ServerRow): ServerRecord {
  return {
    name: row.name,
    transport: row.transport,
    config: { ...row.config, enabled: row.enabled },
    enabled: row.enabled,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function serversRepository(db: Kysely<Database>): ServersRepository {
  return {
    async list() {
      const rows = await db.selectFrom('servers').selectAll().orderBy('name').execute();
      return rows.map(toRecord);
    },

    async get(name) {
      const row = await db.selectFrom('servers').selectAll().where('name', '=', name).executeTakeFirst();
      return row && toRecord(row);
    },

    async upsert(name, config, options = {}) {
      const enabled = options.enabled ?? config.enabled;
      const stored: ServerConfig = { ...config, enabled };
      // The conditional DO UPDATE leaves identical rows (and their updated_at) alone and returns
      // nothing for them; `xmax = 0` tells a fresh insert from an update.
      const row = await db
        .insertInto('servers')
        .values({ name, transport: config.transport, config: JSON.stringify(stored), enabled })
        .onConflict((oc) =>
          oc
            .column('name')
            .doUpdateSet({
              transport: (eb) => eb.ref('excluded.transport'),
              config: (eb) => eb.ref('excluded.config'),
              enabled: (eb) => eb.ref('excluded.enabled'),
              updated_at: sql<Date>`now()`,
            })
            .where((eb) =>
              eb.or([
                eb('servers.transport', 'is distinct from', eb.ref('excluded.transport')),
                eb('servers.config', 'is distinct from', eb.ref('excluded.config')),
                eb('servers.enabled', 'is distinct from', eb.ref('excluded.enabled')),
              ]),
            ),
        )
        .returning(sql<boolean>`xmax = 0`.as('inserted'))
        .executeTakeFirst();
      if (!row) return 'unchanged';
      return row.inserted ? 'created' : 'updated';
    },

    async remove(name) {
      const result = await db.deleteFrom('servers').where('name', '=', name).executeTakeFirst();
      return result.numDeletedRows > 0n;
    },
  };
}
