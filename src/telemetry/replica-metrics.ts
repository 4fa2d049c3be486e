import type { ServerConfig } from '../config/schema.ts';
import {
  type BreakerState,
  isResilientUpstream,
  type ResilientUpstream,
  type ServerUpstream,
} from '../upstream/types.ts';
import type { Logger } from './logger.ts';
import type { BreakerState as BreakerLabel, HubMetrics } from './metrics.ts';

type UpstreamFactory = (name: string, config: ServerConfig, logger: Logger) => ServerUpstream;

/** Prometheus label values use `_`; the upstream layer says `half-open`. */
const BREAKER_LABEL: Record<BreakerState, BreakerLabel> = {
  closed: 'closed',
  open: 'open',
  'half-open': 'half_open',
};

/**
 * Wraps the upstream factory so the per-replica gauges follow every upstream it creates:
 * `omnihub_upstream_circuit_breaker` is set for each replica at creation and on every breaker transition,
 * and a replica's series are dropped when its upstream closes (server removed, or replaced by one with
 * fewer replicas).
 */
export function followReplicaMetrics(metrics: HubMetrics, factory: UpstreamFactory): UpstreamFactory {
  /** The live upstream of each server: a replaced one must not overwrite or drop its successor's series. */
  const current = new Map<string, ResilientUpstream>();

  return (name, config, logger) => {
    const upstream = factory(name, config, logger);
    if (!isResilientUpstream(upstream)) return upstream;
    current.set(name, upstream);
    for (const r of upstream.replicaStatus()) metrics.setBreakerState(name, r.id, BREAKER_LABEL[r.breaker]);

    const offBreaker = upstream.onBreakerChange((replica, state) => {
      if (current.get(name) === upstream) metrics.setBreakerState(name, replica, BREAKER_LABEL[state]);
    });
    const offState = upstream.onStateChange((state) => {
      if (state !== 'closed') return;
      offBreaker();
      offState();
      const successor = current.get(name);
      if (successor === upstream) current.delete(name);
      const kept = new Set(
        successor === undefined || successor === upstream ? [] : successor.replicaStatus().map((r) => r.id),
      );
      for (const r of upstream.replicaStatus()) {
        if (!kept.has(r.id)) metrics.forgetReplica(name, r.id);
      }
    });
    return upstream;
  };
}
