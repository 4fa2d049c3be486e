import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { HubMetrics, metricsRoute } from './metrics.ts';

/** The value of one sample line, e.g. `name{a="b"} 3`. */
function sample(text: string, line: string): number | undefined {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('HubMetrics', () => {
  it('counts requests and histograms their latency by server and tool', async () => {
    const metrics = new HubMetrics({ defaultMetrics: false });
    metrics.observeRequest('tools/call', 'database', 'analyze_sql', 'allow', 'ok', 0.0004);
    metrics.observeRequest('tools/call', 'database', 'analyze_sql', 'allow', 'ok', 0.2);
    metrics.observeRequest('tools/call', 'database', 'analyze_sql', 'deny', 'denied', 0.0001);
    metrics.observeRequest('tools/list', '', '', 'none', 'ok', 40);
    const text = await metrics.render();
    const series = 'method="tools/call",server="database",tool="analyze_sql"';
    expect(sample(text, `omnihub_mcp_requests_total{${series},decision="allow",outcome="ok"}`)).toBe(2);
    expect(sample(text, `omnihub_mcp_requests_total{${series},decision="deny",outcome="denied"}`)).toBe(1);
    expect(text).toContain('# TYPE omnihub_mcp_requests_total counter');
    expect(text).toContain('# TYPE omnihub_mcp_request_duration_seconds histogram');
    expect(sample(text, `omnihub_mcp_request_duration_seconds_bucket{${series},le="0.0005"}`)).toBe(2);
    expect(sample(text, `omnihub_mcp_request_duration_seconds_bucket{${series},le="0.1"}`)).toBe(2);
    expect(sample(text, `omnihub_mcp_request_duration_seconds_bucket{${series},le="0.25"}`)).toBe(3);
    expect(sample(text, `omnihub_mcp_request_duration_seconds_bucket{${series},le="+Inf"}`)).toBe(3);
    expect(sample(text, `omnihub_mcp_request_duration_seconds_count{${series}}`)).toBe(3);
    expect(sample(text, `omnihub_mcp_request_duration_seconds_sum{${series}}`)).toBeCloseTo(0.2005, 6);
    const list = 'method="tools/list",server="",tool=""';
    // Beyond the last bucket (30 s): only +Inf counts it.
    expect(sample(text, `omnihub_mcp_request_duration_seconds_bucket{${list},le="30"}`)).toBe(0);
    expect(sample(text, `omnihub_mcp_request_duration_seconds_bucket{${list},le="+Inf"}`)).toBe(1);
  });

  it('reports in-flight, health, breaker, rate limits, sessions, audit queue and draining', async () => {
    const metrics = new HubMetrics({ defaultMetrics: false });
    let sessions = 3;
    metrics.setSessionCount(() => sessions);
    metrics.setAuditQueueDepth(() => 17);
    metrics.requestStarted();
    metrics.requestStarted();
    metrics.requestFinished();
    metrics.setUpstreamHealth('database', '0', 'healthy');
    metrics.setUpstreamHealth('database', '0', 'down');
    metrics.setBreakerState('database', '0', 'open');
    metrics.rateLimited('tool');
    metrics.rateLimited('tool');
    metrics.rateLimited('principal');
    metrics.rateLimitShared(false);
    metrics.rateLimitFallback();
    metrics.setDraining(true);
    let text = await metrics.render();
    expect(sample(text, 'omnihub_mcp_requests_in_flight')).toBe(1);
    expect(sample(text, 'omnihub_mcp_sessions')).toBe(3);
    expect(sample(text, 'omnihub_audit_queue_depth')).toBe(17);
    expect(sample(text, 'omnihub_upstream_health{server="database",replica="0",state="down"}')).toBe(1);
    expect(sample(text, 'omnihub_upstream_health{server="database",replica="0",state="healthy"}')).toBe(0);
    expect(sample(text, 'omnihub_upstream_circuit_breaker{server="database",replica="0",state="open"}')).toBe(
      1,
    );
    expect(
      sample(text, 'omnihub_upstream_circuit_breaker{server="database",replica="0",state="closed"}'),
    ).toBe(0);
    expect(sample(text, 'omnihub_rate_limited_total{scope="tool"}')).toBe(2);
    expect(sample(text, 'omnihub_rate_limited_total{scope="principal"}')).toBe(1);
    expect(sample(text, 'omnihub_rate_limit_redis_up')).toBe(0);
    expect(sample(text, 'omnihub_rate_limit_local_fallback_total')).toBe(1);
    expect(sample(text, 'omnihub_draining')).toBe(1);
    sessions = 0;
    metrics.forgetReplica('database', '0');
    text = await metrics.render();
    expect(sample(text, 'omnihub_mcp_sessions')).toBe(0);
    expect(text).not.toContain('replica="0"');
  });

  it('includes process metrics by default', async () => {
    const text = await new HubMetrics().render();
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });
});

describe('GET /metrics', () => {
  it('serves the text format, behind a bearer token when one is set', async () => {
    const metrics = new HubMetrics({ defaultMetrics: false });
    metrics.observeRequest('ping', '', '', 'none', 'ok', 0.001);
    const open = Fastify();
    await metricsRoute(metrics)(open);
    const res = await open.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('omnihub_mcp_requests_total{method="ping"');

    const guarded = Fastify();
    await metricsRoute(metrics, { token: 's3cret-metrics-token' })(guarded);
    expect((await guarded.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(401);
    const wrong = await guarded.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer nope' },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.body).not.toContain('omnihub_');
    const right = await guarded.inject({
      method: 'GET',
      url: '/metrics',
      headers: { authorization: 'Bearer s3cret-metrics-token' },
    });
    expect(right.statusCode).toBe(200);
    expect(right.body).toContain('omnihub_mcp_requests_total');
    await open.close();
    await guarded.close();
  });
});
