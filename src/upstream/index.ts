import type { ServerConfig } from '../config/schema.ts';
import type { Logger } from '../telemetry/logger.ts';
import { ServerUpstreamImpl, type ServerUpstreamOptions } from './server-upstream.ts';
import type { ResilientUpstream } from './types.ts';

export { type BreakerOptions, CircuitBreaker } from './breaker.ts';
export { HUB_CLIENT_CAPABILITIES, JsonRpcConnection, KNOWN_PROTOCOL_VERSIONS } from './connection.ts';
export { retryPolicy } from './retry-policy.ts';
export type { ServerUpstreamOptions } from './server-upstream.ts';
export { isNotSent, NotSentError } from './transport.ts';
export type * from './types.ts';
export { isResilientUpstream } from './types.ts';

/** The upstream for one configured server: its replicas, supervised, behind one face. Call start(). */
export function createServerUpstream(
  name: string,
  config: ServerConfig,
  logger: Logger,
  options?: ServerUpstreamOptions,
): ResilientUpstream {
  return new ServerUpstreamImpl(name, config, logger, options);
}
