import { type Attributes, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import { HubError } from '../server/errors.ts';
import { VERSION } from '../server/version.ts';
import type { Logger } from './logger.ts';

/**
 * OpenTelemetry spans around the three steps worth seeing in a trace: authenticate, authorize and the
 * upstream call. Only the API is a dependency; spans go nowhere unless an SDK is registered (see
 * docs/observability.md), and until then the helpers call straight through at no cost.
 */
export const SPANS = {
  authenticate: 'authenticate',
  authorize: 'authorize',
  upstream: 'upstream call',
} as const;

export type SpanName = (typeof SPANS)[keyof typeof SPANS];

let enabled = false;

/** Turns the span helpers on (after an SDK registered a tracer provider) or off. */
export function enableTracing(on = true): void {
  enabled = on;
}

export function tracingEnabled(): boolean {
  return enabled;
}

const tracer = () => trace.getTracer('omnihub', VERSION);

function fail(span: Span, err: unknown): void {
  // Client errors (denied, unknown tool) are outcomes, not faults; the code is enough to tell them apart.
  if (err instanceof HubError) span.setAttribute('omnihub.error_code', err.code);
  if (!(err instanceof HubError) || err.status >= 500) {
    span.recordException(err instanceof Error ? err : new Error(String(err)));
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof HubError ? err.code : undefined });
  }
}

/**
 * Runs `fn` inside a span (the active span while it runs, so nested spans and instrumented clients
 * attach to it). Sync results stay sync. Disabled: just `fn()`.
 */
export function inSpan<T>(name: SpanName, attributes: Attributes, fn: (span?: Span) => T): T {
  if (!enabled) return fn();
  return tracer().startActiveSpan(name, { attributes }, (span) => {
    let result: T;
    try {
      result = fn(span);
    } catch (err) {
      fail(span, err);
      span.end();
      throw err;
    }
    if (result instanceof Promise) {
      return result.then(
        (value) => {
          span.end();
          return value;
        },
        (err: unknown) => {
          fail(span, err);
          span.end();
          throw err;
        },
      ) as T;
    }
    span.end();
    return result;
  });
}

/** `OMNIHUB_TRACING`: off (default); `otlp`: start the OpenTelemetry Node SDK with the OTLP exporter;
 * `global`: use a tracer provider something else registered (e.g. `node --import` instrumentation). */
export type TracingMode = 'off' | 'otlp' | 'global';

export interface TracingHandle {
  shutdown(): Promise<void>;
}

/** The optional packages `otlp` needs; installed by the operator, never required by the hub. */
const SDK_PACKAGE = '@opentelemetry/sdk-node';
const EXPORTER_PACKAGE = '@opentelemetry/exporter-trace-otlp-http';

interface NodeSdk {
  start(): void;
  shutdown(): Promise<void>;
}

/**
 * Sets tracing up for `mode`. The SDK reads the standard OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT,
 * OTEL_SERVICE_NAME, ...). A missing SDK is a warning, never a failed start.
 */
export async function setupTracing(mode: TracingMode, logger: Logger): Promise<TracingHandle> {
  const none: TracingHandle = { shutdown: async () => undefined };
  if (mode === 'off') return none;
  if (mode === 'global') {
    enableTracing();
    logger.info('tracing: using the registered OpenTelemetry tracer provider');
    return { shutdown: async () => enableTracing(false) };
  }
  try {
    const sdkModule = (await import(SDK_PACKAGE)) as { NodeSDK: new (options: object) => NodeSdk };
    const exporterModule = (await import(EXPORTER_PACKAGE)) as { OTLPTraceExporter: new () => unknown };
    const sdk = new sdkModule.NodeSDK({
      serviceName: process.env.OTEL_SERVICE_NAME ?? 'omnihub',
      traceExporter: new exporterModule.OTLPTraceExporter(),
    });
    sdk.start();
    enableTracing();
    logger.info('tracing: exporting spans over OTLP');
    return {
      shutdown: async () => {
        enableTracing(false);
        await sdk.shutdown();
      },
    };
  } catch (err) {
    logger.warn(
      { err: (err as Error).message },
      `tracing: OMNIHUB_TRACING=otlp needs ${SDK_PACKAGE} and ${EXPORTER_PACKAGE} installed; tracing stays off`,
    );
    return none;
  }
}

// ---- the hub's three spans, with their attributes (what docs/observability.md lists) -----------------

/** `authenticate` around resolving credentials. */
export function traceAuthenticate<T>(fn: () => Promise<T>): Promise<T> {
  return inSpan(SPANS.authenticate, {}, fn);
}

/** `authorize` around a policy decision; records the decision on the span. */
export function traceAuthorize<T extends { allow: boolean }>(
  server: string,
  tool: string,
  decide: () => T,
): T {
  if (!enabled) return decide();
  return inSpan(SPANS.authorize, { 'mcp.server': server, 'mcp.tool': tool }, (span) => {
    const decision = decide();
    span?.setAttribute('omnihub.decision', decision.allow ? 'allow' : 'deny');
    return decision;
  });
}

/** `upstream call` around a request to an upstream; `replica()` is read when it settles. */
export function traceUpstream<T>(
  method: string,
  server: string,
  call: () => Promise<T>,
  replica?: () => string | undefined,
): Promise<T> {
  if (!enabled) return call();
  return inSpan(SPANS.upstream, { 'mcp.method': method, 'mcp.server': server }, (span) => {
    const note = () => {
      const r = replica?.();
      if (r !== undefined) span?.setAttribute('omnihub.replica', r);
    };
    return call().then(
      (value) => {
        note();
        return value;
      },
      (err: unknown) => {
        note();
        throw err;
      },
    );
  });
}
