import { readEnv } from '../../src/config/env.ts';
import { parseConfig } from '../../src/config/load.ts';
import { type RunningHub, startHub } from '../../src/server/start.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

/** Starts a real hub on a free loopback port with an in-memory embedded database. */
export async function startTestHub(config: unknown, env: Record<string, string> = {}): Promise<RunningHub> {
  const hubEnv = readEnv({
    OMNIHUB_PORT: '0',
    OMNIHUB_DATA_DIR: ':memory:',
    OMNIHUB_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...env,
  });
  return startHub(hubEnv, createLogger({ level: hubEnv.logLevel }), parseConfig(config, 'test config'));
}

/** Waits until `check` passes, polling; fails with the last error after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}
