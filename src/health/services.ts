import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Principal } from '../auth/principal.ts';
import type { AlertsConfig, ServerConfig } from '../config/schema.ts';
import type { Database } from '../store/schema.ts';
import type { Logger } from '../telemetry/logger.ts';
import { isResilientUpstream, type ServerUpstream } from '../upstream/types.ts';
import { AlertNotifier } from './alerts.ts';
import { HealthHistory } from './history.ts';
import { HealthMonitor } from './monitor.ts';
import { healthRoutes } from './routes.ts';

/** The shape of the hub's upstream factory (src/mcp/hub.ts `UpstreamFactory`). */
export type UpstreamFactoryLike = (name: string, config: ServerConfig, logger: Logger) => ServerUpstream;

export interface HealthServicesOptions {
  logger: Logger;
  /** The store's database, for the history table; without it history is not kept. */
  db?: Kysely<Database>;
  /** The `alerts` section of the config file; none = no webhooks. */
  alerts?: AlertsConfig;
  /** Resolves the caller of the health API (only administrators get through). */
  authenticate: (req: FastifyRequest) => Promise<Principal>;
}

export interface HealthServices {
  monitor: HealthMonitor;
  /** Wraps the upstream factory: every upstream it creates is watched until it is closed. */
  watchUpstreams(factory: UpstreamFactoryLike): UpstreamFactoryLike;
  /** Registers the health API: pass it in `BuildOptions.routes`. */
  routes(app: FastifyInstance): Promise<void>;
  /** Replaces the alert configuration (pending alerts of the old one are dropped). */
  setAlerts(config: AlertsConfig | undefined): Promise<void>;
  /** Stops probes, flushes history, finishes deliveries under way (bounded). Call after the hub closed. */
  close(): Promise<void>;
}

/** The health monitor, its history, alerts and API, ready to plug into build(). */
export function createHealthServices(options: HealthServicesOptions): HealthServices {
  const { logger } = options;
  const history = options.db === undefined ? undefined : new HealthHistory(options.db, logger);
  const monitor = new HealthMonitor({ logger, history });
  let notifier: AlertNotifier | undefined;
  monitor.onChange((change) => notifier?.handle(change));

  const setAlerts = async (config: AlertsConfig | undefined) => {
    const old = notifier;
    notifier =
      config !== undefined && config.webhooks.length > 0 ? new AlertNotifier({ config, logger }) : undefined;
    await old?.close();
  };
  void setAlerts(options.alerts);

  return {
    monitor,
    watchUpstreams: (factory) => (name, config, log) => {
      const upstream = factory(name, config, log);
      if (isResilientUpstream(upstream)) monitor.watch(name, upstream, config.health_check);
      return upstream;
    },
    routes: async (app) => {
      await app.register(healthRoutes, { monitor, authenticate: options.authenticate });
    },
    setAlerts,
    close: async () => {
      await notifier?.close();
      await monitor.close();
    },
  };
}
