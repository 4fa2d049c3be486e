/**
 * Managing upstream MCP servers: `/api/v1/servers` and `omnihub server …`. The store is the source of
 * truth; every change notifies the `config` topic, on which every hub instance reloads its servers.
 *
 * Upstream credentials live in `headers` (http/sse) and `env` (stdio). They are never shown again:
 * views replace their values with `[redacted]`, and a replacement that sends `[redacted]` back for a
 * name keeps the stored value, so a client can edit a server it read without knowing its secrets.
 */
import { z } from 'zod';
import { SERVER_NAME, type ServerConfig, serverSchemas } from '../config/schema.ts';
import { HubError } from '../server/errors.ts';
import type { ServerRecord } from '../store/servers.ts';
import { type Actor, type ChangeContext, committed, Topics } from './changes.ts';
import { invalid, problemsOf } from './http.ts';

export const REDACTED = '[redacted]';

export const serverNameSchema = z
  .string()
  .regex(SERVER_NAME, 'server names are 1-63 letters, digits, _ and - (starting with a letter or digit)');

export interface ServerView {
  name: string;
  transport: ServerConfig['transport'];
  enabled: boolean;
  config: ServerConfig;
  created_at: string;
  updated_at: string;
}

function redactValues(values: Record<string, string> | undefined): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  return Object.fromEntries(Object.keys(values).map((k) => [k, REDACTED]));
}

/** The config with every credential value replaced. */
export function redactServerConfig(config: ServerConfig): ServerConfig {
  if (config.transport === 'stdio') return { ...config, env: redactValues(config.env) ?? {} };
  return { ...config, headers: redactValues(config.headers) ?? {} };
}

export function serverView(record: ServerRecord): ServerView {
  return {
    name: record.name,
    transport: record.transport,
    enabled: record.enabled,
    config: redactServerConfig(record.config),
    created_at: record.createdAt.toISOString(),
    updated_at: record.updatedAt.toISOString(),
  };
}

/**
 * Validates a server config with the config file's own schemas (transport `stdio` when absent and a
 * `command` is given). Problems name their field, under `where`.
 */
export function parseServerConfig(raw: unknown, where: string): ServerConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw invalid([{ path: where, message: 'must be an object' }]);
  }
  const obj = raw as Record<string, unknown>;
  const transport = obj.transport ?? (obj.command !== undefined ? 'stdio' : undefined);
  if (transport !== 'stdio' && transport !== 'http' && transport !== 'sse') {
    throw invalid([{ path: `${where}.transport`, message: 'must be one of stdio, http, sse' }]);
  }
  const parsed = serverSchemas[transport].safeParse({ ...obj, transport });
  if (!parsed.success) throw invalid(problemsOf(where, parsed.error));
  return parsed.data as ServerConfig;
}

/** Puts stored secret values back where the new config sent `[redacted]` for the same name. */
function keepRedacted(next: ServerConfig, stored: ServerConfig | undefined): ServerConfig {
  const merge = (values: Record<string, string>, old: Record<string, string> | undefined, field: string) => {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(values)) {
      if (v !== REDACTED) out[k] = v;
      else if (old?.[k] !== undefined) out[k] = old[k];
      else throw invalid([{ path: `body.${field}.${k}`, message: `${REDACTED} names no stored value` }]);
    }
    return out;
  };
  if (next.transport === 'stdio') {
    const old = stored?.transport === 'stdio' ? stored.env : undefined;
    return { ...next, env: merge(next.env, old, 'env') };
  }
  const old = stored && stored.transport !== 'stdio' ? stored.headers : undefined;
  return { ...next, headers: merge(next.headers, old, 'headers') };
}

export class ServerService {
  readonly #ctx: ChangeContext;
  constructor(ctx: ChangeContext) {
    this.#ctx = ctx;
  }

  list(): Promise<ServerRecord[]> {
    return this.#ctx.store.servers.list();
  }

  async get(name: string): Promise<ServerRecord> {
    const server = await this.#ctx.store.servers.get(name);
    if (!server) throw new HubError('NOT_FOUND', `No server ${name}`);
    return server;
  }

  async create(actor: Actor, name: string, config: ServerConfig): Promise<ServerRecord> {
    const created = await this.#ctx.store.transaction(async (tx) => {
      if (await tx.servers.get(name)) throw new HubError('CONFLICT', `A server ${name} already exists`);
      await tx.servers.upsert(name, keepRedacted(config, undefined));
      return (await tx.servers.get(name)) as ServerRecord;
    });
    await committed(this.#ctx, actor, [Topics.config], {
      action: 'server.create',
      target: name,
      server: name,
      after: serverView(created),
    });
    return created;
  }

  async replace(actor: Actor, name: string, config: ServerConfig): Promise<ServerRecord> {
    const { before, after } = await this.#ctx.store.transaction(async (tx) => {
      const before = await tx.servers.get(name);
      if (!before) throw new HubError('NOT_FOUND', `No server ${name}`);
      await tx.servers.upsert(name, keepRedacted(config, before.config));
      return { before, after: (await tx.servers.get(name)) as ServerRecord };
    });
    await committed(this.#ctx, actor, [Topics.config], {
      action: 'server.update',
      target: name,
      server: name,
      before: serverView(before),
      after: serverView(after),
    });
    return after;
  }

  async setEnabled(actor: Actor, name: string, enabled: boolean): Promise<ServerRecord> {
    const { before, after } = await this.#ctx.store.transaction(async (tx) => {
      const before = await tx.servers.get(name);
      if (!before) throw new HubError('NOT_FOUND', `No server ${name}`);
      await tx.servers.upsert(name, before.config, { enabled });
      return { before, after: (await tx.servers.get(name)) as ServerRecord };
    });
    await committed(this.#ctx, actor, [Topics.config], {
      action: enabled ? 'server.enable' : 'server.disable',
      target: name,
      server: name,
      before: serverView(before),
      after: serverView(after),
    });
    return after;
  }

  async remove(actor: Actor, name: string): Promise<ServerRecord> {
    const removed = await this.#ctx.store.transaction(async (tx) => {
      const server = await tx.servers.get(name);
      if (!server) throw new HubError('NOT_FOUND', `No server ${name}`);
      await tx.servers.remove(name);
      return server;
    });
    await committed(this.#ctx, actor, [Topics.config], {
      action: 'server.delete',
      target: name,
      server: name,
      before: serverView(removed),
    });
    return removed;
  }
}
