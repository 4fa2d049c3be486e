import type { FastifyRequest } from 'fastify';
import { adminRoutes } from '../admin/plugin.ts';
import { AuditLog } from '../audit/log.ts';
import { auditApi } from '../audit/openapi.ts';
import { auditRoutes } from '../audit/routes.ts';
import { type AuthServices, createAuthServices, ensureFirstAdmin, wwwAuthenticate } from '../auth/index.ts';
import { authApi } from '../auth/openapi.ts';
import type { Authenticator, Principal } from '../auth/principal.ts';
import { applyConfig } from '../config/apply.ts';
import type { HubEnv } from '../config/env.ts';
import { loadConfigFile } from '../config/load.ts';
import type { HubConfig, RoleConfig, ServerConfig } from '../config/schema.ts';
import { readStoredSections } from '../config/settings.ts';
import { createHealthServices, type HealthServices } from '../health/index.ts';
import { healthApi } from '../health/openapi.ts';
import { RateLimiter } from '../ratelimit/index.ts';
import { openStore, type Store } from '../store/store.ts';
import type { Logger } from '../telemetry/logger.ts';
import { HubMetrics, metricsRoute } from '../telemetry/metrics.ts';
import { followReplicaMetrics } from '../telemetry/replica-metrics.ts';
import { setupTracing } from '../telemetry/tracing.ts';
import { createServerUpstream } from '../upstream/index.ts';
import { build, type Hub, listen } from './app.ts';
import { HubError } from './errors.ts';
import { forwardAuth } from './forward-auth.ts';
import { liveSections } from './live-sections.ts';

export interface RunningHub extends Hub {
  url: string;
  store: Store;
  auth: AuthServices;
  /** Undefined when OMNIHUB_AUDIT=off. */
  audit?: AuditLog;
  health: HealthServices;
  metrics: HubMetrics;
  limiter: RateLimiter;
  /** The first administrator's email when this start created it. */
  firstAdmin?: string;
  /** Drains and stops everything: HTTP, sessions, upstreams, store. */
  stop(): Promise<void>;
}

const LOCAL_ADMIN: Principal = Object.freeze({
  id: 'local',
  roles: Object.freeze(['admin']),
  method: 'none',
});

/** OMNIHUB_AUTH=off: only where nothing but this machine can reach the hub. */
function localAdministrator(env: HubEnv, logger: Logger): Authenticator {
  if (!isLoopback(env.host)) {
    throw new HubError(
      'CONFIG_INVALID',
      `OMNIHUB_AUTH=off is allowed only on a loopback address, not on ${env.host}`,
    );
  }
  logger.warn(
    'OMNIHUB_AUTH=off: every MCP request acts as an administrator (development and benchmarks only)',
  );
  return { authenticate: async () => LOCAL_ADMIN };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

const RELOAD_TOPICS = ['config', 'servers', 'roles'];

/**
 * The running config: the store is the source of truth, so every hub instance sees the same servers,
 * roles, rate limits, alerts and identity providers.
 */
async function configFromStore(store: Store): Promise<HubConfig> {
  const servers: Record<string, ServerConfig> = {};
  for (const record of await store.servers.list()) servers[record.name] = record.config;
  const roles: Record<string, RoleConfig> = {};
  for (const role of await store.roles.list()) {
    roles[role.name] = { description: role.description ?? undefined, allow: role.allow, deny: role.deny };
  }
  return { servers, roles, users: [], ...(await readStoredSections(store.settings)) };
}

/**
 * Starts a hub: opens the store, applies the config file if one is given (refused whole when invalid),
 * builds the app, listens, and follows config changes made by any instance.
 */
export async function startHub(
  env: HubEnv,
  logger: Logger,
  source?: string | HubConfig,
): Promise<RunningHub> {
  const file = typeof source === 'string' ? source : env.configFile;
  const fileConfig = typeof source === 'object' ? source : file ? await loadConfigFile(file) : undefined;
  const store = await openStore({ databaseUrl: env.databaseUrl, dataDir: env.dataDir, logger });
  let audit: AuditLog | undefined;
  let health: HealthServices | undefined;
  const tracing = await setupTracing(env.tracing, logger);
  /** Closed after the hub and the audit log, before the store. */
  const closers: (() => Promise<void>)[] = [() => tracing.shutdown()];
  try {
    if (env.audit === 'on') {
      audit = new AuditLog({ store, dataDir: env.dataDir, logger, retentionDays: env.auditRetentionDays });
      await audit.start(); // replays what a crash left in the spool
    } else {
      logger.warn('OMNIHUB_AUDIT=off: no audit events are recorded (development and benchmarks only)');
    }
    if (fileConfig) {
      const summary = await applyConfig(store, fileConfig, { logger });
      logger.info(
        {
          file,
          servers: summary.servers,
          roles: summary.roles,
          users: summary.users,
          settings: summary.settings,
        },
        'config applied',
      );
    }
    const sections = await readStoredSections(store.settings);
    const auth = await createAuthServices({ store, env, logger, config: sections, audit });
    const authenticator = env.auth === 'off' ? localAdministrator(env, logger) : auth.authenticator;
    const authenticate = (req: FastifyRequest) => authenticator.authenticate(req.headers);
    const healthServices = createHealthServices({
      logger,
      db: store.db,
      alerts: sections.alerts,
      authenticate,
    });
    health = healthServices;
    const metrics = new HubMetrics();
    const limiter = new RateLimiter({
      config: sections.rate_limits,
      logger: logger.child({ part: 'ratelimit' }),
      redis: env.redisUrl,
      observer: metrics,
    });
    closers.push(() => limiter.close());
    // Only state changes carry a health; drain and disable do not end a replica (its upstream closing
    // does: followReplicaMetrics drops the series then).
    healthServices.monitor.onChange((change) => {
      if (change.kind !== 'state' || change.replica === null || change.to === null) return;
      metrics.setUpstreamHealth(change.server, change.replica, change.to);
    });
    const routes = [auth.routes, health.routes, metricsRoute(metrics, { token: env.metricsToken })];
    if (audit) {
      const log = audit;
      routes.push(async (app) => {
        await app.register(auditRoutes, { audit: log, store, logger, authenticate });
      });
    }
    const firstAdmin = await ensureFirstAdmin(store, env, logger);
    // Route handlers run only after build() returned: they may read the hub through `built`.
    let built: Hub | undefined;
    const currentPolicy = () => (built as Hub).mcp.access.policy;
    const challenge = wwwAuthenticate(env.publicUrl);
    routes.push(
      async (app) => {
        await app.register(adminRoutes, {
          store,
          authenticate,
          apiKeys: auth.apiKeys,
          policy: currentPolicy,
          audit,
          logger,
          challenge,
          documented: [authApi, healthApi, ...(audit ? [auditApi] : [])],
        });
      },
      async (app) => {
        await app.register(forwardAuth, {
          authenticate,
          policy: currentPolicy,
          isServerEnabled: (name) => (built as Hub).mcp.hasServer(name),
          challenge,
          audit,
          logger,
        });
      },
    );
    const hub = await build({
      env,
      logger,
      config: await configFromStore(store),
      createUpstream: health.watchUpstreams(followReplicaMetrics(metrics, createServerUpstream)),
      store,
      authenticator,
      audit,
      limiter,
      metrics,
      routes,
    });
    const applySections = liveSections({ limiter, health: healthServices, auth, logger }, sections);
    // Everything is re-read together: the reload is cheap and ordering between topics is moot. Alerts
    // go first, so a server added by the same change is watched by the new webhooks from its start.
    const reload = async () => {
      logger.info('configuration changed; reloading servers, roles, rate limits, alerts, identity providers');
      const config = await configFromStore(store);
      await applySections(config);
      await hub.reload(config);
    };
    const offChanges = RELOAD_TOPICS.map((topic) => store.onChange(topic, reload));
    built = hub;
    metrics.setSessionCount(() => hub.mcp.sessions.size);
    const auditLog = audit;
    if (auditLog) metrics.setAuditQueueDepth(() => auditLog.stats().queued);
    const url = await listen(hub, env.port, env.host);
    let stopping: Promise<void> | undefined;
    const stop = () => {
      stopping ??= (async () => {
        for (const off of offChanges) off();
        await hub.close();
        await health?.close();
        await auth.close();
        await audit?.close();
        for (const close of closers) await close();
        await store.close();
      })();
      return stopping;
    };
    return {
      ...hub,
      url,
      store,
      auth,
      audit,
      health: healthServices,
      metrics,
      limiter,
      firstAdmin: firstAdmin.created ? firstAdmin.email : undefined,
      stop,
    };
  } catch (err) {
    await health?.close();
    await audit?.close();
    for (const close of closers) await close().catch(() => undefined);
    await store.close();
    throw err;
  }
}
