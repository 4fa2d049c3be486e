import { expect, it } from 'vitest';
import { type AlertsConfig, type IdentityProviderConfig, identityProviderSchema } from '../config/schema.ts';
import type { RateLimitsConfig } from '../ratelimit/config.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { liveSections } from './live-sections.ts';

const limits = (rate: number) => ({
  enabled: true,
  per_key: false,
  roles: {},
  servers: {},
  default: { rate, per: '1s' },
});
const alerts = (url: string): AlertsConfig => ({
  settle_ms: 0,
  cooldown_ms: 0,
  retries: 0,
  webhooks: [{ url, format: 'json', headers: {} }],
});

it('swaps in only the sections that changed', async () => {
  const limiterConfigs: (RateLimitsConfig | undefined)[] = [];
  const alertConfigs: (AlertsConfig | undefined)[] = [];
  const apply = liveSections(
    {
      limiter: { setConfig: (c) => limiterConfigs.push(c) },
      health: { setAlerts: async (c) => void alertConfigs.push(c) },
      auth: { setIdentityProviders: () => expect.unreachable('identity providers did not change') },
      logger: silentLogger,
    },
    { rate_limits: limits(5), alerts: alerts('https://a.example/hook') },
  );

  // A reload caused by something else (a role edit): the notifier keeps its pending alerts.
  await apply({ rate_limits: limits(5), alerts: alerts('https://a.example/hook') });
  expect(limiterConfigs).toEqual([]);
  expect(alertConfigs).toEqual([]);

  await apply({ rate_limits: limits(9), alerts: alerts('https://a.example/hook') });
  expect(limiterConfigs).toEqual([limits(9)]);
  expect(alertConfigs).toEqual([]);

  await apply({ rate_limits: limits(9), alerts: alerts('https://b.example/hook') });
  expect(alertConfigs).toEqual([alerts('https://b.example/hook')]);

  await apply({});
  expect(limiterConfigs).toEqual([limits(9), undefined]);
  expect(alertConfigs).toEqual([alerts('https://b.example/hook'), undefined]);
});

it('swaps identity providers only when they changed; an empty list removes them', async () => {
  const provider = identityProviderSchema.parse({
    issuer: 'https://idp.example',
    jwks_url: 'https://idp.example/jwks',
    audience: 'omnihub',
  });
  const swaps: (readonly IdentityProviderConfig[])[] = [];
  const apply = liveSections(
    {
      limiter: { setConfig: () => {} },
      health: { setAlerts: async () => {} },
      auth: { setIdentityProviders: (c) => void swaps.push(c) },
      logger: silentLogger,
    },
    {},
  );
  await apply({});
  expect(swaps).toEqual([]);
  await apply({ identity_providers: [provider] });
  await apply({ identity_providers: [provider] });
  expect(swaps).toEqual([[provider]]);
  await apply({});
  expect(swaps).toEqual([[provider], []]);
});
