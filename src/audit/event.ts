import { canonicalJson, sha256Hex } from './canonical.ts';
import { redactArguments, redactValue, scrubString, storable } from './redact.ts';
import type { AuditEventsTable } from './tables.ts';
import type { AuditInput, AuditOutcome } from './types.ts';

/** Every column the hash covers, in storage form (what verify reads back). */
export type EventContent = Omit<AuditEventsTable, 'seq' | 'prev_hash' | 'hash' | 'search' | 'time'> & {
  /** ISO 8601 with milliseconds. */
  time: string;
};

/** A redacted event ready to store or spool: everything but its chain position. */
export interface PreparedEvent extends EventContent {
  search: string;
}

/** An event as the API, the export and the SSE stream show it. */
export interface AuditEvent {
  seq: number;
  id: string;
  time: string;
  type: string;
  action: string;
  requestId: string | null;
  actor: {
    id: string | null;
    userId: string | null;
    email: string | null;
    keyId: string | null;
    roles: string[];
  } | null;
  client: { ip: string | null; userAgent: string | null; name: string | null; version: string | null } | null;
  server: string | null;
  target: string | null;
  resource: string | null;
  arguments: unknown;
  argumentsHash: string | null;
  argumentsBytes: number | null;
  decision: { allow: boolean; rule: string | null; reason: string | null } | null;
  outcome: AuditOutcome | string;
  error: string | null;
  latencyMs: number | null;
  replica: string | null;
  before: unknown;
  after: unknown;
  instance: string | null;
  prevHash: string;
  hash: string;
}

const SHORT = 300;
const MEDIUM = 2_000;

function text(value: unknown, max: number): string | null {
  if (value === undefined || value === null) return null;
  const s = scrubString(String(value));
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Identifiers are kept as given (no credential scrub: they are ids), only made storable and bounded. */
function ident(value: unknown, max = SHORT): string | null {
  if (value === undefined || value === null || value === '') return null;
  const s = storable(String(value));
  return s.length > max ? s.slice(0, max) : s;
}

function jsonText(value: unknown, maxBytes: number): string | null {
  if (value === undefined) return null;
  return redactArguments(value, maxBytes).json;
}

export interface PrepareOptions {
  maxArgumentBytes: number;
  instance: string;
}

/** Redacts, caps and flattens one input. Runs in the flush, never on the request path. */
export function prepareEvent(
  input: AuditInput,
  id: string,
  time: Date,
  options: PrepareOptions,
): PreparedEvent {
  const args = redactArguments(input.arguments, options.maxArgumentBytes);
  const roles = input.actor?.roles ? canonicalJson(redactValue([...input.actor.roles])) : null;
  const latency =
    typeof input.latencyMs === 'number' && Number.isFinite(input.latencyMs)
      ? Math.round(input.latencyMs * 1000) / 1000
      : null;
  const content: EventContent = {
    id,
    time: (Number.isNaN(time.getTime()) ? new Date() : time).toISOString(),
    type: ident(input.type) ?? 'mcp',
    action: ident(input.action) ?? 'unknown',
    request_id: ident(input.requestId),
    actor_id: ident(input.actor?.id),
    user_id: ident(input.actor?.userId),
    actor_email: ident(input.actor?.email)?.toLowerCase() ?? null,
    key_id: ident(input.actor?.keyId),
    roles,
    client_ip: ident(input.client?.ip, 100),
    user_agent: text(input.client?.userAgent, SHORT),
    client_name: text(input.client?.name, SHORT),
    client_version: text(input.client?.version, 100),
    server: ident(input.server),
    target: text(input.target, MEDIUM),
    resource: text(input.resource, MEDIUM),
    arguments: args.json,
    arguments_hash: args.hash,
    arguments_bytes: args.json === null ? null : args.bytes,
    allowed: input.decision ? input.decision.allow === true : null,
    rule: text(input.decision?.rule, SHORT),
    reason: text(input.decision?.reason, MEDIUM),
    outcome: ident(input.outcome) ?? 'error',
    error: text(input.error, MEDIUM),
    latency_ms: latency,
    replica: ident(input.replica),
    before: jsonText(input.before, options.maxArgumentBytes * 4),
    after: jsonText(input.after, options.maxArgumentBytes * 4),
    instance: ident(options.instance),
  };
  return { ...content, search: searchText(content) };
}

function searchText(c: EventContent): string {
  return [
    c.action,
    c.actor_email,
    c.actor_id,
    c.key_id,
    c.server,
    c.target,
    c.resource,
    c.outcome,
    c.rule,
    c.reason,
    c.error,
    c.client_name,
    c.client_ip,
    c.request_id,
    c.arguments?.slice(0, 1_000),
  ]
    .filter((v): v is string => typeof v === 'string' && v.length > 0)
    .join(' ')
    .toLowerCase();
}

export const CONTENT_KEYS: readonly (keyof EventContent)[] = [
  'id',
  'time',
  'type',
  'action',
  'request_id',
  'actor_id',
  'user_id',
  'actor_email',
  'key_id',
  'roles',
  'client_ip',
  'user_agent',
  'client_name',
  'client_version',
  'server',
  'target',
  'resource',
  'arguments',
  'arguments_hash',
  'arguments_bytes',
  'allowed',
  'rule',
  'reason',
  'outcome',
  'error',
  'latency_ms',
  'replica',
  'before',
  'after',
  'instance',
];

/** The content of a stored row in hashing form (time as ISO, numbers as numbers). */
export function contentOfRow(row: AuditEventsTable | PreparedEvent): EventContent {
  const out: Record<string, unknown> = {};
  for (const key of CONTENT_KEYS) {
    const v = (row as unknown as Record<string, unknown>)[key];
    if (key === 'time') out.time = v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString();
    else if (key === 'latency_ms' || key === 'arguments_bytes')
      out[key] = v === null || v === undefined ? null : Number(v);
    else out[key] = v ?? null;
  }
  return out as EventContent;
}

/** The hashed members (content plus the format version `v`) in canonical order, as `"name":`. */
const HASHED_KEYS = [...CONTENT_KEYS, 'v' as const].sort();
const HASHED_KEY_PREFIXES = HASHED_KEYS.map((key) => `${JSON.stringify(key)}:`);

/**
 * `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical_json({v:1, …content}))`, for content in hashing form
 * (a prepared event, or a stored row through `contentOfRow`). Every member is a scalar, so the
 * canonical object is written directly in its fixed key order (the same text `canonicalJson` makes).
 */
export function chainHash(prevHash: string, content: EventContent): string {
  const c = content as unknown as Record<string, unknown>;
  let json = '{';
  for (let i = 0; i < HASHED_KEYS.length; i++) {
    const key = HASHED_KEYS[i] as string;
    json += `${i === 0 ? '' : ','}${HASHED_KEY_PREFIXES[i]}${canonicalJson(key === 'v' ? 1 : c[key])}`;
  }
  return sha256Hex(`${prevHash}\n${json}}`);
}

function parseJson(value: string | null): unknown {
  if (value === null) return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Storage row → API shape. */
export function toAuditEvent(row: AuditEventsTable): AuditEvent {
  const c = contentOfRow(row);
  const hasActor = c.actor_id !== null || c.user_id !== null || c.actor_email !== null || c.key_id !== null;
  const hasClient = c.client_ip !== null || c.user_agent !== null || c.client_name !== null;
  return {
    seq: Number(row.seq),
    id: c.id,
    time: c.time,
    type: c.type,
    action: c.action,
    requestId: c.request_id,
    actor: hasActor
      ? {
          id: c.actor_id,
          userId: c.user_id,
          email: c.actor_email,
          keyId: c.key_id,
          roles: (parseJson(c.roles) as string[] | null) ?? [],
        }
      : null,
    client: hasClient
      ? { ip: c.client_ip, userAgent: c.user_agent, name: c.client_name, version: c.client_version }
      : null,
    server: c.server,
    target: c.target,
    resource: c.resource,
    arguments: parseJson(c.arguments),
    argumentsHash: c.arguments_hash,
    argumentsBytes: c.arguments_bytes,
    decision: c.allowed === null ? null : { allow: c.allowed, rule: c.rule, reason: c.reason },
    outcome: c.outcome,
    error: c.error,
    latencyMs: c.latency_ms,
    replica: c.replica,
    before: parseJson(c.before),
    after: parseJson(c.after),
    instance: c.instance,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
