import type { Principal } from '../auth/principal.ts';
import type { RoleConfig } from '../config/schema.ts';
import {
  type AccessRequest,
  type CompiledPolicy,
  canSee,
  compilePolicy,
  type Decision,
  decide,
} from '../policy/index.ts';
import type { Catalog, Item, ListKind } from './catalog.ts';
import type { Session } from './sessions.ts';

const KIND_OF_LIST = {
  tools: 'tool',
  prompts: 'prompt',
  resources: 'uri',
  resourceTemplates: 'uri',
} as const satisfies Record<ListKind, AccessRequest['kind']>;

/**
 * The hub's current compiled policy and the two questions the MCP methods ask it: may this principal
 * do this (call time), and which items may it see (lists, cached per session until the catalog, the
 * policy or the principal's roles change).
 */
export class AccessControl {
  #policy: CompiledPolicy;
  #version = 0;

  constructor(roles: Readonly<Record<string, RoleConfig>> = {}) {
    this.#policy = compilePolicy(roles);
  }

  get policy(): CompiledPolicy {
    return this.#policy;
  }

  setRoles(roles: Readonly<Record<string, RoleConfig>>): void {
    this.#policy = compilePolicy(roles);
    this.#version++;
  }

  decide(principal: Principal, req: AccessRequest): Decision {
    return decide(this.#policy, principal, req);
  }

  /** May the principal see this item in a list (true when some resource value could be allowed)? */
  visibleTo(principal: Principal, req: AccessRequest): boolean {
    return canSee(this.#policy, principal, req);
  }

  /** May the principal use the server at all (`/mcp/{server}`, its notifications)? */
  canUseServer(principal: Principal, server: string): boolean {
    return decide(this.#policy, principal, { server, kind: 'server' }).allow;
  }

  /** The items of one list the principal may see, in catalog order. */
  visible(catalog: Catalog, session: Session, principal: Principal, kind: ListKind): Item[] {
    const key = `${catalog.version}:${this.#version}:${principal.roles.join(',')}:${principal.keyId ?? ''}`;
    let cache = session.listCache;
    if (cache?.key !== key) {
      cache = { key, lists: {} };
      session.listCache = cache;
    }
    const cached = cache.lists[kind];
    if (cached) return cached;
    const items = catalog.list(session.scope, kind);
    const targets = catalog.targets(session.scope, kind);
    const requestKind = KIND_OF_LIST[kind];
    const visible = items.filter((_, i) => {
      const t = targets[i]!;
      return canSee(this.#policy, principal, { server: t.server, kind: requestKind, name: t.name });
    });
    cache.lists[kind] = visible;
    return visible;
  }
}
