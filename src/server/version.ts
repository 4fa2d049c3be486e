import { createRequire } from 'node:module';

/** The package version, read once at start. */
export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string })
  .version;
