/**
 * The policy engine: every access decision of the hub is made here. Pure (no I/O), compiled once per
 * policy change, then each decision is a few Map lookups and glob tests.
 *
 * Semantics (docs/policy.md has the full text with examples):
 * - deny beats allow; nothing granting means deny; rule order never changes the outcome;
 * - an allow rule grants a kind (tool/prompt/uri) only through that kind's field; with `resources`, only
 *   when the request carries a matching resource value (missing → no grant, fail closed);
 * - a deny rule applies through the kind's field, or to every kind when it names none of
 *   tools/prompts/uris; with `resources`, a missing resource value counts as a match (fail closed);
 * - roles are unioned; key scopes are an extra allow-only rule list that must ALSO grant.
 */
import type { RoleConfig, RuleConfig } from '../config/schema.ts';
import { compileGlobs, globList, type Matcher } from './glob.ts';

export type RequestKind = 'server' | 'tool' | 'prompt' | 'uri';
type NameKind = Exclude<RequestKind, 'server'>;

export interface AccessRequest {
  server: string;
  /** `server`: may the subject use this server at all (initialize on /mcp/{server}, server lists). */
  kind: RequestKind;
  /** Tool name, prompt name or resource URI (required for every kind but `server`). */
  name?: string;
  /** Value of the server's `resource_argument` in this call; undefined when absent or not a string. */
  resource?: string;
}

export interface Subject {
  /** Role names; unknown names contribute nothing. */
  roles: readonly string[];
  /**
   * API-key scopes: allow rules that must ALSO grant the request (intersection with the roles).
   * Undefined = not narrowed; an empty list = nothing. Treated as immutable (compiled once per array).
   */
  scopes?: readonly RuleConfig[];
}

export interface Decision {
  allow: boolean;
  /** The rule that decided: `role developer, deny[0]`, `role analyst, allow[1]`, `default deny`, `key scope`. */
  rule: string;
  /** A sentence for audit logs and the admin simulator. */
  reason: string;
}

export interface ExplainedRule {
  rule: string;
  effect: 'allow' | 'deny';
  /** `role` rules come from the subject's roles, `scope` rules from its key scopes. */
  source: 'role' | 'scope';
  role?: string;
  config: RuleConfig;
  /** True when the rule takes effect for this request; false when it matched all but the resource. */
  applies: boolean;
  note: string;
}

export interface Explanation {
  decision: Decision;
  /** Every rule whose server and name match the request (all roles and scopes, in rule order). */
  rules: ExplainedRule[];
  unknownRoles: string[];
}

interface CompiledRule {
  /** Position in the whole policy: the lowest matching one names the decision (deterministic). */
  readonly seq: number;
  readonly label: string;
  readonly effect: 'allow' | 'deny';
  readonly role: string | undefined;
  readonly config: RuleConfig;
  readonly server: Matcher;
  readonly names: Readonly<Record<NameKind, Matcher | undefined>>;
  readonly hasNames: boolean;
  /** Undefined when the rule has no resource constraint (a deny on `*` resources is normalised away). */
  readonly resources: Matcher | undefined;
  /** Deny only: no tools/prompts/uris and no resource constraint → the whole server. */
  readonly wholeServer: boolean;
}

/** The rules of one rule set (one role, or one key's scopes) that can apply to one server. */
interface View {
  readonly deny: Readonly<Record<NameKind, readonly CompiledRule[]>>;
  readonly allow: Readonly<Record<NameKind, readonly CompiledRule[]>>;
  readonly wholeDeny: CompiledRule | undefined;
  /** The first allow rule that can grant anything on this server. */
  readonly usable: CompiledRule | undefined;
}

interface RuleSet {
  readonly name: string;
  /** Rules whose server is a literal name, by that name. */
  readonly exact: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Rules whose server is a glob. */
  readonly globs: readonly CompiledRule[];
  /** Server → view, filled lazily; bounded so unknown server names cannot grow it without limit. */
  readonly views: Map<string, View>;
}

export interface CompiledPolicy {
  readonly roleNames: readonly string[];
  /** @internal */
  readonly _roles: ReadonlyMap<string, RuleSet>;
}

const KINDS: readonly NameKind[] = ['tool', 'prompt', 'uri'];
const FIELD: Readonly<Record<NameKind, 'tools' | 'prompts' | 'uris'>> = {
  tool: 'tools',
  prompt: 'prompts',
  uri: 'uris',
};
const MAX_VIEWS = 4096;
const DEFAULT_DENY = 'default deny';
const SCOPE_DENY = 'key scope';

function compileRule(
  rule: RuleConfig,
  effect: 'allow' | 'deny',
  seq: number,
  label: string,
  role: string | undefined,
): CompiledRule {
  const names = {} as Record<NameKind, Matcher | undefined>;
  let hasNames = false;
  for (const kind of KINDS) {
    const globs = globList(rule[FIELD[kind]]);
    names[kind] = globs === undefined ? undefined : compileGlobs(globs);
    if (globs !== undefined) hasNames = true;
  }
  const resourceGlobs = globList(rule.resources);
  let resources = resourceGlobs === undefined ? undefined : compileGlobs(resourceGlobs);
  // A deny on every resource value also covers the missing value (fail closed): same as no constraint.
  if (effect === 'deny' && resources?.matchesAll) resources = undefined;
  return {
    seq,
    label,
    effect,
    role,
    config: rule,
    server: compileGlobs([rule.server ?? '*']),
    names,
    hasNames,
    resources,
    wholeServer: effect === 'deny' && !hasNames && resources === undefined,
  };
}

function ruleSet(name: string, rules: readonly CompiledRule[]): RuleSet {
  const exact = new Map<string, CompiledRule[]>();
  const globs: CompiledRule[] = [];
  for (const r of rules) {
    const server = r.config.server ?? '*';
    if (server.includes('*') || server.includes('?')) globs.push(r);
    else {
      const list = exact.get(server);
      if (list) list.push(r);
      else exact.set(server, [r]);
    }
  }
  return { name, exact, globs, views: new Map() };
}

function buildView(set: RuleSet, server: string): View {
  const rules = [...(set.exact.get(server) ?? []), ...set.globs.filter((r) => r.server.test(server))];
  rules.sort((a, b) => a.seq - b.seq);
  const deny = { tool: [], prompt: [], uri: [] } as Record<NameKind, CompiledRule[]>;
  const allow = { tool: [], prompt: [], uri: [] } as Record<NameKind, CompiledRule[]>;
  let wholeDeny: CompiledRule | undefined;
  let usable: CompiledRule | undefined;
  for (const r of rules) {
    if (r.effect === 'deny') {
      if (r.wholeServer) wholeDeny ??= r;
      for (const kind of KINDS) if (r.names[kind] !== undefined || !r.hasNames) deny[kind].push(r);
    } else {
      if (r.hasNames) usable ??= r;
      for (const kind of KINDS) if (r.names[kind] !== undefined) allow[kind].push(r);
    }
  }
  return { deny, allow, wholeDeny, usable };
}

function viewOf(set: RuleSet, server: string): View {
  let view = set.views.get(server);
  if (view === undefined) {
    view = buildView(set, server);
    if (set.views.size < MAX_VIEWS) set.views.set(server, view);
  }
  return view;
}

/** Compiles the roles of a config. Done once per policy change; decisions then reuse it. */
export function compilePolicy(roles: Readonly<Record<string, RoleConfig>>): CompiledPolicy {
  const sets = new Map<string, RuleSet>();
  let seq = 0;
  for (const [name, role] of Object.entries(roles)) {
    const rules: CompiledRule[] = [];
    role.deny.forEach((r, i) => {
      rules.push(compileRule(r, 'deny', seq++, `role ${name}, deny[${i}]`, name));
    });
    role.allow.forEach((r, i) => {
      rules.push(compileRule(r, 'allow', seq++, `role ${name}, allow[${i}]`, name));
    });
    sets.set(name, ruleSet(name, rules));
  }
  return { roleNames: [...sets.keys()], _roles: sets };
}

// Scopes belong to API keys, which live in an auth cache: compile each scopes array once.
const scopeCache = new WeakMap<readonly RuleConfig[], RuleSet>();

function scopeSet(scopes: readonly RuleConfig[]): RuleSet {
  let set = scopeCache.get(scopes);
  if (set === undefined) {
    set = ruleSet(
      'key scopes',
      scopes.map((r, i) => compileRule(r, 'allow', i, `key scope[${i}]`, undefined)),
    );
    scopeCache.set(scopes, set);
  }
  return set;
}

function describe(req: AccessRequest): string {
  switch (req.kind) {
    case 'server':
      return `server ${req.server}`;
    case 'tool':
      return `tool ${req.name} on server ${req.server}`;
    case 'prompt':
      return `prompt ${req.name} on server ${req.server}`;
    case 'uri':
      return `resource ${req.name} on server ${req.server}`;
  }
}

function denyApplies(r: CompiledRule, kind: NameKind, name: string, resource: string | undefined): boolean {
  const names = r.names[kind];
  if (names !== undefined && !names.test(name)) return false;
  // Missing resource value → the deny applies (fail closed).
  return r.resources === undefined || resource === undefined || r.resources.test(resource);
}

/** The first deny of one rule set that applies, or undefined. */
function firstDeny(view: View, req: AccessRequest): CompiledRule | undefined {
  if (req.kind === 'server') return view.wholeDeny;
  const name = req.name as string;
  for (const r of view.deny[req.kind]) if (denyApplies(r, req.kind, name, req.resource)) return r;
  return undefined;
}

interface Grant {
  rule: CompiledRule | undefined;
  /** An allow rule that matched everything but the resource: explains a default deny. */
  near: CompiledRule | undefined;
}

function firstGrant(view: View, req: AccessRequest, ignoreResource: boolean, out: Grant): void {
  if (req.kind === 'server') {
    if (view.usable !== undefined && (out.rule === undefined || view.usable.seq < out.rule.seq)) {
      out.rule = view.usable;
    }
    return;
  }
  const name = req.name as string;
  for (const r of view.allow[req.kind]) {
    if (out.rule !== undefined && r.seq > out.rule.seq) return;
    if (!(r.names[req.kind] as Matcher).test(name)) continue;
    if (
      r.resources === undefined ||
      ignoreResource ||
      (req.resource !== undefined && r.resources.test(req.resource))
    ) {
      out.rule = r;
      return;
    }
    if (out.near === undefined || r.seq < out.near.seq) out.near = r;
  }
}

function nearMissReason(near: CompiledRule, req: AccessRequest, who: string): string {
  const where = (near.resources as Matcher).patterns.join(', ');
  return req.resource === undefined
    ? `${describe(req)} names no resource: ${who} allows ${req.name} only on ${where}`
    : `access to ${req.resource} is denied: ${who} allows ${req.name} only on ${where}`;
}

function denyReason(r: CompiledRule, req: AccessRequest): string {
  const by = r.label;
  if (r.wholeServer) return `${describe(req)} is denied: ${by} denies the whole server`;
  if (r.resources !== undefined) {
    return req.resource === undefined
      ? `${describe(req)} names no resource, and ${by} denies it on ${r.resources.patterns.join(', ')} (fail closed)`
      : `access to ${req.resource} is denied by ${by} (${describe(req)})`;
  }
  return `${describe(req)} is denied by ${by}`;
}

function missingName(req: AccessRequest): Decision | undefined {
  if (req.kind !== 'server' && (req.name === undefined || typeof req.name !== 'string')) {
    return { allow: false, rule: DEFAULT_DENY, reason: `a ${req.kind} request must name the ${req.kind}` };
  }
  return undefined;
}

/** Decides one request. Deny beats allow; nothing granting means deny; key scopes must also grant. */
export function decide(policy: CompiledPolicy, subject: Subject, req: AccessRequest): Decision {
  const bad = missingName(req);
  if (bad) return bad;
  let deny: CompiledRule | undefined;
  const grant: Grant = { rule: undefined, near: undefined };
  const roles = policy._roles;
  for (const name of subject.roles) {
    const set = roles.get(name);
    if (set === undefined) continue;
    const view = viewOf(set, req.server);
    const d = firstDeny(view, req);
    if (d !== undefined && (deny === undefined || d.seq < deny.seq)) deny = d;
    if (deny === undefined) firstGrant(view, req, false, grant);
  }
  if (deny !== undefined) return { allow: false, rule: deny.label, reason: denyReason(deny, req) };
  const granted = grant.rule;
  if (granted === undefined) {
    if (grant.near !== undefined) {
      return {
        allow: false,
        rule: DEFAULT_DENY,
        reason: nearMissReason(grant.near, req, `role ${grant.near.role}`),
      };
    }
    const known = subject.roles.filter((r) => roles.has(r));
    const who =
      known.length === 0 ? 'the subject has no known roles' : `no rule of role ${known.join(', ')} allows it`;
    return { allow: false, rule: DEFAULT_DENY, reason: `${describe(req)} is denied: ${who}` };
  }
  let reason = `${describe(req)} is allowed by ${granted.label}`;
  if (subject.scopes !== undefined) {
    const scoped: Grant = { rule: undefined, near: undefined };
    firstGrant(viewOf(scopeSet(subject.scopes), req.server), req, false, scoped);
    if (scoped.rule === undefined) {
      const why =
        scoped.near !== undefined
          ? nearMissReason(scoped.near, req, 'the API key')
          : `${describe(req)} is outside the API key's scopes`;
      return { allow: false, rule: SCOPE_DENY, reason: why };
    }
    reason += ` within ${scoped.rule.label}`;
  }
  return { allow: true, rule: granted.label, reason };
}

/**
 * List filtering: may the subject see this server/tool/prompt/URI in a list? True when some resource
 * value could be allowed: allow rules' `resources` are ignored, and only denies without `resources`
 * hide. Every call is decided again with `decide` and the real resource value. Invariant: if `decide`
 * allows a call with any resource value, `canSee` is true for it.
 */
export function canSee(policy: CompiledPolicy, subject: Subject, req: AccessRequest): boolean {
  if (req.kind === 'server') return decide(policy, subject, req).allow;
  if (missingName(req)) return false;
  const name = req.name as string;
  const grant: Grant = { rule: undefined, near: undefined };
  for (const roleName of subject.roles) {
    const set = policy._roles.get(roleName);
    if (set === undefined) continue;
    const view = viewOf(set, req.server);
    for (const r of view.deny[req.kind]) {
      if (r.resources === undefined && denyApplies(r, req.kind, name, undefined)) return false;
    }
    if (grant.rule === undefined) firstGrant(view, req, true, grant);
  }
  if (grant.rule === undefined) return false;
  if (subject.scopes === undefined) return true;
  const scoped: Grant = { rule: undefined, near: undefined };
  firstGrant(viewOf(scopeSet(subject.scopes), req.server), req, true, scoped);
  return scoped.rule !== undefined;
}

/** Filters names of one kind on one server to those the subject may see (for tools/list and friends). */
export function visibleNames(
  policy: CompiledPolicy,
  subject: Subject,
  server: string,
  kind: NameKind,
  names: readonly string[],
): string[] {
  return names.filter((name) => canSee(policy, subject, { server, kind, name }));
}

function explainRule(
  r: CompiledRule,
  req: AccessRequest,
  source: 'role' | 'scope',
): ExplainedRule | undefined {
  if (!r.server.test(req.server)) return undefined;
  const base = { rule: r.label, effect: r.effect, source, role: r.role, config: r.config };
  if (req.kind === 'server') {
    if (r.effect === 'deny' && r.wholeServer)
      return { ...base, applies: true, note: 'denies the whole server' };
    if (r.effect === 'allow' && r.hasNames)
      return { ...base, applies: true, note: 'grants something on this server' };
    return undefined;
  }
  const name = req.name as string;
  const names = r.names[req.kind];
  if (names === undefined ? r.effect === 'allow' || r.hasNames : !names.test(name)) return undefined;
  if (r.resources === undefined)
    return { ...base, applies: true, note: r.wholeServer ? 'denies the whole server' : 'matches' };
  const where = r.resources.patterns.join(', ');
  if (req.resource === undefined) {
    return r.effect === 'deny'
      ? {
          ...base,
          applies: true,
          note: `no resource value given; the deny on ${where} applies (fail closed)`,
        }
      : { ...base, applies: false, note: `no resource value given; the rule grants only on ${where}` };
  }
  const hit = r.resources.test(req.resource);
  return {
    ...base,
    applies: hit,
    note: hit ? `${req.resource} matches ${where}` : `${req.resource} does not match ${where}`,
  };
}

/** Every rule that bears on a request, plus the decision (for the admin access simulator). */
export function explain(policy: CompiledPolicy, subject: Subject, req: AccessRequest): Explanation {
  const decision = decide(policy, subject, req);
  const rules: ExplainedRule[] = [];
  const unknownRoles: string[] = [];
  if (missingName(req)) return { decision, rules, unknownRoles };
  for (const name of new Set(subject.roles)) {
    const set = policy._roles.get(name);
    if (set === undefined) {
      unknownRoles.push(name);
      continue;
    }
    const all = [...set.exact.values()].flat().concat(set.globs);
    all.sort((a, b) => a.seq - b.seq);
    for (const r of all) {
      const e = explainRule(r, req, 'role');
      if (e) rules.push(e);
    }
  }
  if (subject.scopes !== undefined) {
    subject.scopes.forEach((config, i) => {
      const e = explainRule(compileRule(config, 'allow', i, `key scope[${i}]`, undefined), req, 'scope');
      if (e) rules.push(e);
    });
  }
  return { decision, rules, unknownRoles };
}
