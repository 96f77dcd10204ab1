// Client secret rotation (ClientRegistry.rotateSecret, behind `aliasid client rotate-secret`)
// seen over HTTP at the token endpoint, with Alias's clock under the test's control, on
// SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { ClientInputError } from '../../src/clients/registry.js';
import { digest } from '../../src/tokens/opaque.js';
import { POLICIES } from '../../src/throttle/throttle.js';
import { basic } from '../helpers/bad_input.js';

const MINUTE = 60_000;

for (const kind of databaseKinds()) {
  describe(`client secret rotation (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      alias = await startAlias(kind, { listen: false });
    });
    after(() => alias?.close());

    /** A client_credentials token request; the status and error code. */
    async function token(clientId: string, secret: string): Promise<{ status: number; error?: string; retryAfter?: string }> {
      const res = await alias.app.inject({
        method: 'POST', url: '/api/oauth2/token',
        headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=client_credentials',
      });
      const body = res.json();
      if (res.statusCode === 200) assert.ok(body.access_token);
      return { status: res.statusCode, error: body.error, retryAfter: res.headers['retry-after'] as string | undefined };
    }
    const works = async (id: string, secret: string, what: string) => assert.equal((await token(id, secret)).status, 200, what);
    async function refused(id: string, secret: string, what: string) {
      const r = await token(id, secret);
      assert.equal(r.status, 401, what);
      assert.equal(r.error, 'invalid_client', what);
    }
    const confidential = async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      return { id: client.id, secret: secret! };
    };

    it('with an overlap, the old secret works until it ends and is refused after; the new one works at once', async () => {
      const c = await confidential();
      const t0 = alias.s.now();
      const { client, secret } = await alias.s.clients.rotateSecret(c.id, 10 * MINUTE);
      assert.notEqual(secret, c.secret);
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/, '256 bits, base64url');
      const until = client.previousSecretExpiresAt!;
      assert.ok(until >= t0 + 10 * MINUTE && until <= alias.s.now() + 10 * MINUTE, 'the overlap starts now');
      await works(c.id, secret, 'the new secret at once');
      await works(c.id, c.secret, 'the old secret during the overlap');
      alias.advance(10 * MINUTE - 1_000);
      await works(c.id, c.secret, 'the old secret just before the overlap ends');
      alias.advance(1_001);
      await refused(c.id, c.secret, 'the old secret once the overlap has ended');
      await works(c.id, secret, 'the new secret still');
    });

    it('without an overlap, the old secret is refused at once', async () => {
      const c = await confidential();
      const { client, secret } = await alias.s.clients.rotateSecret(c.id, 0);
      assert.equal(client.previousSecretDigest, null);
      assert.equal(client.previousSecretExpiresAt, null);
      await refused(c.id, c.secret, 'the old secret');
      await works(c.id, secret, 'the new secret');
    });

    it('rotating during an overlap keeps only the secret just replaced; the older one stops at once', async () => {
      const c = await confidential();
      const second = (await alias.s.clients.rotateSecret(c.id, 60 * MINUTE)).secret;
      alias.advance(MINUTE);
      const third = (await alias.s.clients.rotateSecret(c.id, 5 * MINUTE)).secret;
      await refused(c.id, c.secret, 'the first secret (its overlap was replaced)');
      await works(c.id, second, 'the second secret, during the new overlap');
      await works(c.id, third, 'the third secret');
      alias.advance(5 * MINUTE + 1);
      await refused(c.id, second, 'the second secret after the new overlap');
      await works(c.id, third, 'the third secret');
      // Rotating without an overlap ends any running one.
      const fourth = (await alias.s.clients.rotateSecret(c.id, 60 * MINUTE)).secret;
      const fifth = (await alias.s.clients.rotateSecret(c.id, 0)).secret;
      await refused(c.id, fourth, 'the fourth secret');
      await works(c.id, fifth, 'the fifth secret');
    });

    it('stores only the digest of the new secret (and of the previous one)', async () => {
      const c = await confidential();
      const { secret } = await alias.s.clients.rotateSecret(c.id, MINUTE);
      const stored = await alias.s.store.clients.get(c.id);
      assert.ok(stored);
      assert.equal(stored.secretDigest, digest(secret));
      assert.equal(stored.previousSecretDigest, digest(c.secret));
      assert.ok(!JSON.stringify(stored).includes(secret), 'the secret itself is not stored');
      assert.ok(!JSON.stringify(stored).includes(c.secret), 'nor the previous one');
    });

    it('clears a lockout earned with the old secret, so the new one works at once', async () => {
      const c = await confidential();
      for (let i = 0; i < POLICIES.client.allowed + 1; i++) await token(c.id, 'wrong');
      const locked = await token(c.id, c.secret);
      assert.equal(locked.status, 429);
      assert.equal(locked.error, 'too_many_requests');
      assert.ok(Number(locked.retryAfter) > 0);
      const { secret } = await alias.s.clients.rotateSecret(c.id, 0);
      await works(c.id, secret, 'the new secret after the lockout');
    });

    it('refuses public clients and unknown ids, changing nothing', async () => {
      const { client } = await alias.client({ isPublic: true });
      await assert.rejects(alias.s.clients.rotateSecret(client.id, 0),
        (err: unknown) => err instanceof ClientInputError && /public/.test(err.message));
      const after = await alias.s.store.clients.get(client.id);
      assert.equal(after?.secretDigest, null);
      assert.equal(after?.updatedAt, client.updatedAt);
      await assert.rejects(alias.s.clients.rotateSecret('no-such-client', 0),
        (err: unknown) => err instanceof ClientInputError && /no-such-client/.test(err.message));
      const c = await confidential();
      for (const bad of [-1, 1.5, Number.NaN]) {
        await assert.rejects(alias.s.clients.rotateSecret(c.id, bad), ClientInputError, String(bad));
      }
      await works(c.id, c.secret, 'a refused rotation changes nothing');
    });

    it('two rotations at once (two terminals, two nodes) lose neither: the later one keeps the other\'s secret as its previous', async () => {
      // Each rotation reads the client and writes it back; without a lock on PostgreSQL both
      // read the original secret and the later write drops the other rotation's secret.
      const c = await confidential();
      const [a, b] = await Promise.all([
        alias.s.clients.rotateSecret(c.id, 10 * MINUTE),
        alias.s.clients.rotateSecret(c.id, 10 * MINUTE),
      ]);
      await works(c.id, a.secret, 'the first rotation\'s secret works');
      await works(c.id, b.secret, 'the second rotation\'s secret works');
      await refused(c.id, c.secret, 'the original secret is two rotations old');
    });
  });
}
