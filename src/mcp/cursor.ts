import { HubError } from '../server/errors.ts';

/** Opaque pagination over an in-memory list: the cursor is the next offset, encoded. */
export function paginate<T>(
  items: readonly T[],
  cursor: unknown,
  pageSize: number,
): { page: T[]; next?: string } {
  const offset = cursor === undefined ? 0 : decodeCursor(cursor, items.length);
  const end = offset + pageSize;
  const page = items.slice(offset, end);
  return end < items.length ? { page, next: encodeCursor(end) } : { page };
}

function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

function decodeCursor(cursor: unknown, length: number): number {
  if (typeof cursor === 'string' && cursor.length <= 64) {
    const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
    const offset = match ? Number(match[1]) : Number.NaN;
    if (offset >= 0 && offset <= length) return offset;
  }
  throw new HubError('INVALID_PARAMS', 'Invalid cursor');
}
