import type { Params } from './jsonrpc.ts';
import { compileUriTemplate } from './uri-template.ts';

/** An item of an upstream list (a tool, prompt, resource or template) as the upstream sent it. */
export type Item = Record<string, unknown>;

export const NAME_SEPARATOR = '__';
const LIST_KINDS = ['tools', 'prompts', 'resources', 'resourceTemplates'] as const;
export type ListKind = (typeof LIST_KINDS)[number];

/** What one upstream server offers, fetched whole when it (re)connects or says its list changed. */
export interface ServerLists {
  tools: Item[];
  prompts: Item[];
  resources: Item[];
  resourceTemplates: Item[];
}

export interface Target {
  server: string;
  /** The upstream's own name or URI. */
  name: string;
}

/** One way of looking at the catalog: `/mcp` (all servers, namespaced) or `/mcp/{server}`. */
interface View {
  tools: Item[];
  prompts: Item[];
  resources: Item[];
  resourceTemplates: Item[];
  toolIndex: Map<string, Target>;
  promptIndex: Map<string, Target>;
  /** Exposed resource URI → upstream; colliding URIs of later servers are rewritten. */
  uriIndex: Map<string, Target>;
  /** Template matchers, in server order, for URIs that are not listed. */
  templates: { server: string; template: string; match: RegExp }[];
  /** For each list, the upstream server and name of the item at the same index (for access filtering). */
  targets: Record<ListKind, Target[]>;
}

const emptyLists = (): ServerLists => ({ tools: [], prompts: [], resources: [], resourceTemplates: [] });

/** The rewritten form of a resource URI that another server already exposes in `/mcp`. */
export function qualifiedUri(server: string, uri: string): string {
  return `omnihub://${server}/${encodeURIComponent(uri)}`;
}

/**
 * The hub's in-memory catalog of every upstream's tools, prompts and resources, with the views served
 * to clients precomputed whenever an upstream's lists change — never per request.
 */
export class Catalog {
  private readonly lists = new Map<string, ServerLists>();
  private aggregated: View = buildView([]);
  private readonly scoped = new Map<string, View>();
  /** Bumped whenever any view changes: caches of filtered lists compare against it. */
  version = 0;

  servers(): string[] {
    return [...this.lists.keys()];
  }

  has(server: string): boolean {
    return this.lists.has(server);
  }

  /** Replaces a server's lists; returns the kinds whose content changed. */
  set(server: string, lists: ServerLists): ListKind[] {
    const before = this.lists.get(server) ?? emptyLists();
    this.lists.set(server, lists);
    const changed = LIST_KINDS.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(lists[k]));
    if (changed.length > 0 || !this.scoped.has(server)) this.rebuild();
    return changed;
  }

  /** Forgets a server's lists (it is down or removed) but keeps its slot if `keep`. */
  clear(server: string, keep = true): ListKind[] {
    const before = this.lists.get(server);
    if (!before) return [];
    if (keep) this.lists.set(server, emptyLists());
    else this.lists.delete(server);
    const changed = LIST_KINDS.filter((k) => before[k].length > 0);
    this.rebuild();
    return changed;
  }

  view(scope: string | null): View | undefined {
    return scope === null ? this.aggregated : this.scoped.get(scope);
  }

  list(scope: string | null, kind: ListKind): Item[] {
    return this.view(scope)?.[kind] ?? [];
  }

  /** The upstream server and name of each item of `list(scope, kind)`, index for index. */
  targets(scope: string | null, kind: ListKind): Target[] {
    return this.view(scope)?.targets[kind] ?? [];
  }

  resolveTool(scope: string | null, name: string): Target | undefined {
    return this.view(scope)?.toolIndex.get(name);
  }

  resolvePrompt(scope: string | null, name: string): Target | undefined {
    return this.view(scope)?.promptIndex.get(name);
  }

  /** Routes a resource URI: listed URIs first, then the servers' templates, else the only server. */
  resolveUri(scope: string | null, uri: string): Target | undefined {
    const view = this.view(scope);
    if (!view) return undefined;
    const listed = view.uriIndex.get(uri);
    if (listed) return listed;
    const qualified = scope === null ? parseQualifiedUri(uri) : undefined;
    if (qualified && this.lists.has(qualified.server)) return qualified;
    for (const t of view.templates) if (t.match.test(uri)) return { server: t.server, name: uri };
    const servers = scope === null ? this.servers() : [scope];
    return servers.length === 1 ? { server: servers[0]!, name: uri } : undefined;
  }

  /** Routes a template by its exact template string (completion/complete with ref/resource). */
  resolveTemplate(scope: string | null, template: string): Target | undefined {
    const view = this.view(scope);
    const hit = view?.templates.find((t) => t.template === template);
    return hit ? { server: hit.server, name: template } : this.resolveUri(scope, template);
  }

  /** The URI a client sees for an upstream's URI in the given scope. */
  exposedUri(scope: string | null, server: string, uri: string): string {
    if (scope !== null) return uri;
    const owner = this.aggregated.uriIndex.get(uri);
    return owner === undefined || owner.server === server ? uri : qualifiedUri(server, uri);
  }

  private rebuild(): void {
    this.version++;
    const entries = [...this.lists.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.aggregated = buildView(entries, true);
    this.scoped.clear();
    for (const entry of entries) this.scoped.set(entry[0], buildView([entry]));
  }
}

function buildView(entries: [string, ServerLists][], namespaced = false): View {
  const view: View = {
    tools: [],
    prompts: [],
    resources: [],
    resourceTemplates: [],
    toolIndex: new Map(),
    promptIndex: new Map(),
    uriIndex: new Map(),
    templates: [],
    targets: { tools: [], prompts: [], resources: [], resourceTemplates: [] },
  };
  const { targets } = view;
  const expose = (server: string, name: string) => (namespaced ? `${server}${NAME_SEPARATOR}${name}` : name);
  for (const [server, lists] of entries) {
    for (const tool of lists.tools) {
      const name = expose(server, String(tool.name));
      view.tools.push(namespaced ? { ...tool, name } : tool);
      const target = { server, name: String(tool.name) };
      view.toolIndex.set(name, target);
      targets.tools.push(target);
    }
    for (const prompt of lists.prompts) {
      const name = expose(server, String(prompt.name));
      view.prompts.push(namespaced ? { ...prompt, name } : prompt);
      const target = { server, name: String(prompt.name) };
      view.promptIndex.set(name, target);
      targets.prompts.push(target);
    }
    for (const resource of lists.resources) {
      const uri = String(resource.uri);
      const exposed = view.uriIndex.has(uri) ? qualifiedUri(server, uri) : uri;
      view.resources.push(exposed === uri ? resource : { ...resource, uri: exposed });
      const target = { server, name: uri };
      view.uriIndex.set(exposed, target);
      targets.resources.push(target);
    }
    for (const template of lists.resourceTemplates) {
      const uriTemplate = String(template.uriTemplate);
      view.resourceTemplates.push(template);
      view.templates.push({ server, template: uriTemplate, match: compileUriTemplate(uriTemplate) });
      targets.resourceTemplates.push({ server, name: uriTemplate });
    }
  }
  return view;
}

/** Reads a `omnihub://server/uri` back into its parts, if it is one. */
export function parseQualifiedUri(uri: string): Target | undefined {
  const match = /^omnihub:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) return undefined;
  try {
    return { server: match[1]!, name: decodeURIComponent(match[2]!) };
  } catch {
    return undefined;
  }
}

/** Fetches every page of one upstream list, bounded so a misbehaving upstream cannot loop forever. */
export async function fetchAll(
  request: (method: string, params: Params | undefined) => Promise<unknown>,
  method: string,
  key: string,
  maxPages = 100,
): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < maxPages; page++) {
    const result = (await request(method, cursor ? { cursor } : undefined)) as Record<string, unknown>;
    const batch = result?.[key];
    if (Array.isArray(batch))
      for (const item of batch) if (item && typeof item === 'object') items.push(item);
    cursor = typeof result?.nextCursor === 'string' && result.nextCursor ? result.nextCursor : undefined;
    if (!cursor) break;
  }
  return items;
}
