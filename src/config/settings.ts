import { z } from 'zod';
import { rateLimitsSchema } from '../ratelimit/config.ts';
import { HubError } from '../server/errors.ts';
import type { SettingsRepository } from '../store/settings.ts';
import { alertsSchema, type HubConfig, identityProviderSchema } from './schema.ts';

/**
 * Config sections the store keeps whole in its settings table, so that applying a file changes them on
 * every instance without a restart (servers, roles and users have tables of their own).
 */
const SECTION_SCHEMAS = {
  rate_limits: rateLimitsSchema,
  alerts: alertsSchema,
  identity_providers: z.array(identityProviderSchema),
} as const;

export type StoredSection = keyof typeof SECTION_SCHEMAS;
export const STORED_SECTIONS = Object.keys(SECTION_SCHEMAS) as StoredSection[];
export type StoredSections = Pick<HubConfig, StoredSection>;

/**
 * The stored sections, validated again: the schema fills defaults added since they were written, and a
 * value this version cannot read is refused (naming it) rather than half applied.
 */
export async function readStoredSections(settings: SettingsRepository): Promise<StoredSections> {
  const sections: StoredSections = {};
  for (const name of STORED_SECTIONS) {
    const value = await settings.get(name);
    if (value === undefined) continue;
    const parsed = SECTION_SCHEMAS[name].safeParse(value);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${[name, ...i.path].join('.')}: ${i.message}`);
      throw new HubError(
        'CONFIG_INVALID',
        `The stored ${name} section is invalid:\n  ${problems.join('\n  ')}`,
        {
          data: { problems },
        },
      );
    }
    Object.assign(sections, { [name]: parsed.data });
  }
  return sections;
}
