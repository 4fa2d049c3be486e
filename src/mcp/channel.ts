import type { ServerResponse } from 'node:http';
import type { JsonRpcMessage } from './jsonrpc.ts';

const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

function sseEvent(message: JsonRpcMessage): string {
  return `event: message\ndata: ${JSON.stringify(message)}\n\n`;
}

/**
 * The reply to one downstream POST. It answers with plain JSON unless something must be sent before the
 * response (progress, logs, a sampling request): then, if the client accepts it, it turns into an SSE
 * stream. Most calls never need the stream and so pay nothing for it.
 */
export class ResponseChannel {
  private streaming = false;
  private done = false;
  closed = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
    /** False when the client accepts only application/json: nothing can precede the response. */
    readonly canStream: boolean,
  ) {
    res.once('close', () => {
      this.closed = true;
    });
  }

  /** True while a message sent now would still reach the client. */
  get open(): boolean {
    return !this.done && !this.closed && this.canStream;
  }

  /** Sends a message that precedes the response (notification or server→client request). */
  send(message: JsonRpcMessage): boolean {
    if (!this.open) return false;
    if (!this.streaming) {
      this.streaming = true;
      this.res.writeHead(200, { ...this.headers, ...SSE_HEADERS });
    }
    this.res.write(sseEvent(message));
    return true;
  }

  /** Sends the final response and ends the reply. */
  finish(message: JsonRpcMessage, status = 200): void {
    if (this.done) return;
    this.done = true;
    if (this.closed) return;
    if (this.streaming) {
      this.res.end(sseEvent(message));
      return;
    }
    const body = JSON.stringify(message);
    this.res.writeHead(status, {
      ...this.headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    this.res.end(body);
  }
}

/** A long-lived SSE stream (the GET stream of a session). */
export class EventStream {
  private keepAlive: NodeJS.Timeout;
  closed = false;

  constructor(
    private readonly res: ServerResponse,
    headers: Record<string, string>,
    keepAliveMs: number,
    onClose: () => void,
  ) {
    res.writeHead(200, { ...headers, ...SSE_HEADERS });
    res.write(': stream open\n\n');
    this.keepAlive = setInterval(() => res.write(': keepalive\n\n'), keepAliveMs);
    this.keepAlive.unref();
    res.once('close', () => {
      this.closed = true;
      clearInterval(this.keepAlive);
      onClose();
    });
  }

  send(message: JsonRpcMessage): boolean {
    if (this.closed) return false;
    this.res.write(sseEvent(message));
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.res.end();
  }
}
