import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../config/load.ts';
import type { RoleConfig } from '../config/schema.ts';
import { type CompiledPolicy, canSee, compilePolicy, decide, explain, visibleNames } from './engine.ts';

const DEMO = fileURLToPath(new URL('../../examples/demo.yaml', import.meta.url));

describe('seed roles from examples/demo.yaml', () => {
  let policy: CompiledPolicy;
  beforeAll(async () => {
    policy = compilePolicy((await loadConfigFile(DEMO)).roles);
  });
  const dev = { roles: ['developer'] };

  it('developer: analyze_sql on prod_db is denied, naming prod_db', () => {
    const d = decide(policy, dev, {
      server: 'database',
      kind: 'tool',
      name: 'analyze_sql',
      resource: 'prod_db',
    });
    expect(d.allow).toBe(false);
    expect(d.rule).toBe('default deny');
    expect(d.reason).toBe('access to prod_db is denied: role developer allows analyze_sql only on dev_*');
  });

  it('developer: analyze_sql on dev_db is allowed by allow[1]', () => {
    const d = decide(policy, dev, {
      server: 'database',
      kind: 'tool',
      name: 'analyze_sql',
      resource: 'dev_db',
    });
    expect(d).toMatchObject({ allow: true, rule: 'role developer, allow[1]' });
  });

  it('developer: analyze_sql without a database argument is denied (fail closed)', () => {
    const d = decide(policy, dev, { server: 'database', kind: 'tool', name: 'analyze_sql' });
    expect(d.allow).toBe(false);
    expect(d.reason).toContain('names no resource');
  });

  it('developer: check_access is denied by the named deny rule, whatever the database', () => {
    for (const resource of ['dev_db', 'prod_db', undefined]) {
      const d = decide(policy, dev, { server: 'database', kind: 'tool', name: 'check_access', resource });
      expect(d).toMatchObject({ allow: false, rule: 'role developer, deny[0]' });
      expect(d.reason).toContain('check_access');
    }
    expect(canSee(policy, dev, { server: 'database', kind: 'tool', name: 'check_access' })).toBe(false);
  });

  it('developer: code tools allowed, database visible, etl not', () => {
    expect(decide(policy, dev, { server: 'code', kind: 'tool', name: 'run_tests' }).allow).toBe(true);
    expect(decide(policy, dev, { server: 'database', kind: 'server' }).allow).toBe(true);
    expect(decide(policy, dev, { server: 'etl', kind: 'server' }).allow).toBe(false);
    expect(
      visibleNames(policy, dev, 'database', 'tool', ['analyze_sql', 'compare_plans', 'check_access', 'x']),
    ).toEqual(['analyze_sql', 'compare_plans']);
  });

  it('analyst: analyze_sql on any database, never check_access; database prompts', () => {
    const analyst = { roles: ['analyst'] };
    expect(
      decide(policy, analyst, { server: 'database', kind: 'tool', name: 'analyze_sql', resource: 'prod_db' })
        .allow,
    ).toBe(true);
    const d = decide(policy, analyst, {
      server: 'database',
      kind: 'tool',
      name: 'check_access',
      resource: 'dev_db',
    });
    expect(d).toMatchObject({ allow: false, rule: 'default deny' });
    expect(canSee(policy, analyst, { server: 'database', kind: 'tool', name: 'check_access' })).toBe(false);
    expect(decide(policy, analyst, { server: 'database', kind: 'prompt', name: 'anything' }).allow).toBe(
      true,
    );
    expect(decide(policy, analyst, { server: 'code', kind: 'server' }).allow).toBe(false);
  });

  it('customer: no tools at all, but the daily_sales_report prompt', () => {
    const customer = { roles: ['customer'] };
    for (const server of ['database', 'code', 'etl']) {
      expect(
        visibleNames(policy, customer, server, 'tool', ['analyze_sql', 'check_access', 'run_tests', 'x']),
      ).toEqual([]);
      expect(
        decide(policy, customer, { server, kind: 'tool', name: 'analyze_sql', resource: 'dev_db' }).allow,
      ).toBe(false);
    }
    expect(
      decide(policy, customer, { server: 'database', kind: 'prompt', name: 'daily_sales_report' }),
    ).toMatchObject({
      allow: true,
      rule: 'role customer, allow[0]',
    });
    expect(decide(policy, customer, { server: 'database', kind: 'prompt', name: 'other' }).allow).toBe(false);
    expect(decide(policy, customer, { server: 'database', kind: 'server' }).allow).toBe(true);
    expect(decide(policy, customer, { server: 'code', kind: 'server' }).allow).toBe(false);
  });

  it('admin: everything', () => {
    const admin = { roles: ['admin'] };
    for (const server of ['database', 'code', 'etl', 'anything']) {
      expect(decide(policy, admin, { server, kind: 'server' }).allow).toBe(true);
      for (const kind of ['tool', 'prompt', 'uri'] as const) {
        expect(decide(policy, admin, { server, kind, name: 'check_access', resource: 'prod_db' }).allow).toBe(
          true,
        );
      }
    }
  });

  it('unknown roles and no roles are denied', () => {
    for (const roles of [[], ['nobody'], ['Admin']]) {
      const d = decide(policy, { roles }, { server: 'code', kind: 'tool', name: 'run_tests' });
      expect(d).toMatchObject({ allow: false, rule: 'default deny' });
      expect(canSee(policy, { roles }, { server: 'code', kind: 'tool', name: 'run_tests' })).toBe(false);
    }
  });

  it('multiple roles: union of allows, and the developer deny still wins', () => {
    const both = { roles: ['developer', 'analyst'] };
    const req = { server: 'database', kind: 'tool', name: 'analyze_sql', resource: 'prod_db' } as const;
    expect(decide(policy, both, req)).toMatchObject({ allow: true, rule: 'role analyst, allow[0]' });
    const check = decide(policy, { roles: ['admin', 'developer'] }, { ...req, name: 'check_access' });
    expect(check).toMatchObject({ allow: false, rule: 'role developer, deny[0]' });
  });

  it('key scopes narrow the roles (intersection)', () => {
    const scoped = {
      roles: ['admin'],
      scopes: [{ server: 'database', tools: 'analyze_sql', resources: 'dev_*' }],
    };
    const call = (name: string, resource?: string) =>
      decide(policy, scoped, { server: 'database', kind: 'tool', name, resource });
    expect(call('analyze_sql', 'dev_db')).toMatchObject({ allow: true, rule: 'role admin, allow[0]' });
    expect(call('analyze_sql', 'dev_db').reason).toContain('key scope[0]');
    expect(call('analyze_sql', 'prod_db')).toMatchObject({ allow: false, rule: 'key scope' });
    expect(call('compare_plans', 'dev_db')).toMatchObject({ allow: false, rule: 'key scope' });
    expect(decide(policy, scoped, { server: 'code', kind: 'server' }).allow).toBe(false);
    expect(decide(policy, scoped, { server: 'database', kind: 'server' }).allow).toBe(true);
    // A scope never widens: a customer key scoped to everything still has no tools.
    const wide = { roles: ['customer'], scopes: [{ server: '*', tools: '*' }] };
    expect(
      decide(policy, wide, { server: 'database', kind: 'tool', name: 'analyze_sql', resource: 'dev_db' })
        .allow,
    ).toBe(false);
    expect(decide(policy, { roles: ['admin'], scopes: [] }, { server: 'code', kind: 'server' }).allow).toBe(
      false,
    );
  });

  it('explain lists every rule that bears on the request', () => {
    const e = explain(
      policy,
      { roles: ['developer', 'ghost'] },
      { server: 'database', kind: 'tool', name: 'analyze_sql', resource: 'prod_db' },
    );
    expect(e.decision.allow).toBe(false);
    expect(e.unknownRoles).toEqual(['ghost']);
    expect(e.rules).toEqual([
      expect.objectContaining({
        rule: 'role developer, allow[1]',
        applies: false,
        note: 'prod_db does not match dev_*',
      }),
    ]);
  });
});

describe('rule semantics', () => {
  const roles = (r: Record<string, Partial<RoleConfig>>): Record<string, RoleConfig> =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { allow: [], deny: [], ...v }]));

  it('a deny with no fields denies and hides the whole server', () => {
    const p = compilePolicy(
      roles({ r: { allow: [{ server: '*', tools: '*' }], deny: [{ server: 'db*' }] } }),
    );
    const s = { roles: ['r'] };
    expect(decide(p, s, { server: 'db1', kind: 'server' })).toMatchObject({
      allow: false,
      rule: 'role r, deny[0]',
    });
    expect(decide(p, s, { server: 'db1', kind: 'tool', name: 'x' }).reason).toContain('whole server');
    expect(decide(p, s, { server: 'code', kind: 'tool', name: 'x' }).allow).toBe(true);
  });

  it('a deny with resources applies when the resource is missing, and does not hide the tool', () => {
    const p = compilePolicy(
      roles({
        r: {
          allow: [{ server: 'db', tools: '*' }],
          deny: [{ server: 'db', tools: 'q', resources: 'prod_*' }],
        },
      }),
    );
    const s = { roles: ['r'] };
    expect(decide(p, s, { server: 'db', kind: 'tool', name: 'q', resource: 'dev' }).allow).toBe(true);
    expect(decide(p, s, { server: 'db', kind: 'tool', name: 'q', resource: 'prod_1' }).allow).toBe(false);
    expect(decide(p, s, { server: 'db', kind: 'tool', name: 'q' })).toMatchObject({
      allow: false,
      rule: 'role r, deny[0]',
    });
    expect(canSee(p, s, { server: 'db', kind: 'tool', name: 'q' })).toBe(true);
  });

  it('a resources-only deny covers every kind on the server; `*` resources is a plain deny', () => {
    const p = compilePolicy(
      roles({
        r: {
          allow: [{ server: '*', tools: '*', prompts: '*', uris: '*' }],
          deny: [
            { server: 'a', resources: 'prod_*' },
            { server: 'b', tools: 't', resources: '*' },
          ],
        },
      }),
    );
    const s = { roles: ['r'] };
    expect(decide(p, s, { server: 'a', kind: 'prompt', name: 'p', resource: 'prod_x' }).allow).toBe(false);
    expect(decide(p, s, { server: 'a', kind: 'prompt', name: 'p', resource: 'dev' }).allow).toBe(true);
    expect(decide(p, s, { server: 'a', kind: 'server' }).allow).toBe(true);
    expect(canSee(p, s, { server: 'b', kind: 'tool', name: 't' })).toBe(false);
    expect(canSee(p, s, { server: 'b', kind: 'tool', name: 'u' })).toBe(true);
  });

  it('an allow without the kind field grants nothing of that kind; a resources-only allow grants nothing', () => {
    const p = compilePolicy(
      roles({
        r: {
          allow: [
            { server: 'x', prompts: 'p' },
            { server: 'y', resources: '*' },
          ],
        },
      }),
    );
    const s = { roles: ['r'] };
    expect(decide(p, s, { server: 'x', kind: 'tool', name: 'p' }).allow).toBe(false);
    expect(decide(p, s, { server: 'x', kind: 'prompt', name: 'p' }).allow).toBe(true);
    expect(decide(p, s, { server: 'y', kind: 'server' }).allow).toBe(false);
  });

  it('requests without a name are denied', () => {
    const p = compilePolicy(roles({ r: { allow: [{ server: '*', tools: '*' }] } }));
    expect(decide(p, { roles: ['r'] }, { server: 'x', kind: 'tool' }).allow).toBe(false);
    expect(canSee(p, { roles: ['r'] }, { server: 'x', kind: 'tool' })).toBe(false);
  });

  it('the deciding rule is the lowest-numbered one, whatever the order of the subject roles', () => {
    const p = compilePolicy(
      roles({ a: { deny: [{ server: '*', tools: 't' }] }, b: { deny: [{ server: 's', tools: '*' }] } }),
    );
    const req = { server: 's', kind: 'tool', name: 't' } as const;
    expect(decide(p, { roles: ['a', 'b'] }, req).rule).toBe('role a, deny[0]');
    expect(decide(p, { roles: ['b', 'a'] }, req).rule).toBe('role a, deny[0]');
  });

  it('many servers: views are cached but bounded', () => {
    const p = compilePolicy(roles({ r: { allow: [{ server: 's*', tools: '*' }] } }));
    for (let i = 0; i < 10_000; i++) {
      expect(decide(p, { roles: ['r'] }, { server: `s${i}`, kind: 'tool', name: 't' }).allow).toBe(true);
    }
  });
});
