/**
 * Redaction of audit arguments and admin before/after objects, run off the request path.
 * Two nets: by name (a member called like a secret loses its value) and by shape (a string that
 * looks like a credential is masked wherever it appears, whatever the member is called).
 */
import { canonicalJson, sha256Hex } from './canonical.ts';

export const REDACTED = '[redacted]';

/** Words that make a member name secret once the name is split into words (camelCase, `_`, `-`, `.`). */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'pwd',
  'passphrase',
  'secret',
  'secrets',
  'token',
  'tokens',
  'key',
  'keys',
  'apikey',
  'authorization',
  'auth',
  'cookie',
  'cookies',
  'credential',
  'credentials',
  'jwt',
  'bearer',
  'session',
  'sessionid',
  'private',
  'privatekey',
  'signature',
  'otp',
  'totp',
  'pin',
  'cvv',
  'ssn',
]);

/** Split into lower-case words: `apiKey` → api,key; `X-Auth-Token` → x,auth,token; `sort_key` → sort,key. */
function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

function classifyName(name: string): boolean {
  const words = nameWords(name);
  if (words.some((w) => SECRET_WORDS.has(w))) return true;
  // Glued names: "accesstoken", "clientsecret", "xapikey".
  const glued = words.join('');
  return /(password|passwd|secret|token|apikey|privatekey|credential|authorization|cookie)/.test(glued);
}

// Argument names repeat from call to call: remember the verdicts (bounded, so odd names cannot grow it).
const secretNames = new Map<string, boolean>();
const SECRET_NAMES_MAX = 10_000;

export function isSecretName(name: string): boolean {
  let secret = secretNames.get(name);
  if (secret === undefined) {
    secret = classifyName(name);
    if (secretNames.size >= SECRET_NAMES_MAX) secretNames.clear();
    if (name.length <= 200) secretNames.set(name, secret);
  }
  return secret;
}

/** Credential shapes, each replaced by a marker that keeps the kind (useful when reading the log). */
const VALUE_PATTERNS: readonly [RegExp, string][] = [
  [
    /-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END[A-Z0-9 ]*PRIVATE KEY-----|$)/g,
    '[redacted:private-key]',
  ],
  // omnihub API keys (a malformed or truncated one too).
  [/\bomh_[0-9A-Za-z]{6,}(?:_[0-9A-Za-z]*){0,2}/g, '[redacted:api-key]'],
  // JWT / JWS / JWE compact forms: base64url JSON header starting with {" → eyJ.
  [/\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){1,3}/g, '[redacted:jwt]'],
  [/\b(Bearer|Basic|Token|Digest)\s+[A-Za-z0-9._~+/=:-]{8,}/gi, '$1 [redacted]'],
  // Credentials inside URLs: scheme://user:password@host.
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]+@/gi, '$1:[redacted]@'],
  [/\b(AKIA|ASIA)[0-9A-Z]{16}\b/g, '[redacted:aws-key]'],
  [/\bgh[pousr]_[A-Za-z0-9]{30,}\b/g, '[redacted:github-token]'],
  [/\bgithub_pat_[A-Za-z0-9_]{30,}\b/g, '[redacted:github-token]'],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}\b/g, '[redacted:slack-token]'],
  [/\b(sk|rk|pk)_(live|test)_[A-Za-z0-9]{16,}\b/g, '[redacted:stripe-key]'],
  [/\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}\b/g, '[redacted:api-key]'],
  [/\bAIza[0-9A-Za-z_-]{35}\b/g, '[redacted:google-key]'],
  // key=value pairs in query strings, headers, connection strings: password=..., token: ...
  [
    /\b([A-Za-z_-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth)[A-Za-z_-]*)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&;,'"]+)/gi,
    '$1$2[redacted]',
  ],
];

/**
 * A literal every pattern above needs (case-insensitive: a superset). Most strings contain none, and
 * one scan for them is far cheaper than thirteen replacements. Keep it in step with VALUE_PATTERNS.
 */
const MAY_HOLD_CREDENTIAL =
  /BEGIN|omh_|eyJ|bearer|basic|token|digest|:\/\/|AKIA|ASIA|gh[pousr]_|github_pat_|xox|_live_|_test_|sk-|AIza|passw|pwd|secret|api[_-]?key|access[_-]?key|auth/i;

/** Masks every credential-shaped substring; also makes the string storable (no NUL, no lone surrogate). */
export function scrubString(value: string): string {
  const out = storable(value);
  return MAY_HOLD_CREDENTIAL.test(out) ? maskCredentials(out) : out;
}

/** Runs every credential pattern over the string (no prefilter). */
export function maskCredentials(value: string): string {
  let out = value;
  for (const [pattern, replacement] of VALUE_PATTERNS) {
    pattern.lastIndex = 0;
    out = out.replace(pattern, replacement);
  }
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_ALL = new RegExp(LONE_SURROGATE.source, 'g');

/** PostgreSQL text and jsonb refuse NUL and unpaired surrogates. */
export function storable(value: string): string {
  const clean = value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
  return LONE_SURROGATE.test(clean) ? clean.replace(LONE_SURROGATE_ALL, '\uFFFD') : clean;
}

const MAX_DEPTH = 32;
const MAX_NODES = 10_000;

/**
 * A redacted deep copy: secret-named members become `[redacted]`, strings are scrubbed, and the
 * result is plain JSON data (dates as ISO strings, no functions, depth and size bounded).
 */
export function redactValue(value: unknown): unknown {
  let nodes = 0;
  const seen = new WeakSet<object>();
  const walk = (v: unknown, depth: number): unknown => {
    if (++nodes > MAX_NODES) return '[truncated]';
    if (v === null || v === undefined) return v === null ? null : undefined;
    switch (typeof v) {
      case 'string':
        return scrubString(v);
      case 'number':
        return Number.isFinite(v) ? v : null;
      case 'boolean':
        return v;
      case 'bigint':
        return v.toString();
      case 'object': {
        if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
        if (depth >= MAX_DEPTH) return '[truncated]';
        if (seen.has(v)) return '[circular]';
        seen.add(v);
        if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1) ?? null);
        if (Buffer.isBuffer(v) || ArrayBuffer.isView(v))
          return `[binary ${(v as Uint8Array).byteLength} bytes]`;
        const out: Record<string, unknown> = {};
        for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
          const key = scrubString(k);
          if (isSecretName(k)) {
            if (item !== undefined && item !== null && item !== '') out[key] = REDACTED;
            else if (item !== undefined) out[key] = item;
            continue;
          }
          const walked = walk(item, depth + 1);
          if (walked !== undefined) out[key] = walked;
        }
        seen.delete(v);
        return out;
      }
      default:
        return undefined;
    }
  };
  return walk(value, 0);
}

export interface RedactedArguments {
  /** Canonical JSON of the redacted arguments, capped at `maxBytes` (null when there were none). */
  json: string | null;
  /** SHA-256 of the canonical JSON of the full redacted arguments (before the cap). */
  hash: string | null;
  /** Size of the full redacted arguments in bytes. */
  bytes: number;
  truncated: boolean;
}

/**
 * Redacts, hashes and caps one set of arguments. The hash covers the whole redacted value, so two
 * calls with the same arguments get the same digest, while a secret never feeds a hash that could be
 * brute-forced offline.
 */
export function redactArguments(args: unknown, maxBytes: number): RedactedArguments {
  if (args === undefined) return { json: null, hash: null, bytes: 0, truncated: false };
  const full = canonicalJson(redactValue(args) ?? null);
  const bytes = Buffer.byteLength(full, 'utf8');
  const hash = sha256Hex(full);
  if (bytes <= maxBytes) return { json: full, hash, bytes, truncated: false };
  // Keep a readable prefix; cut on a character boundary and re-scrub in case the cut split a marker.
  const preview = storable(
    Buffer.from(full, 'utf8')
      .subarray(0, Math.max(0, maxBytes - 100))
      .toString('utf8'),
  );
  const capped = canonicalJson({ _truncated: true, _bytes: bytes, _preview: preview.replace(/\uFFFD$/, '') });
  return { json: capped, hash, bytes, truncated: true };
}
