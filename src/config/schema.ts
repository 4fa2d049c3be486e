import { z } from 'zod';
import { type RateLimitsConfig, rateLimitsSchema } from '../ratelimit/config.ts';

/** Server names appear in `server__tool` names and in `/mcp/{server}` paths. */
export const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

const globList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);

const common = {
  description: z.string().optional(),
  enabled: z.boolean().default(true),
  /** How many copies (stdio) to run; for http/sse, `urls` lists the replicas instead. */
  replicas: z.number().int().min(1).max(32).default(1),
  /** The tool argument that names the resource a call touches (e.g. `database` → dev_db / prod_db). */
  resource_argument: z.string().min(1).optional(),
  /** Upper bound for one call to this server, in milliseconds. */
  timeout_ms: z.number().int().min(100).max(3_600_000).default(60_000),
  /** Tools that are safe to send twice (retries/failover); every other tools/call is sent at most once. */
  idempotent_tools: z.array(z.string().min(1)).default([]),
  // The next three are optional so configs stored before they existed stay valid; unset = defaults.
  /** Active health probes (MCP ping) of every replica; see docs/health.md. */
  health_check: z
    .object({
      enabled: z.boolean().default(true),
      interval_ms: z.number().int().min(100).max(3_600_000).default(15_000),
      timeout_ms: z.number().int().min(50).max(600_000).default(5_000),
      /** A replica whose probe takes longer than this is degraded (unset: latency never degrades). */
      degraded_latency_ms: z.number().int().min(1).optional(),
    })
    .strict()
    .optional(),
  /** Per-replica circuit breaker; see docs/upstreams.md. */
  circuit_breaker: z
    .object({
      enabled: z.boolean().default(true),
      /** Consecutive failed calls that open the breaker. */
      failure_threshold: z.number().int().min(1).max(1000).default(5),
      /** How long an open breaker refuses calls before it lets trial calls through. */
      open_ms: z.number().int().min(100).max(3_600_000).default(30_000),
      /** Trial calls allowed at once while half-open. */
      half_open_max_calls: z.number().int().min(1).max(100).default(1),
    })
    .strict()
    .optional(),
  /** Disable the server after `max_failures` replica failures within `window_ms` (0 = never). */
  auto_disable: z
    .object({
      max_failures: z.number().int().min(0).max(10_000).default(0),
      window_ms: z.number().int().min(1000).max(86_400_000).default(300_000),
    })
    .strict()
    .optional(),
};

const stdioServer = z
  .object({
    transport: z.literal('stdio'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: z.record(z.string(), z.string()).default({}),
    cwd: z.string().optional(),
    ...common,
  })
  .strict();

const remoteServer = (transport: 'http' | 'sse') =>
  z
    .object({
      transport: z.literal(transport),
      url: z.string().url().optional(),
      urls: z.array(z.string().url()).min(1).optional(),
      /** Static headers sent upstream (e.g. the upstream's own credentials). Never the client's token. */
      headers: z.record(z.string(), z.string()).default({}),
      ...common,
    })
    .strict()
    .refine((s) => s.url !== undefined || s.urls !== undefined, {
      message: 'an http or sse server needs `url` (or `urls` for replicas)',
      path: ['url'],
    });

/** Server schemas by transport; a server's `transport` picks one (stdio when absent and `command` is set). */
export const serverSchemas = {
  stdio: stdioServer,
  http: remoteServer('http'),
  sse: remoteServer('sse'),
} as const;

export const ruleSchema = z
  .object({
    server: z.string().min(1).default('*'),
    tools: globList.optional(),
    prompts: globList.optional(),
    uris: globList.optional(),
    resources: globList.optional(),
  })
  .strict();

export const roleSchema = z
  .object({
    description: z.string().optional(),
    allow: z.array(ruleSchema).default([]),
    deny: z.array(ruleSchema).default([]),
  })
  .strict();

export const userSchema = z
  .object({
    email: z.string().email(),
    name: z.string().optional(),
    password: z.string().min(8).optional(),
    roles: z.array(z.string().min(1)).default([]),
    enabled: z.boolean().default(true),
  })
  .strict();

/** JWS algorithms an external identity provider may sign with (never `none`, never HMAC). */
export const IDP_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
] as const;

/** https, or http only to a loopback address (local IdPs and tests). */
const jwksUrl = z
  .string()
  .url()
  .refine(
    (u) => {
      const url = new URL(u);
      return (
        url.protocol === 'https:' ||
        (url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname))
      );
    },
    { message: 'jwks_url must use https (http only for a loopback address)' },
  );

/** An external identity provider whose JWTs the hub accepts (SSO). */
export const identityProviderSchema = z
  .object({
    /** Short name used in principal ids (`idp:<name>:<sub>`) and logs; default: the issuer. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/)
      .optional(),
    /** Exact `iss` of the provider's tokens. */
    issuer: z.string().min(1),
    jwks_url: jwksUrl,
    /** Accepted `aud` value(s): normally the hub's resource URL or the client id registered at the IdP. */
    audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    /** Claim (dot path allowed, e.g. `realm_access.roles`) holding the user's groups. */
    roles_claim: z.string().min(1).default('groups'),
    /** IdP group → hub role(s). Groups not listed grant nothing. */
    role_map: z.record(z.string(), z.union([z.string().min(1), z.array(z.string().min(1))])).default({}),
    /** Roles every user of this provider gets. */
    default_roles: z.array(z.string().min(1)).default([]),
    email_claim: z.string().min(1).default('email'),
    algorithms: z.array(z.enum(IDP_ALGORITHMS)).min(1).default(['RS256', 'ES256', 'EdDSA', 'PS256']),
  })
  .strict();

/** http(s) only: alerts go to webhook receivers (Slack, a chat bridge, an incident tool). */
const webhookUrl = z
  .string()
  .url()
  .refine((u) => ['http:', 'https:'].includes(new URL(u).protocol), {
    message: 'a webhook url must use http or https',
  });

/** Health alerts: one webhook call per server state change (de-duplicated, with a cooldown). */
export const alertsSchema = z
  .object({
    webhooks: z
      .array(
        z
          .object({
            url: webhookUrl,
            /** `json`: the full event; `slack`: `{text}` for Slack-compatible incoming webhooks. */
            format: z.enum(['json', 'slack']).default('json'),
            /** Server states that trigger this webhook (default: all). */
            events: z
              .array(z.enum(['healthy', 'degraded', 'down']))
              .min(1)
              .optional(),
            headers: z.record(z.string(), z.string()).default({}),
          })
          .strict(),
      )
      .default([]),
    /** A change is announced once it has held this long; changes within it are coalesced (flaps: none). */
    settle_ms: z.number().int().min(0).max(3_600_000).default(2_000),
    /** After an alert for a server, later changes of that server wait this long and are coalesced. */
    cooldown_ms: z.number().int().min(0).max(86_400_000).default(60_000),
    /** Delivery attempts after the first one fails (exponential backoff). */
    retries: z.number().int().min(0).max(10).default(3),
  })
  .strict();

export const hubConfigSchema = z
  .object({
    servers: z
      .record(z.string().regex(SERVER_NAME, 'server names use letters, digits, _ and -'), z.unknown())
      .default({}),
    roles: z.record(z.string().min(1), roleSchema).default({}),
    users: z.array(userSchema).default([]),
    identity_providers: z.array(identityProviderSchema).optional(),
    alerts: alertsSchema.optional(),
    /** Rate limits per principal, role, server and tool; see docs/rate-limits.md. */
    rate_limits: rateLimitsSchema.optional(),
  })
  .strict();

export type StdioServerConfig = z.infer<typeof stdioServer>;
export type RemoteServerConfig = z.infer<ReturnType<typeof remoteServer>>;
export type ServerConfig = StdioServerConfig | RemoteServerConfig;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type RoleConfig = z.infer<typeof roleSchema>;
export type UserConfig = z.infer<typeof userSchema>;
export type IdentityProviderConfig = z.infer<typeof identityProviderSchema>;
export type AlertsConfig = z.infer<typeof alertsSchema>;
export type HealthCheckConfig = NonNullable<z.infer<typeof stdioServer>['health_check']>;
export type CircuitBreakerConfig = NonNullable<z.infer<typeof stdioServer>['circuit_breaker']>;
export type AutoDisableConfig = NonNullable<z.infer<typeof stdioServer>['auto_disable']>;

export interface HubConfig {
  servers: Record<string, ServerConfig>;
  roles: Record<string, RoleConfig>;
  users: UserConfig[];
  identity_providers?: IdentityProviderConfig[];
  alerts?: AlertsConfig;
  rate_limits?: RateLimitsConfig;
}
