/**
 * Glob matching for policy rules: `*` matches any run of characters (including none, including `/` and
 * newlines), `?` matches exactly one character (one Unicode code point), everything else is literal and
 * case-sensitive. There is no escaping and there are no character classes.
 *
 * Globs are NOT compiled to RegExps: a backtracking regex for `*a*b*c` is polynomial in the input and the
 * resource value is attacker-controlled. The general matcher below is the classic single-backtrack
 * wildcard algorithm, O(|pattern| x |value|) worst case, no allocation. Common shapes get cheaper paths.
 */

/** A compiled list of globs: `test` is true when any of them matches the whole value. */
export interface Matcher {
  /** The globs as written, for explanations. */
  readonly patterns: readonly string[];
  /** True when some glob is all `*`: matches every value. */
  readonly matchesAll: boolean;
  test(value: string): boolean;
}

const STAR = 42; // '*'
const QMARK = 63; // '?'

/** Length in UTF-16 units of the code point at `i` (so `?` never splits a surrogate pair). */
function cpLen(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/** General wildcard match, linear-backtracking (only to the last `*`), no recursion. */
export function wildcardMatch(pattern: string, value: string): boolean {
  let pi = 0;
  let si = 0;
  let starP = -1;
  let starS = 0;
  while (si < value.length) {
    if (pi < pattern.length) {
      const pc = pattern.charCodeAt(pi);
      if (pc === STAR) {
        starP = pi++;
        starS = si;
        continue;
      }
      if (pc === QMARK) {
        pi++;
        si += cpLen(value, si);
        continue;
      }
      if (pc === value.charCodeAt(si)) {
        pi++;
        si++;
        continue;
      }
    }
    if (starP < 0) return false;
    // Let the last `*` swallow one more code point and retry the rest of the pattern from there.
    pi = starP + 1;
    starS += cpLen(value, starS);
    si = starS;
  }
  while (pi < pattern.length && pattern.charCodeAt(pi) === STAR) pi++;
  return pi === pattern.length;
}

type Test = (value: string) => boolean;

/** One glob → the cheapest test that implements it. */
function compileOne(glob: string): Test {
  const hasQ = glob.includes('?');
  const first = glob.indexOf('*');
  if (!hasQ && first >= 0) {
    const last = glob.lastIndexOf('*');
    const inner = glob.slice(first, last + 1);
    // Only a single run of stars: prefix*suffix (either may be empty).
    if (/^\*+$/.test(inner)) {
      const prefix = glob.slice(0, first);
      const suffix = glob.slice(last + 1);
      const min = prefix.length + suffix.length;
      if (suffix === '') return (v) => v.startsWith(prefix);
      if (prefix === '') return (v) => v.endsWith(suffix);
      return (v) => v.length >= min && v.startsWith(prefix) && v.endsWith(suffix);
    }
    // *infix*
    if (first === 0 && last === glob.length - 1) {
      const infix = glob.replace(/^\*+|\*+$/g, '');
      if (!infix.includes('*')) return (v) => v.includes(infix);
    }
  }
  const pattern = glob.replace(/\*+/g, '*');
  return (v) => wildcardMatch(pattern, v);
}

export function isWildcard(glob: string): boolean {
  return glob.includes('*') || glob.includes('?');
}

/** True when a glob is only stars, i.e. matches every string. */
export function isMatchAll(glob: string): boolean {
  return glob.length > 0 && /^\*+$/.test(glob);
}

/** Normalises the config shape (one glob or a list) to a list. */
export function globList(value: string | readonly string[] | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? [value] : value;
}

/**
 * Compiles globs to one matcher: literal names go to a Set (one hash lookup), wildcard globs are
 * tried in order after it.
 */
export function compileGlobs(patterns: readonly string[]): Matcher {
  const list = [...patterns];
  if (list.some(isMatchAll)) return { patterns: list, matchesAll: true, test: () => true };
  const exact = new Set<string>();
  const tests: Test[] = [];
  for (const p of list) {
    if (isWildcard(p)) tests.push(compileOne(p));
    else exact.add(p);
  }
  let test: Test;
  if (tests.length === 0) {
    if (exact.size === 1) {
      const only = list[0];
      test = (v) => v === only;
    } else {
      test = (v) => exact.has(v);
    }
  } else if (exact.size === 0 && tests.length === 1) {
    test = tests[0]!;
  } else {
    test = (v) => {
      if (exact.has(v)) return true;
      for (const t of tests) if (t(v)) return true;
      return false;
    };
  }
  return { patterns: list, matchesAll: false, test };
}
