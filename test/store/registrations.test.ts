// Contract of RegistrationTokenRepo and ClientRegistrationRepo (src/store/store.ts) on
// SQLite and PostgreSQL: a token's uses are spent exactly once each, even by racing
// nodes; an expired token spends nothing; a client's registration goes with the client.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { UniqueViolation, type Store } from '../../src/store/store.js';
import type { Client } from '../../src/store/types.js';
import { databaseKinds } from '../helpers/databases.js';
import { openTwoNodes, type TwoNodes } from '../helpers/two_nodes.js';
import { CLIENT_METADATA_DEFAULTS } from '../../src/clients/registry.js';

const NOW = 1_700_000_000_000;
const id = (p: string) => `${p}-${randomBytes(6).toString('hex')}`;

for (const kind of databaseKinds()) {
  describe(`store contract: dynamic registration (${kind.name})`, { skip: kind.skip }, () => {
    let nodes: TwoNodes | undefined;
    let store: Store;
    let node2: Store;
    before(async () => {
      nodes = await openTwoNodes(kind, { poolSize: 25 });
      ({ store, node2 } = nodes);
    });
    after(async () => { await nodes?.close(); });

    it('registrationTokens: insert, get; spend takes one use at a time and none once used up or expired', async () => {
      const digest = id('rt');
      await store.registrationTokens.insert({ digest, usesLeft: 2, createdAt: NOW, expiresAt: NOW + 60_000 });
      assert.deepEqual(await store.registrationTokens.get(digest), { digest, usesLeft: 2, createdAt: NOW, expiresAt: NOW + 60_000 });
      assert.equal(await store.registrationTokens.spend(digest, NOW + 1), true);
      assert.equal(await store.registrationTokens.spend(digest, NOW + 2), true);
      assert.equal(await store.registrationTokens.spend(digest, NOW + 3), false, 'used up');
      assert.equal((await store.registrationTokens.get(digest))!.usesLeft, 0);
      const expired = id('rt');
      await store.registrationTokens.insert({ digest: expired, usesLeft: 5, createdAt: NOW, expiresAt: NOW + 10 });
      assert.equal(await store.registrationTokens.spend(expired, NOW + 10), false, 'expired at expiresAt');
      assert.equal((await store.registrationTokens.get(expired))!.usesLeft, 5, 'nothing spent');
      assert.equal(await store.registrationTokens.spend(id('none'), NOW), false);
      assert.equal(await store.registrationTokens.get(id('none')), undefined);
      await assert.rejects(store.registrationTokens.insert({ digest, usesLeft: 1, createdAt: NOW, expiresAt: NOW + 1 }), UniqueViolation);
    });

    it('registrationTokens.spend: 20 racing spends on two nodes of a 5-use token → exactly 5 succeed', async () => {
      const digest = id('race');
      await store.registrationTokens.insert({ digest, usesLeft: 5, createdAt: NOW, expiresAt: NOW + 60_000 });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? node2 : store).registrationTokens.spend(digest, NOW + 1)));
      assert.equal(results.filter(Boolean).length, 5);
      assert.equal((await store.registrationTokens.get(digest))!.usesLeft, 0);
    });

    it('clientRegistrations: one per client (UniqueViolation), read back, gone with its client', async () => {
      const client: Client = { id: id('c'), name: 'App', secretDigest: null, previousSecretDigest: null, previousSecretExpiresAt: null,
        isPublic: true, redirectUris: ['https://a.example/cb'], postLogoutRedirectUris: [], grantTypes: ['authorization_code'], scopes: [],
        channels: [], backchannelLogoutUri: null, idTokenSignedResponseAlg: 'RS256', ...CLIENT_METADATA_DEFAULTS,
        tokenEndpointAuthMethod: 'none', createdAt: NOW, updatedAt: NOW };
      await store.clients.insert(client);
      await store.clientRegistrations.insert({ clientId: client.id, accessTokenDigest: 'd1', createdAt: NOW });
      assert.deepEqual(await store.clientRegistrations.get(client.id), { clientId: client.id, accessTokenDigest: 'd1', createdAt: NOW });
      await assert.rejects(store.clientRegistrations.insert({ clientId: client.id, accessTokenDigest: 'd2', createdAt: NOW }), UniqueViolation);
      assert.equal(await store.clientRegistrations.get(id('nobody')), undefined);
      await store.clients.delete(client.id);
      assert.equal(await store.clientRegistrations.get(client.id), undefined, 'cascade');
    });
  });
}
