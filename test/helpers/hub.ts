import { randomBytes } from 'node:crypto';
import { readEnv } from '../../src/config/env.ts';
import { parseConfig } from '../../src/config/load.ts';
import { type RunningHub, startHub } from '../../src/server/start.ts';
import { createLogger } from '../../src/telemetry/logger.ts';

/** The first administrator every test hub creates. */
export const ADMIN = { email: 'admin@omnihub.test', password: 'admin-password-for-tests' };

/**
 * Starts a real hub on a free loopback port with an in-memory embedded database, its first administrator
 * being `ADMIN`.
 */
export async function startTestHub(config: unknown, env: Record<string, string> = {}): Promise<RunningHub> {
  const hubEnv = readEnv({
    OMNIHUB_PORT: '0',
    OMNIHUB_DATA_DIR: ':memory:',
    OMNIHUB_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    OMNIHUB_ADMIN_EMAIL: ADMIN.email,
    OMNIHUB_ADMIN_PASSWORD: ADMIN.password,
    OMNIHUB_SECRET: randomBytes(32).toString('base64url'),
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

/** Logs in through the REST API; returns the access token. */
export async function login(hub: { url: string }, email: string, password: string): Promise<string> {
  const res = await fetch(`${hub.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  if (res.status !== 200) throw new Error(`login of ${email} failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Authorization headers of the test hub's administrator. */
export async function adminHeaders(hub: { url: string }): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await login(hub, ADMIN.email, ADMIN.password)}` };
}
