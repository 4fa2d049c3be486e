import type { Principal } from '../auth/principal.ts';
import { type RateLimitsConfig, sustained, toRate } from './config.ts';
import type { Rate } from './gcra.ts';

/** Which configured limit a bucket enforces (a metrics label). */
export type LimitScope = 'principal' | 'server' | 'tool';

/** The buckets one request must fit: parallel arrays, so the Redis script gets them without mapping. */
export interface Buckets {
  readonly keys: string[];
  readonly rates: Rate[];
  readonly scopes: LimitScope[];
}

interface Resolved {
  /** Appended to `<prefix>{<owner>}`. */
  suffix: string;
  rate: Rate;
  scope: LimitScope;
}

interface ServerRates {
  rate?: Rate;
  tools: Map<string, Rate>;
}

const NONE: readonly Resolved[] = Object.freeze([]);

/** Bounds the per-owner cache; past it the cache starts over (it is only a cache). */
const MAX_CACHED = 100_000;

/**
 * The compiled `rate_limits` config: which buckets a (principal, server, tool) request must fit. The
 * answer depends only on the roles, server and tool, so it is cached; the owner id is added per call.
 */
export class LimitPlan {
  readonly enabled: boolean;
  private readonly perKey: boolean;
  private readonly fallback?: Rate;
  private readonly roles: Map<string, Rate>;
  private readonly servers: Map<string, ServerRates>;
  private readonly cache = new Map<string, readonly Resolved[]>();
  /** Per owner, server and tool: the buckets (keys included) for the roles it had last time. */
  private readonly buckets = new Map<
    string,
    { roles: readonly string[]; rolesKey: string; buckets: Buckets | undefined }
  >();

  constructor(config?: RateLimitsConfig) {
    this.enabled = config?.enabled ?? false;
    this.perKey = config?.per_key ?? false;
    this.fallback = config?.default ? toRate(config.default) : undefined;
    this.roles = new Map(Object.entries(config?.roles ?? {}).map(([r, l]) => [r, toRate(l)]));
    this.servers = new Map(
      Object.entries(config?.servers ?? {}).map(([name, s]) => [
        name,
        {
          rate:
            s.rate !== undefined && s.per !== undefined
              ? toRate({ rate: s.rate, per: s.per, burst: s.burst })
              : undefined,
          tools: new Map(Object.entries(s.tools).map(([t, l]) => [t, toRate(l)])),
        },
      ]),
    );
  }

  /** Whose buckets a request uses: the user (or IdP subject), or its API key with `per_key`. */
  ownerOf(principal: Principal): string {
    return this.perKey && principal.keyId !== undefined ? `key:${principal.keyId}` : principal.id;
  }

  /** The buckets for this request, with keys `<prefix>{<owner>}:<scope>…`; undefined when nothing limits it. */
  bucketsFor(prefix: string, principal: Principal, server?: string, tool?: string): Buckets | undefined {
    if (!this.enabled) return undefined;
    // One string and one Map lookup on the common path; the roles are re-checked because a user's roles
    // can change between requests (same array: no work; otherwise a join).
    const owner = this.ownerOf(principal);
    const cacheKey =
      tool !== undefined
        ? `${owner}\n${server}\n${tool}`
        : server !== undefined
          ? `${owner}\n${server}`
          : owner;
    const hit = this.buckets.get(cacheKey);
    if (hit && (hit.roles === principal.roles || hit.rolesKey === principal.roles.join(',')))
      return hit.buckets;
    const buckets = this.build(prefix, owner, principal.roles, server, tool);
    if (this.buckets.size >= MAX_CACHED) this.buckets.clear();
    this.buckets.set(cacheKey, { roles: principal.roles, rolesKey: principal.roles.join(','), buckets });
    return buckets;
  }

  private build(
    prefix: string,
    owner: string,
    roles: readonly string[],
    server?: string,
    tool?: string,
  ): Buckets | undefined {
    const resolved = this.resolve(roles, server, tool);
    if (resolved.length === 0) return undefined;
    // The owner in braces is a Redis Cluster hash tag: all of one request's keys land in one slot.
    const head = `${prefix}{${owner}}`;
    return {
      keys: resolved.map((r) => head + r.suffix),
      rates: resolved.map((r) => r.rate),
      scopes: resolved.map((r) => r.scope),
    };
  }

  private resolve(roles: readonly string[], server?: string, tool?: string): readonly Resolved[] {
    const cacheKey = `${roles.join(',')}\n${server ?? ''}\n${tool ?? ''}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const out: Resolved[] = [];
    const principalRate = this.principalRate(roles);
    if (principalRate) out.push({ suffix: ':p', rate: principalRate, scope: 'principal' });
    const serverRates = server === undefined ? undefined : this.servers.get(server);
    if (serverRates?.rate) out.push({ suffix: `:s:${server}`, rate: serverRates.rate, scope: 'server' });
    const toolRate = tool === undefined ? undefined : serverRates?.tools.get(tool);
    if (toolRate) out.push({ suffix: `:t:${server}:${tool}`, rate: toolRate, scope: 'tool' });
    const result = out.length === 0 ? NONE : out;
    // Role sets, servers and tools are few; the bound only guards against a pathological config.
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(cacheKey, result);
    return result;
  }

  /** The most generous limit among the principal's roles, else the default. */
  private principalRate(roles: readonly string[]): Rate | undefined {
    let best: Rate | undefined;
    for (const role of roles) {
      const rate = this.roles.get(role);
      if (
        rate &&
        (!best ||
          sustained(rate) > sustained(best) ||
          (sustained(rate) === sustained(best) && rate.capacity > best.capacity))
      )
        best = rate;
    }
    return best ?? this.fallback;
  }
}
