// Issue 16, items 1 and 2: failure limits that hold under bursts, and a client_id nobody can
// lock out. Over HTTP, on SQLite and PostgreSQL. Sources are told apart by X-Forwarded-For
// behind one trusted proxy (ALIAS_TRUST_PROXY=1: the right-most entry is the client).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { POLICIES as CURRENT } from '../../src/throttle/throttle.js';

// The per-client ceiling is new with item 2; its numbers are named here too so this file
// also runs (and fails) on the code before it.
const POLICIES = Object.assign({ clientCeiling: { allowed: 1_000, windowMs: 10 * 60_000 } }, CURRENT);

/**
 * Runs a burst with the policy's first block lengthened to a minute, so a burst that takes
 * longer than the usual 1 s block on a busy machine cannot earn a legitimate extra try after
 * it (back-off) and the count is exact. Restored afterwards.
 */
async function withLongFirstBlock<T>(policy: { baseBlockMs: number }, run: () => Promise<T>): Promise<T> {
  const base = policy.baseBlockMs;
  policy.baseBlockMs = 60_000;
  try {
    return await run();
  } finally {
    policy.baseBlockMs = base;
  }
}

const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');

for (const kind of databaseKinds()) {
  describe(`failure limits under bursts, per client and source (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      alias = await startAlias(kind, { env: { ALIAS_TRUST_PROXY: '1' } });
    });
    after(() => alias?.close());

    const post = (path: string, form: Record<string, string>, opts: { source?: string; authorization?: string } = {}) =>
      fetch(`${alias.issuer}${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(opts.source ? { 'x-forwarded-for': opts.source } : {}),
          ...(opts.authorization ? { authorization: opts.authorization } : {}),
        },
        body: new URLSearchParams(form),
      });

    // Rule (item 1, RFC 6749 §4.3.2, §10.10): an attempt is reserved before the password is
    // checked, so 40 parallel wrong passwords get at most the allowance of checks.
    it(`40 parallel wrong passwords at the password grant: at most ${POLICIES.account.allowed} checked (400), the rest 429`, async () => {
      const { client, secret } = await alias.client({ grantTypes: ['password'], redirectUris: [] });
      const user = await alias.user();
      const answers = await withLongFirstBlock(POLICIES.account, () => Promise.all(Array.from({ length: 40 }, (_, i) => post('/api/oauth2/token',
        { grant_type: 'password', username: user.email, password: `wrong-${i}` },
        { authorization: basic(client.id, secret!), source: '192.0.2.10' }))));
      const statuses = answers.map((r) => r.status);
      const checked = statuses.filter((s) => s === 400).length;
      assert.ok(checked <= POLICIES.account.allowed, `${checked} of 40 passwords were checked`);
      assert.equal(statuses.filter((s) => s === 429).length, 40 - checked, `statuses: ${statuses.join(',')}`);
      for (const r of answers) if (r.status === 429) assert.ok(Number(r.headers.get('retry-after')) > 0);
      // The right password is refused too while the block lasts (no check at all).
      const right = await post('/api/oauth2/token', { grant_type: 'password', username: user.email, password: user.password },
        { authorization: basic(client.id, secret!), source: '192.0.2.11' });
      assert.equal(right.status, 429);
      alias.advance(60_000);
    });

    // Rule (item 1): the sign-in form shares the reserved check.
    it(`40 parallel wrong passwords at s.accounts.login: at most ${POLICIES.account.allowed} checked`, async () => {
      const user = await alias.user();
      const results = await withLongFirstBlock(POLICIES.account, () =>
        Promise.all(Array.from({ length: 40 }, (_, i) => alias.s.accounts.login(user.email, `wrong-${i}`, '192.0.2.20'))));
      const checked = results.filter((r) => !r.ok && r.reason === 'invalid').length;
      assert.ok(checked <= POLICIES.account.allowed, `${checked} of 40 passwords were checked`);
      assert.equal(results.filter((r) => !r.ok && r.reason === 'throttled').length, 40 - checked);
    });

    // Rule (item 1): client secrets are reserved before the comparison too.
    it(`40 parallel wrong client secrets from one source: at most ${POLICIES.client.allowed} compared (401), the rest 429`, async () => {
      const { client } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      const answers = await withLongFirstBlock(POLICIES.client, () => Promise.all(Array.from({ length: 40 }, (_, i) => post('/api/oauth2/token',
        { grant_type: 'client_credentials' }, { authorization: basic(client.id, `wrong-${i}`), source: '192.0.2.30' }))));
      const statuses = answers.map((r) => r.status);
      const checked = statuses.filter((s) => s === 401).length;
      assert.ok(checked <= POLICIES.client.allowed, `${checked} of 40 secrets were compared`);
      assert.equal(statuses.filter((s) => s === 429).length, 40 - checked);
    });

    // Rule (item 1): device user codes are reserved before the lookup.
    it(`${POLICIES.source.allowed} + 40 parallel unknown user codes from one source: at most ${POLICIES.source.allowed} looked up`, async () => {
      const results = await withLongFirstBlock(POLICIES.source, () => Promise.all(Array.from({ length: POLICIES.source.allowed + 40 }, () =>
        alias.s.deviceFlow.find('BCDF-GHJK', '192.0.2.40'))));
      const looked = results.filter((r) => !r.ok && r.reason === 'unknown').length;
      assert.ok(looked <= POLICIES.source.allowed, `${looked} user codes were looked up`);
      assert.ok(results.filter((r) => !r.ok && r.reason === 'throttled').length >= 40);
    });

    // Rule (item 2, RFC 6749 §2.1: a client_id is public): failures from one source never
    // lock the client for another.
    it('wrong secrets from source A lock A only: the real client at source B still gets tokens and device codes', async () => {
      const { client, secret } = await alias.client({
        grantTypes: ['client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'], redirectUris: [] });
      for (let i = 0; i < 20; i++) {
        // Basic: the client registered client_secret_basic, so a secret in the body guesses nothing (RFC 7591 §2).
        await post('/api/oauth2/token', { grant_type: 'client_credentials' }, { authorization: basic(client.id, 'x'), source: '198.51.100.1' });
      }
      const attacker = await post('/api/oauth2/token', { grant_type: 'client_credentials' },
        { authorization: basic(client.id, secret!), source: '198.51.100.1' });
      assert.equal(attacker.status, 429, 'the guessing source is slowed down');
      const token = await post('/api/oauth2/token', { grant_type: 'client_credentials' },
        { authorization: basic(client.id, secret!), source: '203.0.113.7' });
      assert.equal(token.status, 200, 'the real client, elsewhere, is not locked out');
      const device = await post('/api/oauth2/device_authorization', { scope: 'openid' }, { authorization: basic(client.id, secret!), source: '203.0.113.7' });
      assert.equal(device.status, 200, await device.clone().text());
    });

    // Rule (item 2): a public client has no secret to guess: presented secrets are never counted.
    it('a public client_id is never locked: 30 requests with client_secret=x, then its device request works', async () => {
      const { client } = await alias.client({ isPublic: true, grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], redirectUris: [] });
      for (let i = 0; i < 30; i++) {
        const r = await post('/api/oauth2/token', { grant_type: 'client_credentials', client_id: client.id, client_secret: 'x' }, { source: '198.51.100.2' });
        assert.equal(r.status, 401, `request ${i + 1}`);
      }
      const device = await post('/api/oauth2/device_authorization', { client_id: client.id, scope: 'openid' }, { source: '198.51.100.2' });
      assert.equal(device.status, 200, await device.clone().text());
      const rows = await alias.s.db.kysely.selectFrom('throttles').select('key').execute();
      assert.ok(rows.length > 0);
    });

    // Rule (item 2): the per-client ceiling slows a guesser spread over many addresses.
    it(`the per-client ceiling (${POLICIES.clientCeiling.allowed} per ${POLICIES.clientCeiling.windowMs / 60_000} min) blocks every source once reached`, async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      // Put the ceiling at its limit directly (a thousand requests otherwise).
      const { digest } = await import('../../src/tokens/opaque.js');
      await alias.s.db.kysely.insertInto('throttles').values({ key: `client:${digest(client.id)}`,
        failures: POLICIES.clientCeiling.allowed, window_start: Date.now(), blocked_until: Date.now() + 3_600_000 }).execute();
      const r = await post('/api/oauth2/token', { grant_type: 'client_credentials' }, { authorization: basic(client.id, secret!), source: '203.0.113.9' });
      assert.equal(r.status, 429);
    });
  });
}
