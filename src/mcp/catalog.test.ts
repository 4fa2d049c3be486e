import { describe, expect, it } from 'vitest';
import { Catalog, parseQualifiedUri, qualifiedUri } from './catalog.ts';
import { paginate } from './cursor.ts';
import { compileUriTemplate } from './uri-template.ts';

const lists = (tools: string[], resources: string[] = [], templates: string[] = []) => ({
  tools: tools.map((name) => ({ name, inputSchema: { type: 'object' } })),
  prompts: [{ name: 'report' }],
  resources: resources.map((uri) => ({ uri, name: uri })),
  resourceTemplates: templates.map((uriTemplate) => ({ uriTemplate, name: uriTemplate })),
});

describe('Catalog', () => {
  it('namespaces names in /mcp and keeps them in /mcp/{server}', () => {
    const c = new Catalog();
    c.set('db', lists(['query']));
    c.set('code', lists(['query', 'review']));
    expect(c.list(null, 'tools').map((t) => t.name)).toEqual(['code__query', 'code__review', 'db__query']);
    expect(c.list('db', 'tools').map((t) => t.name)).toEqual(['query']);
    expect(c.resolveTool(null, 'db__query')).toEqual({ server: 'db', name: 'query' });
    expect(c.resolveTool('code', 'review')).toEqual({ server: 'code', name: 'review' });
    expect(c.resolveTool(null, 'query')).toBeUndefined();
    expect(c.resolvePrompt(null, 'db__report')).toEqual({ server: 'db', name: 'report' });
  });

  it('rewrites colliding resource URIs and routes them back', () => {
    const c = new Catalog();
    c.set('a', lists([], ['file:///x']));
    c.set('b', lists([], ['file:///x', 'file:///y']));
    const uris = c.list(null, 'resources').map((r) => r.uri);
    expect(uris).toEqual(['file:///x', qualifiedUri('b', 'file:///x'), 'file:///y']);
    expect(c.resolveUri(null, 'file:///x')).toEqual({ server: 'a', name: 'file:///x' });
    expect(c.resolveUri(null, qualifiedUri('b', 'file:///x'))).toEqual({ server: 'b', name: 'file:///x' });
    expect(c.exposedUri(null, 'b', 'file:///x')).toBe(qualifiedUri('b', 'file:///x'));
    expect(c.exposedUri('b', 'b', 'file:///x')).toBe('file:///x');
    expect(parseQualifiedUri('omnihub://b/file%3A%2F%2F%2Fx')).toEqual({ server: 'b', name: 'file:///x' });
  });

  it('routes template-made URIs to the server whose template matches', () => {
    const c = new Catalog();
    c.set('a', lists([], [], ['db://{database}/tables/{table}']));
    c.set('b', lists([], [], ['test://template/{id}/data']));
    expect(c.resolveUri(null, 'test://template/42/data')?.server).toBe('b');
    expect(c.resolveUri(null, 'db://dev_db/tables/users')?.server).toBe('a');
    expect(c.resolveUri(null, 'nope://x')).toBeUndefined();
    expect(c.resolveTemplate(null, 'db://{database}/tables/{table}')?.server).toBe('a');
  });

  it('reports which lists changed and empties a server that went down', () => {
    const c = new Catalog();
    expect(c.set('a', lists(['t']))).toEqual(['tools', 'prompts']);
    expect(c.set('a', lists(['t']))).toEqual([]);
    expect(c.clear('a')).toEqual(['tools', 'prompts']);
    expect(c.list(null, 'tools')).toEqual([]);
    expect(c.has('a')).toBe(true);
  });
});

describe('compileUriTemplate', () => {
  it('matches simple, reserved and query expansions', () => {
    expect(compileUriTemplate('a://{x}/b').test('a://1/b')).toBe(true);
    expect(compileUriTemplate('a://{x}/b').test('a://1/2/b')).toBe(false);
    expect(compileUriTemplate('file:///{+path}').test('file:///a/b/c')).toBe(true);
    expect(compileUriTemplate('s://q{?a,b}').test('s://q?a=1&b=2')).toBe(true);
  });
});

describe('paginate', () => {
  it('walks a list with opaque cursors and rejects forged ones', () => {
    const items = Array.from({ length: 5 }, (_, i) => i);
    const first = paginate(items, undefined, 2);
    expect(first.page).toEqual([0, 1]);
    const second = paginate(items, first.next, 2);
    expect(second.page).toEqual([2, 3]);
    const third = paginate(items, second.next, 2);
    expect(third).toEqual({ page: [4] });
    expect(() => paginate(items, 'garbage', 2)).toThrow(/Invalid cursor/);
    expect(() => paginate(items, Buffer.from('o:99').toString('base64url'), 2)).toThrow(/Invalid cursor/);
    expect(() => paginate(items, 5, 2)).toThrow(/Invalid cursor/);
  });
});
