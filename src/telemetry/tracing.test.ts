import {
  type Attributes,
  type Context,
  context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../server/errors.ts';
import { silentLogger } from './logger.ts';
import {
  enableTracing,
  inSpan,
  SPANS,
  setupTracing,
  traceAuthenticate,
  traceAuthorize,
  traceUpstream,
  tracingEnabled,
} from './tracing.ts';

/** A span that keeps what it was told: what an exporter would receive. */
class RecordedSpan implements Span {
  attributes: Attributes = {};
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  exceptions: unknown[] = [];
  ended = false;
  constructor(
    readonly name: string,
    options: SpanOptions,
  ) {
    Object.assign(this.attributes, options.attributes);
  }
  spanContext(): SpanContext {
    return { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
  }
  setAttribute(key: string, value: Attributes[string]) {
    this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: Attributes) {
    Object.assign(this.attributes, attributes);
    return this;
  }
  addEvent() {
    return this;
  }
  addLink() {
    return this;
  }
  addLinks() {
    return this;
  }
  setStatus(status: SpanStatus) {
    this.status = status;
    return this;
  }
  updateName() {
    return this;
  }
  end() {
    this.ended = true;
  }
  isRecording() {
    return !this.ended;
  }
  recordException(exception: unknown) {
    this.exceptions.push(exception);
  }
}

const spans: RecordedSpan[] = [];

const recordingTracer: Tracer = {
  startSpan(name: string, options: SpanOptions = {}) {
    const span = new RecordedSpan(name, options);
    spans.push(span);
    return span;
  },
  startActiveSpan(name: string, ...rest: unknown[]) {
    const fn = rest.at(-1) as (span: Span) => unknown;
    const options = (typeof rest[0] === 'object' ? rest[0] : {}) as SpanOptions;
    const span = this.startSpan(name, options);
    return context.with(trace.setSpan(context.active() as Context, span), fn, undefined, span);
  },
} as Tracer;

const provider: TracerProvider = { getTracer: () => recordingTracer };

beforeAll(() => {
  trace.setGlobalTracerProvider(provider);
});
afterAll(() => {
  enableTracing(false);
  trace.disable();
});

describe('tracing', () => {
  it('calls straight through without spans while off', async () => {
    enableTracing(false);
    expect(inSpan(SPANS.authorize, {}, () => 42)).toBe(42);
    expect(await inSpan(SPANS.upstream, {}, async () => 'ok')).toBe('ok');
    expect(spans).toHaveLength(0);
  });

  it('wraps sync and async steps in spans, keeping sync results sync', async () => {
    enableTracing();
    const decided = inSpan(
      SPANS.authorize,
      { 'mcp.server': 'database', 'mcp.tool': 'analyze_sql' },
      () => true,
    );
    expect(decided).toBe(true);
    const called = await inSpan(SPANS.upstream, { 'mcp.server': 'database' }, async (span) => {
      span?.setAttribute('omnihub.replica', '1');
      return 'result';
    });
    expect(called).toBe('result');
    expect(spans.map((s) => [s.name, s.ended])).toEqual([
      ['authorize', true],
      ['upstream call', true],
    ]);
    expect(spans[0]?.attributes).toEqual({ 'mcp.server': 'database', 'mcp.tool': 'analyze_sql' });
    expect(spans[1]?.attributes['omnihub.replica']).toBe('1');
    expect(spans[1]?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('marks faults as errors and client errors only with their code', async () => {
    enableTracing();
    spans.length = 0;
    await expect(
      inSpan(SPANS.upstream, {}, async () => {
        throw new HubError('UPSTREAM_TIMEOUT', 'timed out');
      }),
    ).rejects.toThrow('timed out');
    expect(() =>
      inSpan(SPANS.authenticate, {}, () => {
        throw new HubError('UNAUTHENTICATED', 'Unauthorized');
      }),
    ).toThrow('Unauthorized');
    const [upstream, authn] = spans;
    expect(upstream?.status.code).toBe(SpanStatusCode.ERROR);
    expect(upstream?.exceptions).toHaveLength(1);
    expect(upstream?.attributes['omnihub.error_code']).toBe('UPSTREAM_TIMEOUT');
    expect(authn?.status.code).toBe(SpanStatusCode.UNSET);
    expect(authn?.attributes['omnihub.error_code']).toBe('UNAUTHENTICATED');
    expect(authn?.ended).toBe(true);
  });

  it('names the hub spans and records decision and replica', async () => {
    enableTracing();
    spans.length = 0;
    await traceAuthenticate(async () => 'principal');
    traceAuthorize('database', 'drop_table', () => ({ allow: false }));
    let replica: string | undefined;
    await traceUpstream(
      'tools/call',
      'database',
      async () => {
        replica = 'database#1';
        return {};
      },
      () => replica,
    );
    expect(spans.map((s) => s.name)).toEqual(['authenticate', 'authorize', 'upstream call']);
    expect(spans[1]?.attributes).toEqual({
      'mcp.server': 'database',
      'mcp.tool': 'drop_table',
      'omnihub.decision': 'deny',
    });
    expect(spans[2]?.attributes).toEqual({
      'mcp.method': 'tools/call',
      'mcp.server': 'database',
      'omnihub.replica': 'database#1',
    });
  });

  it('stays off with a warning when the OTLP SDK is not installed', async () => {
    enableTracing(false);
    const warnings: string[] = [];
    const logger = Object.create(silentLogger, {
      warn: { value: (_obj: unknown, msg: string) => warnings.push(msg) },
    });
    const handle = await setupTracing('otlp', logger);
    // Either the SDK is installed (spans exported) or a clear warning says what to install.
    if (tracingEnabled()) await handle.shutdown();
    else expect(warnings.join()).toMatch(/@opentelemetry\/sdk-node/);
    const global = await setupTracing('global', silentLogger);
    expect(tracingEnabled()).toBe(true);
    await global.shutdown();
    expect(tracingEnabled()).toBe(false);
  });
});
