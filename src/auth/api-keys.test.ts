import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HubError } from '../server/errors.ts';
import { backends } from '../store/test-backends.ts';
import { silentLogger } from '../telemetry/logger.ts';
import { generateApiKey, parseApiKey } from './api-key-format.ts';
import { ApiKeyService } from './api-keys.ts';
import { checksum62 } from './crypto.ts';
import { type AuthFixture, authFixture, bearer, createUser } from './test-support.ts';

async function rejects(fixture: AuthFixture, headers: Record<string, string>): Promise<HubError> {
  const err = await fixture.auth.authenticator.authenticate(headers).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HubError);
  expect((err as HubError).code).toBe('UNAUTHENTICATED');
  return err as HubError;
}

describe('API key format', () => {
  it('round-trips and refuses a single changed character', () => {
    const { key, id, secret } = generateApiKey();
    expect(key).toMatch(/^omh_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}_[0-9A-Za-z]{6}$/);
    expect(parseApiKey(key)).toEqual({ id, secret });
    const flipped = key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);
    expect(parseApiKey(flipped)).toBeUndefined();
    expect(parseApiKey(`${key}x`)).toBeUndefined();
    expect(checksum62('x')).toHaveLength(6);
  });
});

describe.each(backends)('API keys on $kind', (backend) => {
  let f: AuthFixture;
  let alice: string;
  let bob: string;

  beforeEach(async () => {
    f = await authFixture(backend);
    alice = await createUser(f.store, f.auth, 'alice@example.com', ['developer']);
    bob = await createUser(f.store, f.auth, 'bob@example.com', ['analyst']);
  });
  afterEach(async () => {
    await f.dispose();
  });

  it('authenticates a new key as its owner, with its scopes', async () => {
    const scopes = [{ server: 'database', tools: 'analyze_sql' }];
    const { key, record } = await f.auth.apiKeys.create({ userId: alice, name: 'laptop', scopes });
    expect(record).not.toHaveProperty('hash');
    const principal = await f.auth.authenticator.authenticate(bearer(key));
    expect(principal).toMatchObject({
      id: `user:${alice}`,
      userId: alice,
      email: 'alice@example.com',
      roles: ['developer'],
      method: 'api_key',
      keyId: record.id,
    });
    expect(principal.scopes).toEqual([{ server: 'database', tools: 'analyze_sql' }]);
    // The scheme is case-insensitive.
    await expect(
      f.auth.authenticator.authenticate({ authorization: `bearer ${key}` }),
    ).resolves.toMatchObject({
      userId: alice,
    });
  });

  it('never stores or lists the secret', async () => {
    const { key, record } = await f.auth.apiKeys.create({ userId: alice, name: 'ci' });
    const secret = parseApiKey(key)?.secret as string;
    const rows = await f.store.db.selectFrom('api_keys').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(secret);
    const listed = await f.auth.apiKeys.list(alice);
    expect(listed.map((k) => k.id)).toEqual([record.id]);
    expect(JSON.stringify(listed)).not.toContain(secret);
    expect(listed[0]).not.toHaveProperty('hash');
  });

  it('refuses a wrong checksum, a wrong secret, another user’s key id, and garbage', async () => {
    const { key } = await f.auth.apiKeys.create({ userId: alice, name: 'a' });
    const { id } = parseApiKey(key) as { id: string };
    const body = key.slice(0, -7);
    const badSum = `${body}_${checksum62(body) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
    await rejects(f, bearer(badSum));
    // Bob's key id with a made-up secret and a correct checksum: still nothing.
    const { key: bobKey } = await f.auth.apiKeys.create({ userId: bob, name: 'b' });
    const bobId = (parseApiKey(bobKey) as { id: string }).id;
    const forged = `omh_${bobId}_${'x'.repeat(32)}`;
    await rejects(f, bearer(`${forged}_${checksum62(forged)}`));
    // Alice's secret under Bob's id.
    const secret = (parseApiKey(key) as { secret: string }).secret;
    const swapped = `omh_${bobId}_${secret}`;
    await rejects(f, bearer(`${swapped}_${checksum62(swapped)}`));
    expect(id).not.toBe(bobId);
    await rejects(f, bearer('omh_nope'));
    await rejects(f, bearer('not-a-token'));
    await rejects(f, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` });
    const missing = await f.auth.authenticator.authenticate({}).catch((e: HubError) => e);
    expect((missing as HubError).message).toMatch(/Authentication required/);
  });

  it('refuses a revoked key at once, and revocation is idempotent', async () => {
    const { key, record } = await f.auth.apiKeys.create({ userId: alice, name: 'a' });
    await f.auth.authenticator.authenticate(bearer(key));
    expect(await f.auth.apiKeys.revoke(record.id, { userId: bob })).toBe(false); // not Bob's
    await f.auth.authenticator.authenticate(bearer(key));
    expect(await f.auth.apiKeys.revoke(record.id)).toBe(true);
    await rejects(f, bearer(key));
    expect(await f.auth.apiKeys.revoke(record.id)).toBe(false);
    // A reload (another instance's notification) does not bring it back.
    await f.auth.reload();
    await rejects(f, bearer(key));
  });

  it('refuses an expired key', async () => {
    const { key, record } = await f.auth.apiKeys.create({
      userId: alice,
      name: 'short',
      expiresAt: new Date(Date.now() + 60_000),
    });
    await f.auth.authenticator.authenticate(bearer(key));
    await f.store.db
      .updateTable('api_keys')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', record.id)
      .execute();
    await f.auth.reload();
    await rejects(f, bearer(key));
  });

  it('refuses a key the moment it expires, even when it verified from the cache before', async () => {
    let clock = Date.now();
    const service = new ApiKeyService({
      store: f.store,
      hashKey: randomBytes(32),
      logger: silentLogger,
      now: () => clock,
    });
    try {
      const { key } = await service.create({ userId: alice, name: 't', expiresAt: new Date(clock + 60_000) });
      expect(await service.verify(key)).toMatchObject({ userId: alice });
      expect(await service.verify(key)).toMatchObject({ userId: alice }); // cached
      clock += 60_001;
      expect(await service.verify(key)).toBeUndefined();
    } finally {
      await service.close();
    }
  });

  it('refuses the key of a disabled or deleted user on the next request', async () => {
    const { key } = await f.auth.apiKeys.create({ userId: alice, name: 'a' });
    await f.auth.authenticator.authenticate(bearer(key));
    await f.store.users.upsert({ email: 'alice@example.com', enabled: false });
    await f.auth.users.load();
    await rejects(f, bearer(key));
    await f.store.users.upsert({ email: 'alice@example.com', enabled: true });
    await f.auth.users.load();
    await f.auth.authenticator.authenticate(bearer(key));
    await f.store.users.remove(alice);
    await f.auth.reload();
    await rejects(f, bearer(key));
  });

  it('validates input and changes nothing on bad input', async () => {
    const bad = [
      { userId: alice, name: '' },
      { userId: alice, name: 'x'.repeat(201) },
      { userId: alice, name: 'a', scopes: [] },
      { userId: alice, name: 'a', scopes: [{ server: 'db', tools: 'x', bogus: 1 }] },
      { userId: alice, name: 'a', expiresAt: new Date(Date.now() - 1000) },
      { userId: '00000000-0000-4000-8000-000000000000', name: 'a' },
      { userId: 'not-a-uuid', name: 'a' },
    ];
    for (const input of bad) {
      await expect(f.auth.apiKeys.create(input as never)).rejects.toBeInstanceOf(HubError);
    }
    expect(await f.auth.apiKeys.list()).toEqual([]);
  });

  it('records last use off the request path', async () => {
    const { key, record } = await f.auth.apiKeys.create({ userId: alice, name: 'a' });
    expect(record.lastUsedAt).toBeNull();
    await f.auth.authenticator.authenticate(bearer(key));
    await f.auth.apiKeys.flushUsage();
    expect((await f.auth.apiKeys.get(record.id))?.lastUsedAt).toBeInstanceOf(Date);
  });

  it('audits creation and revocation without the secret', async () => {
    const events: unknown[] = [];
    await f.dispose();
    f = await authFixture(backend, { audit: { record: (e) => events.push(e) } });
    alice = await createUser(f.store, f.auth, 'alice@example.com');
    const { key, record } = await f.auth.apiKeys.create({ userId: alice, name: 'a' }, { id: 'tester' });
    await f.auth.apiKeys.revoke(record.id, { actor: { id: 'tester' } });
    expect(events).toMatchObject([
      { type: 'auth', action: 'key_created', target: record.id, outcome: 'ok' },
      { type: 'auth', action: 'key_revoked', target: record.id, outcome: 'ok' },
    ]);
    expect(JSON.stringify(events)).not.toContain((parseApiKey(key) as { secret: string }).secret);
  });
});
