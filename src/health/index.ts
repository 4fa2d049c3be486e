export { AlertNotifier, type AlertNotifierOptions, type AlertPayload, slackText } from './alerts.ts';
export { HealthHistory, type HistoryQuery } from './history.ts';
export { HealthMonitor, type HealthMonitorOptions, serverState } from './monitor.ts';
export { type HealthRoutesOptions, healthRoutes } from './routes.ts';
export {
  createHealthServices,
  type HealthServices,
  type HealthServicesOptions,
  type UpstreamFactoryLike,
} from './services.ts';
export type * from './types.ts';
