import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { JsonRpcMessage } from '../mcp/jsonrpc.ts';

/** What a stream reader learns that matters for resuming: the last event id and the server's `retry:`. */
export interface StreamCursor {
  lastEventId: string | undefined;
  retryMs: number | undefined;
}

/** Feeds a response body through an incremental SSE parser until the body ends (or is aborted). */
export async function readSse(
  body: AsyncIterable<Uint8Array | string>,
  cursor: StreamCursor,
  onEvent: (event: EventSourceMessage) => void,
): Promise<void> {
  const parser = createParser({
    onEvent(event) {
      if (event.id !== undefined) cursor.lastEventId = event.id;
      onEvent(event);
    },
    onRetry(ms) {
      cursor.retryMs = ms;
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
}

/** JSON text → the JSON-RPC messages in it (a batch is flattened); anything else → []. */
export function parseMessages(text: string): JsonRpcMessage[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [];
  }
  if (Array.isArray(value)) return value.filter(isObject) as JsonRpcMessage[];
  return isObject(value) ? [value as JsonRpcMessage] : [];
}

function isObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Resolves after `ms`, or early (without error) when the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
