/**
 * Compiles an RFC 6570 URI template into a matcher, enough to route a concrete URI to the server whose
 * template produced it: `{x}` matches one path segment, `{+x}`/`{#x}` anything, `{?x}`/`{&x}` a query.
 */
export function compileUriTemplate(template: string): RegExp {
  let pattern = '^';
  let last = 0;
  for (const m of template.matchAll(/\{([+#?&/.;]?)[^}]*\}/g)) {
    pattern += escapeRegExp(template.slice(last, m.index));
    const op = m[1];
    if (op === '+' || op === '#') pattern += '.*';
    else if (op === '?' || op === '&') pattern += '(?:[?&].*)?';
    else pattern += '[^/?#]*';
    last = (m.index ?? 0) + m[0].length;
  }
  pattern += `${escapeRegExp(template.slice(last))}$`;
  return new RegExp(pattern);
}

function escapeRegExp(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
