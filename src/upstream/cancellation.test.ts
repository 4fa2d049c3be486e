import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { Cancellation } from './cancellation.ts';

describe('Cancellation', () => {
  it('runs each listener once, at once when already cancelled, never after removal', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    c.onCancel(() => calls.push('a'));
    c.onCancel(removed);
    c.offCancel(removed);
    c.cancel();
    c.cancel();
    c.onCancel(() => calls.push('late'));
    expect(calls).toEqual(['a', 'late']);
    expect(c.cancelled).toBe(true);
  });

  it('makes an AbortSignal that follows it, before or after the cancel', () => {
    const early = new Cancellation();
    const signal = early.signal;
    expect(signal.aborted).toBe(false);
    early.cancel();
    expect(signal.aborted).toBe(true);
    const late = new Cancellation();
    late.cancel();
    expect(late.signal.aborted).toBe(true);
  });

  it('speaks the EventEmitter dialect undici uses for signals', () => {
    const c = new Cancellation();
    let aborted = 0;
    const listener = () => aborted++;
    c.once('abort', listener);
    c.removeListener('abort', listener);
    c.on('abort', listener);
    c.cancel();
    expect(aborted).toBe(1);
    expect(c.aborted).toBe(true);
  });

  it('ends an undici request it was given as the signal', async () => {
    let closed!: () => void;
    const requestClosed = new Promise<void>((resolve) => {
      closed = resolve;
    });
    // Answers headers, then never finishes the body: only a cancel ends the exchange.
    const server = createServer((req, res) => {
      req.on('close', closed);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = new Cancellation();
      const { port } = server.address() as AddressInfo;
      const res = await request(`http://127.0.0.1:${port}/`, { signal: c as never });
      const body = res.body.text();
      c.cancel();
      await expect(body).rejects.toMatchObject({ name: 'AbortError' });
      await requestClosed;
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
