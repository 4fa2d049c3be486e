import type { AuthServices } from '../auth/index.ts';
import type { StoredSections } from '../config/settings.ts';
import type { HealthServices } from '../health/services.ts';
import type { RateLimiter } from '../ratelimit/limiter.ts';
import type { Logger } from '../telemetry/logger.ts';

export interface LiveSectionTargets {
  limiter: Pick<RateLimiter, 'setConfig'>;
  health: Pick<HealthServices, 'setAlerts'>;
  auth: Pick<AuthServices, 'setIdentityProviders'>;
  logger: Logger;
}

/**
 * Applies the rate limits, alert webhooks and identity providers of each reloaded config, each only
 * when it changed: every config change reloads (a role edit too), and replacing the alert notifier
 * drops alerts still settling. `initial` is what the limiter, the health services and the
 * authenticator were built with.
 */
export function liveSections(
  targets: LiveSectionTargets,
  initial: StoredSections,
): (next: StoredSections) => Promise<void> {
  // Both sides are read from the store and parsed the same way, so equal configs serialise equally.
  let rateLimits = JSON.stringify(initial.rate_limits ?? null);
  let alerts = JSON.stringify(initial.alerts ?? null);
  let identityProviders = JSON.stringify(initial.identity_providers ?? []);
  return async (next) => {
    const nextRateLimits = JSON.stringify(next.rate_limits ?? null);
    if (nextRateLimits !== rateLimits) {
      rateLimits = nextRateLimits;
      targets.limiter.setConfig(next.rate_limits);
      targets.logger.info({ enabled: next.rate_limits?.enabled ?? false }, 'rate limits reloaded');
    }
    const nextAlerts = JSON.stringify(next.alerts ?? null);
    if (nextAlerts !== alerts) {
      alerts = nextAlerts;
      await targets.health.setAlerts(next.alerts);
      targets.logger.info({ webhooks: next.alerts?.webhooks.length ?? 0 }, 'alert webhooks reloaded');
    }
    const nextIdentityProviders = JSON.stringify(next.identity_providers ?? []);
    if (nextIdentityProviders !== identityProviders) {
      identityProviders = nextIdentityProviders;
      // A provider whose settings did not change keeps its cached keys (idp.ts).
      targets.auth.setIdentityProviders(next.identity_providers ?? []);
      targets.logger.info(
        { issuers: (next.identity_providers ?? []).map((p) => p.issuer) },
        'identity providers reloaded',
      );
    }
  };
}
