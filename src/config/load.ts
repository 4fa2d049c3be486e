import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { ZodError } from 'zod';
import { HubError } from '../server/errors.ts';
import { type HubConfig, hubConfigSchema, SERVER_NAME, type ServerConfig, serverSchemas } from './schema.ts';

/** Formats zod issues as `path: why` lines, prefixed with where they came from. */
function describe(where: string, prefix: string, error: ZodError): string[] {
  return error.issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter(Boolean).join('.');
    return `${where}: ${path || '(root)'}: ${i.message}`;
  });
}

function parseServer(where: string, name: string, raw: unknown): ServerConfig | string[] {
  if (!SERVER_NAME.test(name)) {
    return [`${where}: servers.${name}: server names use letters, digits, _ and - (at most 63)`];
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return [`${where}: servers.${name}: must be a mapping`];
  }
  const obj = raw as Record<string, unknown>;
  const transport = obj.transport ?? (obj.command !== undefined ? 'stdio' : undefined);
  if (transport !== 'stdio' && transport !== 'http' && transport !== 'sse') {
    return [`${where}: servers.${name}.transport: must be one of stdio, http, sse`];
  }
  const parsed = serverSchemas[transport].safeParse({ ...obj, transport });
  return parsed.success ? (parsed.data as ServerConfig) : describe(where, `servers.${name}`, parsed.error);
}

/**
 * Validates a whole config object. Every problem is collected; any problem refuses the whole config,
 * so nothing is ever half-applied.
 */
export function parseConfig(raw: unknown, where = 'config'): HubConfig {
  const top = hubConfigSchema.safeParse(raw ?? {});
  const problems: string[] = top.success ? [] : describe(where, '', top.error);
  const servers: Record<string, ServerConfig> = {};
  const rawServers = (raw as { servers?: unknown } | null)?.servers;
  if (rawServers && typeof rawServers === 'object' && !Array.isArray(rawServers)) {
    for (const [name, value] of Object.entries(rawServers)) {
      const server = parseServer(where, name, value);
      if (Array.isArray(server)) problems.push(...server);
      else servers[name] = server;
    }
  }
  if (!top.success) throw configError(problems);
  const roles = top.data.roles;
  top.data.users.forEach((user, i) => {
    for (const role of user.roles) {
      if (!(role in roles) && role !== 'admin') {
        problems.push(`${where}: users.${i}.roles: unknown role "${role}" (define it under roles)`);
      }
    }
  });
  const emails = new Set<string>();
  top.data.users.forEach((user, i) => {
    const email = user.email.toLowerCase();
    if (emails.has(email)) problems.push(`${where}: users.${i}.email: duplicate user ${email}`);
    emails.add(email);
  });
  const providers = top.data.identity_providers ?? [];
  const issuers = new Set<string>();
  const names = new Set<string>();
  providers.forEach((provider, i) => {
    const name = provider.name ?? provider.issuer;
    if (issuers.has(provider.issuer)) {
      problems.push(`${where}: identity_providers.${i}.issuer: duplicate issuer ${provider.issuer}`);
    }
    if (names.has(name)) problems.push(`${where}: identity_providers.${i}.name: duplicate name ${name}`);
    issuers.add(provider.issuer);
    names.add(name);
  });
  if (problems.length > 0) throw configError(problems);
  const config: HubConfig = { servers, roles, users: top.data.users };
  if (top.data.identity_providers !== undefined) config.identity_providers = top.data.identity_providers;
  if (top.data.alerts !== undefined) config.alerts = top.data.alerts;
  if (top.data.rate_limits !== undefined) config.rate_limits = top.data.rate_limits;
  return config;
}

function configError(problems: string[]): HubError {
  return new HubError('CONFIG_INVALID', `Invalid configuration:\n  ${problems.join('\n  ')}`, {
    data: { problems },
  });
}

/** Reads and validates a YAML (or JSON) config file. */
export async function loadConfigFile(file: string): Promise<HubConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new HubError('CONFIG_INVALID', `Cannot read config file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new HubError('CONFIG_INVALID', `${file}: not valid YAML: ${(err as Error).message}`);
  }
  return parseConfig(raw, file);
}
