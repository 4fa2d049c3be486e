/**
 * External identity providers (SSO): their JWTs are verified against the provider's JWKS (fetched by
 * jose's createRemoteJWKSet: cached, refetched at most every 30 s on an unknown kid), with the
 * provider's issuer, audience and algorithms pinned. Roles come only from `role_map`/`default_roles`.
 */
import { createRemoteJWKSet, type JWTPayload, jwtVerify } from 'jose';
import type { IdentityProviderConfig } from '../config/schema.ts';

export interface IdpIdentity {
  provider: string;
  subject: string;
  email: string;
  roles: string[];
  /** The token's `exp`, in ms since epoch. */
  expiresAt: number;
}

interface Provider {
  name: string;
  config: IdentityProviderConfig;
  jwks: ReturnType<typeof createRemoteJWKSet>;
}

function claimAt(payload: JWTPayload, path: string): unknown {
  if (path in payload) return payload[path];
  let value: unknown = payload;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function groupsOf(value: unknown): string[] {
  if (typeof value === 'string') return value.split(/[\s,]+/).filter(Boolean);
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

export interface IdentityProviderOptions {
  /** Accepted clock skew (default 30 s). */
  clockToleranceSeconds?: number;
  /** Least time between two JWKS fetches triggered by unknown kids (default 30 s: a kid flood costs one fetch). */
  jwksCooldownMs?: number;
}

export class IdentityProviders {
  #byIssuer = new Map<string, Provider>();
  readonly #clockTolerance: number;
  readonly #cooldownMs: number;
  #generation = 0;

  constructor(configs: readonly IdentityProviderConfig[] = [], options: IdentityProviderOptions = {}) {
    this.#clockTolerance = options.clockToleranceSeconds ?? 30;
    this.#cooldownMs = options.jwksCooldownMs ?? 30_000;
    this.set(configs);
  }

  /** Replaces the providers (config reload). A provider whose settings did not change keeps its JWKS cache. */
  set(configs: readonly IdentityProviderConfig[]): void {
    this.#generation += 1;
    const next = new Map<string, Provider>();
    for (const config of configs) {
      const previous = this.#byIssuer.get(config.issuer);
      const same = previous && JSON.stringify(previous.config) === JSON.stringify(config);
      next.set(
        config.issuer,
        same
          ? previous
          : {
              name: config.name ?? config.issuer,
              config,
              jwks: createRemoteJWKSet(new URL(config.jwks_url), {
                timeoutDuration: 5_000,
                cooldownDuration: this.#cooldownMs,
                cacheMaxAge: 600_000,
              }),
            },
      );
    }
    this.#byIssuer = next;
  }

  /** Changes whenever the providers are replaced (caches of verified tokens must go). */
  get generation(): number {
    return this.#generation;
  }

  has(issuer: unknown): boolean {
    return typeof issuer === 'string' && this.#byIssuer.has(issuer);
  }

  get issuers(): string[] {
    return [...this.#byIssuer.keys()];
  }

  /** Verifies a token from the provider with this issuer; throws on anything wrong. */
  async verify(issuer: string, token: string): Promise<IdpIdentity> {
    const provider = this.#byIssuer.get(issuer);
    if (!provider) throw new Error('unknown issuer');
    const { config } = provider;
    const { payload } = await jwtVerify(token, provider.jwks, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: config.algorithms,
      clockTolerance: this.#clockTolerance,
      requiredClaims: ['exp', 'sub'],
    });
    const roles = new Set(config.default_roles);
    for (const group of groupsOf(claimAt(payload, config.roles_claim))) {
      const mapped = Object.hasOwn(config.role_map, group) ? config.role_map[group] : undefined;
      for (const role of typeof mapped === 'string' ? [mapped] : (mapped ?? [])) roles.add(role);
    }
    const email = claimAt(payload, config.email_claim);
    return {
      provider: provider.name,
      subject: payload.sub as string,
      email: typeof email === 'string' ? email.toLowerCase() : '',
      roles: [...roles].sort(),
      expiresAt: (payload.exp as number) * 1000,
    };
  }
}
