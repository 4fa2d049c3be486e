/**
 * Secrets never reach the logs or the audit trail: run every auth flow with a trace-level logger and a
 * recording audit sink, then look for any password, API key, refresh token or JWT in what they got.
 */
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { AuditInput } from '../audit/types.ts';
import { backends } from '../store/test-backends.ts';
import { createAuthServices } from './index.ts';
import { bearer, createUser, PUBLIC_URL } from './test-support.ts';

const PASSWORD = 'a secret sign-in password';

describe('no secrets in logs or audit', () => {
  it('logs and audits every flow without a password, key, refresh token or JWT', async () => {
    const database = await (backends[0] as (typeof backends)[number]).fresh();
    const store = await database.open();
    const lines: string[] = [];
    const events: AuditInput[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => lines.push(line) });
    const auth = await createAuthServices({
      store,
      env: { secret: randomBytes(32).toString('base64url'), publicUrl: PUBLIC_URL },
      logger,
      audit: { record: (e) => events.push(e) },
    });
    const app = Fastify({ logger: false });
    await auth.routes(app);
    try {
      const userId = await createUser(store, auth, 'dev@example.com', [], PASSWORD);
      const secrets: string[] = [PASSWORD];
      const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
        app.inject({ method: 'POST', url, payload, headers });

      const login = (
        await post('/api/v1/auth/login', { email: 'dev@example.com', password: PASSWORD })
      ).json();
      secrets.push(login.access_token, login.refresh_token);
      await post('/api/v1/auth/login', { email: 'dev@example.com', password: `${PASSWORD}!` });
      const refreshed = (await post('/api/v1/auth/refresh', { refresh_token: login.refresh_token })).json();
      secrets.push(refreshed.access_token, refreshed.refresh_token);
      await post('/api/v1/auth/refresh', { refresh_token: login.refresh_token }); // reuse: logged as a warning
      const { key, record } = await auth.apiKeys.create({ userId, name: 'k' });
      secrets.push(key);
      await auth.authenticator.authenticate(bearer(key));
      await auth.authenticator.authenticate(bearer(`${key.slice(0, -1)}x`)).catch(() => {});
      await auth.apiKeys.revoke(record.id);
      await auth.authenticator.authenticate(bearer(key)).catch(() => {});
      await post('/api/v1/auth/logout', {}, bearer(refreshed.access_token));

      const everything = lines.join('\n') + JSON.stringify(events);
      expect(lines.length).toBeGreaterThan(0);
      expect(events.length).toBeGreaterThan(4);
      for (const secret of secrets) expect(everything).not.toContain(secret);
      expect(everything).not.toMatch(/omh_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}/);
      expect(everything).not.toMatch(/omhrt_[0-9A-Za-z]{43}/);
      expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    } finally {
      await app.close();
      await auth.close();
      await database.dispose();
    }
  });
});
