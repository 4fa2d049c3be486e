import { z } from 'zod';

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

export const hubConfigSchema = z
  .object({
    servers: z
      .record(z.string().regex(SERVER_NAME, 'server names use letters, digits, _ and -'), z.unknown())
      .default({}),
    roles: z.record(z.string().min(1), roleSchema).default({}),
    users: z.array(userSchema).default([]),
    identity_providers: z.array(identityProviderSchema).optional(),
  })
  .strict();

export type StdioServerConfig = z.infer<typeof stdioServer>;
export type RemoteServerConfig = z.infer<ReturnType<typeof remoteServer>>;
export type ServerConfig = StdioServerConfig | RemoteServerConfig;
export type RuleConfig = z.infer<typeof ruleSchema>;
export type RoleConfig = z.infer<typeof roleSchema>;
export type UserConfig = z.infer<typeof userSchema>;
export type IdentityProviderConfig = z.infer<typeof identityProviderSchema>;

export interface HubConfig {
  servers: Record<string, ServerConfig>;
  roles: Record<string, RoleConfig>;
  users: UserConfig[];
  identity_providers?: IdentityProviderConfig[];
}
