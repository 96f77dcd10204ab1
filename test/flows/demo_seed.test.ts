// `serve --demo` seeding (src/demo.ts): the demo user and the two demo clients; every start
// issues new client secrets (only digests are stored) and points the redirect URIs at the
// ports the demo apps listen on now. On SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { DEMO, seedDemo } from '../../src/demo.js';
import { basic } from '../helpers/bad_input.js';

for (const kind of databaseKinds()) {
  describe(`serve --demo seeding (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(async () => { await alias?.close(); });

    const secretWorks = async (clientId: string, secret: string) => (await fetch(`${alias.issuer}/api/oauth2/token`, {
      method: 'POST', headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=none&redirect_uri=http%3A%2F%2Flocalhost%3A1%2Fcallback',
    })).status !== 401;

    it('creates the user and two clients; a restart on other ports moves the redirect URIs and replaces the secrets', async () => {
      const first = await seedDemo(alias.s, { demoAppPort: 18080 });
      assert.equal(first.email, DEMO.email);
      assert.deepEqual(first.apps.map((a) => [a.clientId, a.redirectUri, a.channel]), [
        ['demo-client', 'http://localhost:18080/callback', 'news'],
        ['demo-client-2', 'http://localhost:18081/callback', 'offers'],
      ]);
      assert.ok(await alias.s.store.users.getByEmail(DEMO.email));
      for (const a of first.apps) assert.ok(await secretWorks(a.clientId, a.clientSecret), `${a.clientId}'s secret authenticates`);

      const second = await seedDemo(alias.s, { demoAppPort: 9090 });
      for (const [i, a] of second.apps.entries()) {
        const client = (await alias.s.store.clients.get(a.clientId))!;
        assert.deepEqual(client.redirectUris, [`http://localhost:${9090 + i}/callback`]);
        assert.deepEqual(client.grantTypes, ['authorization_code', 'refresh_token']);
        assert.ok(await secretWorks(a.clientId, a.clientSecret), 'the new secret authenticates');
        assert.equal(await secretWorks(a.clientId, first.apps[i]!.clientSecret), false, 'the previous start\'s secret does not');
      }
    });
  });
}
