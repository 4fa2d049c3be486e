import { z } from 'zod';
import { HubError } from '../server/errors.ts';

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

/** Every environment variable the hub reads; `.env.example` documents each one. */
const envSchema = z.object({
  OMNIHUB_PORT: int(8090, 0, 65535),
  OMNIHUB_HOST: z.string().min(1).default('127.0.0.1'),
  OMNIHUB_CONFIG: z.string().optional(),
  OMNIHUB_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  REDIS_URL: z.string().optional(),
  OMNIHUB_ADMIN_EMAIL: z
    .string()
    .email()
    .optional()
    .or(z.literal('').transform(() => undefined)),
  OMNIHUB_ADMIN_PASSWORD: z.string().optional(),
  OMNIHUB_SECRET: z
    .string()
    .min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 48`)')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  OMNIHUB_PUBLIC_URL: z
    .string()
    .url()
    .optional()
    .or(z.literal('').transform(() => undefined)),
  OMNIHUB_AUTH: z.enum(['required', 'off']).default('required'),
  OMNIHUB_ALLOWED_ORIGINS: list,
  OMNIHUB_ALLOWED_HOSTS: list,
  OMNIHUB_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  OMNIHUB_MAX_BODY_BYTES: int(4 * 1024 * 1024, 1024, 256 * 1024 * 1024),
  OMNIHUB_MAX_JSON_DEPTH: int(64, 4, 1000),
  OMNIHUB_MAX_SESSIONS: int(10_000, 1, 1_000_000),
  OMNIHUB_SESSION_IDLE_SECONDS: int(1800, 5, 7 * 24 * 3600),
  OMNIHUB_AUDIT_RETENTION_DAYS: int(0, 0, 36_500),
  OMNIHUB_AUDIT: z.enum(['on', 'off']).default('on'),
  OMNIHUB_SHUTDOWN_TIMEOUT_MS: int(30_000, 0, 3_600_000),
  OMNIHUB_SHUTDOWN_DELAY_MS: int(0, 0, 600_000),
  OMNIHUB_METRICS_TOKEN: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  OMNIHUB_TRACING: z.enum(['off', 'otlp', 'global']).default('off'),
});

export interface HubEnv {
  port: number;
  host: string;
  configFile?: string;
  dataDir: string;
  databaseUrl?: string;
  redisUrl?: string;
  adminEmail?: string;
  adminPassword?: string;
  /**
   * Server secret (OMNIHUB_SECRET): keys the API-key and refresh-token hashes and seals the JWT signing
   * keys. Unset: one is generated and kept in the database (docs/security.md explains the tradeoff).
   */
  secret?: string;
  publicUrl: string;
  /**
   * `off`: every MCP request acts as a local administrator, without credentials. For local development and
   * benchmarks only: the hub refuses it unless it listens on a loopback address.
   */
  auth: 'required' | 'off';
  allowedOrigins: string[];
  allowedHosts: string[];
  logLevel: string;
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxSessions: number;
  sessionIdleMs: number;
  /** Audit events older than this many days are deleted (0: kept forever). */
  auditRetentionDays: number;
  /** `off` records nothing: for development and benchmarks only (logged as a warning at start). */
  audit: 'on' | 'off';
  /** Longest wait for in-flight requests on SIGTERM before closing anyway. */
  shutdownTimeoutMs: number;
  /** On SIGTERM, how long `/ready` reports 503 while still serving, before the drain starts. */
  shutdownDelayMs: number;
  /** Bearer token `GET /metrics` requires (unset: open, like /health). */
  metricsToken?: string;
  tracing: 'off' | 'otlp' | 'global';
}

/** Reads the hub's settings from an environment; a bad value is refused with the variable named. */
export function readEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new HubError('CONFIG_INVALID', `Invalid environment:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  const shownHost = e.OMNIHUB_HOST === '0.0.0.0' || e.OMNIHUB_HOST === '::' ? '127.0.0.1' : e.OMNIHUB_HOST;
  return {
    port: e.OMNIHUB_PORT,
    host: e.OMNIHUB_HOST,
    configFile: e.OMNIHUB_CONFIG,
    dataDir: e.OMNIHUB_DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL || undefined,
    adminEmail: e.OMNIHUB_ADMIN_EMAIL,
    adminPassword: e.OMNIHUB_ADMIN_PASSWORD || undefined,
    secret: e.OMNIHUB_SECRET,
    publicUrl: (e.OMNIHUB_PUBLIC_URL ?? `http://${shownHost}:${e.OMNIHUB_PORT}`).replace(/\/+$/, ''),
    auth: e.OMNIHUB_AUTH,
    allowedOrigins: e.OMNIHUB_ALLOWED_ORIGINS,
    allowedHosts: e.OMNIHUB_ALLOWED_HOSTS,
    logLevel: e.OMNIHUB_LOG_LEVEL,
    maxBodyBytes: e.OMNIHUB_MAX_BODY_BYTES,
    maxJsonDepth: e.OMNIHUB_MAX_JSON_DEPTH,
    maxSessions: e.OMNIHUB_MAX_SESSIONS,
    sessionIdleMs: e.OMNIHUB_SESSION_IDLE_SECONDS * 1000,
    auditRetentionDays: e.OMNIHUB_AUDIT_RETENTION_DAYS,
    audit: e.OMNIHUB_AUDIT,
    shutdownTimeoutMs: e.OMNIHUB_SHUTDOWN_TIMEOUT_MS,
    shutdownDelayMs: e.OMNIHUB_SHUTDOWN_DELAY_MS,
    metricsToken: e.OMNIHUB_METRICS_TOKEN,
    tracing: e.OMNIHUB_TRACING,
  };
}
