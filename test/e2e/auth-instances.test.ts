/**
 * Two hub instances on one PostgreSQL schema: a change made on one (revoke a key, disable a user,
 * change a role, log out, rotate or disable a signing key) is enforced by the other within one second.
 * Polls with a deadline; the deadline is the requirement, nothing else about timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthServices } from '../../src/auth/index.ts';
import { createAuthServices } from '../../src/auth/index.ts';
import {
  type AuthFixture,
  authFixture,
  bearer,
  createUser,
  PUBLIC_URL,
} from '../../src/auth/test-support.ts';
import { HubError } from '../../src/server/errors.ts';
import type { Store } from '../../src/store/store.ts';
import { backends } from '../../src/store/test-backends.ts';
import { silentLogger } from '../../src/telemetry/logger.ts';

const postgres = backends.find((b) => b.kind === 'postgres');
const DEADLINE_MS = 1_000;

/** Resolves once `check` passes; fails if it still does not after the deadline. */
async function within(deadlineMs: number, check: () => Promise<void>): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe.skipIf(!postgres)('identity changes across hub instances (PostgreSQL)', () => {
  let a: AuthFixture;
  let storeB: Store;
  let b: AuthServices;
  let userId: string;

  const accepted = async (auth: AuthServices, token: string) => {
    await auth.authenticator.authenticate(bearer(token));
  };
  const refused = async (auth: AuthServices, token: string) => {
    const err = await auth.authenticator.authenticate(bearer(token)).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(err instanceof HubError) || err.code !== 'UNAUTHENTICATED') throw new Error('still accepted');
  };

  beforeAll(async () => {
    a = await authFixture(postgres as NonNullable<typeof postgres>);
    storeB = await a.database.open();
    b = await createAuthServices({
      store: storeB,
      env: { secret: a.secret, publicUrl: PUBLIC_URL },
      logger: silentLogger,
    });
    userId = await createUser(a.store, a.auth, 'dev@example.com', ['developer']);
    await a.store.notifyChange('users');
  });
  afterAll(async () => {
    await b?.close();
    await a?.dispose();
  });

  it('a key created on A works on B at once; revoked on A, B refuses it within a second', async () => {
    const { key, record } = await a.auth.apiKeys.create({ userId, name: 'shared' });
    await accepted(b, key); // B has never seen it: read once from the database
    await accepted(b, key); // then from memory
    expect(await a.auth.apiKeys.revoke(record.id)).toBe(true);
    await within(DEADLINE_MS, () => refused(b, key));
  });

  it('disabling a user on A is enforced on B within a second; a role change too', async () => {
    const { key } = await a.auth.apiKeys.create({ userId, name: 'roles' });
    expect((await b.authenticator.authenticate(bearer(key))).roles).toEqual(['developer']);

    await a.store.roles.upsert('analyst', { allow: [], deny: [] });
    await a.store.users.setRoles(userId, ['analyst']);
    await a.store.notifyChange('users');
    await within(DEADLINE_MS, async () => {
      expect((await b.authenticator.authenticate(bearer(key))).roles).toEqual(['analyst']);
    });

    await a.store.users.upsert({ email: 'dev@example.com', enabled: false });
    await a.store.notifyChange('users');
    await within(DEADLINE_MS, () => refused(b, key));

    await a.store.users.upsert({ email: 'dev@example.com', enabled: true });
    await a.store.notifyChange('users');
    await within(DEADLINE_MS, () => accepted(b, key));
  });

  it('a logout on A ends the session’s access token on B within a second', async () => {
    const pair = await a.auth.tokens.issue(userId);
    await accepted(b, pair.access_token);
    const session = await a.auth.tokens.sessionOf(pair.refresh_token);
    await a.auth.tokens.revokeSession(session?.sessionId as string);
    await within(DEADLINE_MS, () => refused(b, pair.access_token));
  });

  it('a refresh token rotated on A is spent on B too (reuse is detected across instances)', async () => {
    const pair = await a.auth.tokens.issue(userId);
    const next = await b.tokens.refresh(pair.refresh_token);
    await expect(a.auth.tokens.refresh(pair.refresh_token)).rejects.toMatchObject({ reason: 'reused' });
    await expect(b.tokens.refresh(next.refresh_token)).rejects.toMatchObject({ reason: 'revoked' });
    await within(DEADLINE_MS, () => refused(b, next.access_token));
  });

  it('signing keys rotated on A verify on B; a key disabled on A stops verifying on B', async () => {
    const before = await a.auth.tokens.issue(userId);
    await accepted(b, before.access_token);
    const oldKid = a.auth.keyRing.active.kid;
    await a.auth.keyRing.rotate();
    const after = await a.auth.tokens.issue(userId);
    await within(DEADLINE_MS, () => accepted(b, after.access_token));
    // B signs with the new key as well.
    await within(DEADLINE_MS, async () => {
      expect(b.keyRing.active.kid).toBe(a.auth.keyRing.active.kid);
    });
    await accepted(b, before.access_token); // retired: still verifies
    await a.auth.keyRing.setState(oldKid, 'disabled');
    await within(DEADLINE_MS, () => refused(b, before.access_token));
  });
});
