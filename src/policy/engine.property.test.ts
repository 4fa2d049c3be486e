/**
 * Differential and property tests (the Cedar approach): the compiled engine against a deliberately naive
 * reference model written here from docs/policy.md, over random policies on small alphabets so that
 * globs, names and resources collide often.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RoleConfig, RuleConfig } from '../config/schema.ts';
import { type AccessRequest, canSee, compilePolicy, decide, type Subject } from './engine.ts';

// ---------------------------------------------------------------------------------------------------
// Reference model: loop over every rule, globs as regexes. No indexing, no caching, no early exits.

function globRegex(glob: string): RegExp {
  let src = '';
  for (const ch of glob) {
    if (ch === '*') src += '.*';
    else if (ch === '?') src += '.';
    else src += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${src}$`, 'su');
}

function list(v: string | string[] | undefined): string[] | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? [v] : v;
}

function anyMatch(globs: string[], value: string): boolean {
  return globs.some((g) => globRegex(g).test(value));
}

const FIELD = { tool: 'tools', prompt: 'prompts', uri: 'uris' } as const;

function hasNameField(r: RuleConfig): boolean {
  return r.tools !== undefined || r.prompts !== undefined || r.uris !== undefined;
}

function resourcesCoverAll(r: RuleConfig): boolean {
  return (list(r.resources) ?? []).some((g) => /^\*+$/.test(g));
}

function isWholeServerDeny(r: RuleConfig): boolean {
  return !hasNameField(r) && (r.resources === undefined || resourcesCoverAll(r));
}

function modelDenyApplies(r: RuleConfig, q: AccessRequest, ignoreResource: boolean): boolean {
  if (!anyMatch([r.server], q.server)) return false;
  if (q.kind === 'server') return isWholeServerDeny(r);
  const field = list(r[FIELD[q.kind]]);
  if (field !== undefined) {
    if (!anyMatch(field, q.name as string)) return false;
  } else if (hasNameField(r)) {
    return false;
  }
  const res = list(r.resources);
  if (res === undefined || resourcesCoverAll(r)) return true;
  // For list filtering a deny with a resource constraint hides nothing (another value may be allowed).
  if (ignoreResource) return false;
  return q.resource === undefined || anyMatch(res, q.resource);
}

function modelAllowGrants(r: RuleConfig, q: AccessRequest, ignoreResource: boolean): boolean {
  if (!anyMatch([r.server], q.server)) return false;
  if (q.kind === 'server') return hasNameField(r);
  const field = list(r[FIELD[q.kind]]);
  if (field === undefined || !anyMatch(field, q.name as string)) return false;
  const res = list(r.resources);
  if (res === undefined || ignoreResource) return true;
  return q.resource !== undefined && anyMatch(res, q.resource);
}

function model(roles: Record<string, RoleConfig>, s: Subject, q: AccessRequest, listing = false): boolean {
  const mine = s.roles.filter((n) => Object.hasOwn(roles, n)).map((n) => roles[n] as RoleConfig);
  const ignore = listing && q.kind !== 'server';
  for (const role of mine) for (const r of role.deny) if (modelDenyApplies(r, q, ignore)) return false;
  let granted = false;
  for (const role of mine) for (const r of role.allow) if (modelAllowGrants(r, q, ignore)) granted = true;
  if (!granted) return false;
  if (s.scopes === undefined) return true;
  return s.scopes.some((r) => modelAllowGrants(r, q, ignore));
}

// ---------------------------------------------------------------------------------------------------
// Generators: tiny alphabets so that random globs actually match random names.

const SERVERS = ['s', 't', 'st', 'ts'];
const NAMES = ['a', 'b', 'ab', 'ba', 'a_b'];
const RESOURCES = ['dev_db', 'prod_db', 'dev', 'd', ''];
const ROLE_NAMES = ['r1', 'r2', 'r3', 'admin'];

// Mostly known words (so rules and requests meet), sometimes random strings and wildcard globs.
const globOver = (alphabet: string[], words: string[]) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...words, '*') },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.constantFrom(...alphabet, '*', '?'), { minLength: 1, maxLength: 4 })
        .map((a) => a.join('')),
    },
  );
const serverGlob = globOver(['s', 't'], [...SERVERS, 's*', '?']);
const nameGlob = globOver(['a', 'b', '_'], [...NAMES, 'a*', '*b', '?']);
const resourceGlob = globOver(['d', 'e', 'v', '_', 'p'], ['dev_*', 'prod_*', '*_db', 'dev_db', 'd?v']);
const globs = (g: fc.Arbitrary<string>) => fc.oneof(g, fc.array(g, { minLength: 1, maxLength: 3 }));

const ruleArb: fc.Arbitrary<RuleConfig> = fc
  .record(
    {
      server: serverGlob,
      tools: globs(nameGlob),
      prompts: globs(nameGlob),
      uris: globs(nameGlob),
      resources: globs(resourceGlob),
    },
    { requiredKeys: ['server'] },
  )
  .map((r) => r as RuleConfig);

const roleArb: fc.Arbitrary<RoleConfig> = fc.record({
  allow: fc.array(ruleArb, { maxLength: 4 }),
  deny: fc.array(ruleArb, { maxLength: 2 }),
});

const rolesArb = fc.dictionary(fc.constantFrom(...ROLE_NAMES), roleArb, { maxKeys: 4 });

const subjectArb: fc.Arbitrary<Subject> = fc.record(
  {
    roles: fc.uniqueArray(fc.constantFrom(...ROLE_NAMES, 'ghost'), { maxLength: 3 }),
    scopes: fc.array(ruleArb, { maxLength: 3 }),
  },
  { requiredKeys: ['roles'] },
);

const kindArb = fc.constantFrom('tool', 'prompt', 'uri') as fc.Arbitrary<'tool' | 'prompt' | 'uri'>;
const serverArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...SERVERS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
);
const nameArb = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 3 }) },
);
const resourceArb = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 6, arbitrary: fc.constantFrom(...RESOURCES) },
  { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
);

const requestArb: fc.Arbitrary<AccessRequest> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ server: serverArb, kind: fc.constant('server' as const) }) },
  {
    weight: 4,
    arbitrary: fc
      .record({ server: serverArb, kind: kindArb, name: nameArb, resource: resourceArb })
      .map(({ resource, ...rest }): AccessRequest => (resource === undefined ? rest : { ...rest, resource })),
  },
);

/** A concrete string that the glob matches: `*` becomes 0-2 letters, `?` one letter. */
function instantiate(glob: string, fill: readonly string[]): string {
  let i = 0;
  const next = () => fill[i++ % fill.length] ?? '';
  return glob.replace(/[*?]/g, (w) => (w === '?' ? next().slice(0, 1) || 'a' : next()));
}

const fillArb = fc.array(fc.constantFrom('', 'a', 'b', 'dev', '_db', 's', 'x'), {
  minLength: 1,
  maxLength: 3,
});

/** A request aimed at one rule of the policy, so that rules are hit (or narrowly missed) often. */
function aimedRequest(rule: RuleConfig): fc.Arbitrary<AccessRequest> {
  const pick = (v: string | string[] | undefined) => fc.constantFrom(...(list(v) ?? ['*']));
  const kinds = (['tool', 'prompt', 'uri'] as const).filter((k) => rule[FIELD[k]] !== undefined);
  const kindAndName = fc
    .constantFrom(...(kinds.length > 0 ? kinds : (['tool', 'prompt', 'uri'] as const)))
    .chain((kind) => fc.tuple(fc.constant(kind), pick(rule[FIELD[kind]])));
  const serverOnly = fillArb.map(
    (fill): AccessRequest => ({ server: instantiate(rule.server, fill), kind: 'server' }),
  );
  const call = fc
    .record({
      kindAndName,
      fill: fillArb,
      resourceGlob: fc.option(pick(rule.resources), { nil: undefined, freq: 4 }),
      randomResource: resourceArb,
    })
    .map(({ kindAndName: [kind, nameGlob], fill, resourceGlob, randomResource }) => {
      const resource = resourceGlob === undefined ? randomResource : instantiate(resourceGlob, fill);
      const req: AccessRequest = {
        server: instantiate(rule.server, fill),
        kind,
        name: instantiate(nameGlob, fill),
      };
      return resource === undefined ? req : { ...req, resource };
    });
  return fc.oneof({ weight: 1, arbitrary: serverOnly }, { weight: 4, arbitrary: call });
}

interface Case {
  roles: Record<string, RoleConfig>;
  subject: Subject;
  req: AccessRequest;
}

/** A policy, a subject that mostly holds the policy's roles, and a request mostly aimed at its rules. */
const caseArb: fc.Arbitrary<Case> = rolesArb.chain((roles) => {
  const names = Object.keys(roles);
  const subject: fc.Arbitrary<Subject> = fc.record(
    {
      roles: fc.uniqueArray(fc.constantFrom(...names, 'ghost'), {
        minLength: names.length > 0 ? 1 : 0,
        maxLength: 3,
      }),
      scopes: fc.option(fc.array(ruleArb, { maxLength: 3 }), { nil: undefined, freq: 3 }),
    },
    { requiredKeys: ['roles'] },
  );
  return fc
    .tuple(fc.constant(roles), fc.oneof({ weight: 2, arbitrary: subject }, subjectArb))
    .chain(([r, s]) => {
      const rules = [...Object.values(r).flatMap((x) => [...x.allow, ...x.deny]), ...(s.scopes ?? [])];
      const req =
        rules.length === 0
          ? requestArb
          : fc.oneof(
              { weight: 1, arbitrary: requestArb },
              { weight: 3, arbitrary: fc.constantFrom(...rules).chain(aimedRequest) },
            );
      return req.map((q) => ({ roles: r, subject: s, req: q }));
    });
});

const RUNS = { numRuns: 2000 };

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let x = seed | 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------

describe('policy engine properties', () => {
  it('(a) default deny: with no rules everything is denied and nothing is visible', () => {
    const emptyRoles = fc.dictionary(
      fc.constantFrom(...ROLE_NAMES),
      fc.constant<RoleConfig>({ allow: [], deny: [] }),
    );
    fc.assert(
      fc.property(emptyRoles, subjectArb, requestArb, (roles, subject, req) => {
        const p = compilePolicy(roles);
        const d = decide(p, subject, req);
        expect(d).toMatchObject({ allow: false, rule: 'default deny' });
        expect(canSee(p, subject, req)).toBe(false);
      }),
      RUNS,
    );
  });

  it('(b) deny beats allow: adding a matching deny to any policy flips the decision to deny', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.constantFrom(...ROLE_NAMES),
        fc.boolean(),
        ({ roles, subject, req }, roleName, withResource) => {
          const deny: RuleConfig =
            req.kind === 'server'
              ? { server: req.server }
              : {
                  server: req.server,
                  [FIELD[req.kind]]: [req.name as string],
                  // With or without a resource constraint; a missing resource still triggers it.
                  ...(withResource ? { resources: [req.resource ?? 'whatever'] } : {}),
                };
          const role = roles[roleName] ?? { allow: [], deny: [] };
          const withDeny = { ...roles, [roleName]: { ...role, deny: [...role.deny, deny] } };
          const s = { ...subject, roles: [...subject.roles, roleName] };
          const d = decide(compilePolicy(withDeny), s, req);
          expect(d.allow).toBe(false);
          expect(d.rule).toMatch(/^role .*, deny\[\d+\]$/);
        },
      ),
      RUNS,
    );
  });

  it('(c) rule order and role order do not matter', () => {
    fc.assert(
      fc.property(caseArb, fc.integer(), ({ roles, subject, req }, seed) => {
        const reordered = Object.fromEntries(
          shuffled(Object.entries(roles), seed).map(([name, r]) => [
            name,
            { allow: shuffled(r.allow, seed + 1), deny: shuffled(r.deny, seed + 2) },
          ]),
        );
        const s2 = {
          roles: shuffled(subject.roles, seed + 3),
          ...(subject.scopes ? { scopes: shuffled(subject.scopes, seed + 4) } : {}),
        };
        const a = compilePolicy(roles);
        const b = compilePolicy(reordered);
        expect(decide(b, s2, req).allow).toBe(decide(a, subject, req).allow);
        expect(canSee(b, s2, req)).toBe(canSee(a, subject, req));
      }),
      RUNS,
    );
  });

  it('(d) the engine agrees with the reference model (decide and canSee)', () => {
    fc.assert(
      fc.property(caseArb, ({ roles, subject, req }) => {
        const p = compilePolicy(roles);
        const d = decide(p, subject, req);
        expect(d.allow).toBe(model(roles, subject, req));
        expect(canSee(p, subject, req)).toBe(model(roles, subject, req, true));
        // A deny names a rule that really applies; an allow names a rule that really grants.
        const m = /^role (.*), (allow|deny)\[(\d+)\]$/.exec(d.rule);
        if (m) {
          const rule = roles[m[1] as string]?.[m[2] as 'allow' | 'deny'][Number(m[3])] as RuleConfig;
          expect(rule).toBeDefined();
          const hit =
            m[2] === 'deny' ? modelDenyApplies(rule, req, false) : modelAllowGrants(rule, req, false);
          expect(hit).toBe(true);
          expect(d.allow).toBe(m[2] === 'allow');
        } else {
          expect(d.allow).toBe(false);
          expect(['default deny', 'key scope']).toContain(d.rule);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('(e) list filtering agrees with call time: allowed for some resource ⇒ visible; hidden ⇒ always denied', () => {
    fc.assert(
      fc.property(
        caseArb,
        fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
        ({ roles, subject, req }, extra) => {
          const { server } = req;
          const kind = req.kind === 'server' ? 'tool' : req.kind;
          const name = req.name ?? 'a';
          const p = compilePolicy(roles);
          const visible = canSee(p, subject, { server, kind, name });
          for (const resource of [undefined, req.resource, ...RESOURCES, ...extra]) {
            const allowed = decide(p, subject, { server, kind, name, resource }).allow;
            if (allowed) expect(visible).toBe(true);
            if (!visible) expect(allowed).toBe(false);
          }
        },
      ),
      RUNS,
    );
  });

  it('adding an allow never revokes access; adding a deny or removing an allow never grants', () => {
    // Note: removing a whole ROLE can grant, when that role carried a deny (denies are per role).
    fc.assert(
      fc.property(caseArb, ruleArb, ({ roles, subject, req }, extra) => {
        const name = subject.roles[0];
        if (name === undefined) return;
        const before = decide(compilePolicy(roles), subject, req).allow;
        const role = roles[name] ?? { allow: [], deny: [] };
        const moreAllow = compilePolicy({ ...roles, [name]: { ...role, allow: [...role.allow, extra] } });
        if (before) expect(decide(moreAllow, subject, req).allow).toBe(true);
        const moreDeny = compilePolicy({ ...roles, [name]: { ...role, deny: [...role.deny, extra] } });
        if (!before) expect(decide(moreDeny, subject, req).allow).toBe(false);
        const lessAllow = compilePolicy({ ...roles, [name]: { ...role, allow: role.allow.slice(1) } });
        if (!before) expect(decide(lessAllow, subject, req).allow).toBe(false);
      }),
      RUNS,
    );
  });
});
