/**
 * Rows in PostgreSQL's COPY text format: one line per row, columns separated by tabs, `\N` for null,
 * and backslash, newline, carriage return and tab escaped. Loading a batch with COPY skips the
 * per-row parsing an INSERT of the same rows pays (on the embedded database, about a third of that
 * INSERT's cost; bench/README.md).
 */
const SPECIAL = /[\\\n\r\t]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function field(value: unknown): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) return value.toISOString();
  const text = String(value);
  return text.replace(SPECIAL, (c) => ESCAPES[c] as string);
}

export function copyText<K extends string>(
  rows: readonly Readonly<Record<K, unknown>>[],
  columns: readonly K[],
): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < columns.length; i++) {
      out += i === 0 ? field(row[columns[i] as K]) : `\t${field(row[columns[i] as K])}`;
    }
    out += '\n';
  }
  return out;
}
