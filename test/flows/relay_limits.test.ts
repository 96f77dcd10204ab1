// Issue 16 item 13: the relay's per-minute limits hold under concurrent sends across two
// nodes (two Services over one PostgreSQL database): the count and the insert are atomic.
// On SQLite, one node (better-sqlite3 waits for another connection's lock synchronously).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { createServices, type Services } from '../../src/services.js';
import { DEFAULT_RATE_LIMITS } from '../../src/relay/relay.js';
import { OAuthError } from '../../src/oauth/errors.js';

for (const kind of databaseKinds()) {
  describe(`relay limits under concurrent sends (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let second: Services | undefined;
    let nodes: Services[];
    before(async () => {
      alias = await startAlias(kind, { listen: false });
      await alias.s.relayWorker.stop();
      if (kind.name === 'postgres') {
        second = await createServices(alias.s.config, { now: alias.s.now, schema: alias.db.schema, migrate: false });
        await second.relayWorker.stop();
      }
      nodes = second ? [alias.s, second] : [alias.s];
    });
    after(async () => {
      await second?.close();
      await alias?.close();
    });

    async function app(users: number) {
      const { client } = await alias.client({ redirectUris: [], grantTypes: ['client_credentials'], channels: ['news:News'] });
      const subs: string[] = [];
      for (let i = 0; i < users; i++) {
        const user = await alias.user();
        const grant = await alias.s.consent.record({ userId: user.id, clientId: client.id,
          requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
          approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
        subs.push(grant.sub);
      }
      return { client, subs };
    }

    /** Sends at once, alternating nodes; counts accepted and 429 answers. */
    async function burst(client: Awaited<ReturnType<typeof app>>['client'], to: (i: number) => string, n: number) {
      const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => nodes[i % nodes.length]!.relay.send({
        client, auth: { kind: 'client' }, message: { to: to(i), channel: 'news', subject: `race ${i}`, body: 'hello' } })));
      const accepted = results.filter((r) => r.status === 'fulfilled').length;
      const limited = results.filter((r) => r.status === 'rejected' && r.reason instanceof OAuthError && r.reason.status === 429).length;
      const other = results.filter((r) => r.status === 'rejected' && !(r.reason instanceof OAuthError && r.reason.status === 429));
      assert.deepEqual(other.map((r) => String((r as PromiseRejectedResult).reason)), []);
      return { accepted, limited };
    }

    // Rule: at most perUserPerMinute messages to one user a minute, whatever the concurrency.
    it(`30 concurrent sends to one user: exactly ${DEFAULT_RATE_LIMITS.perUserPerMinute} accepted, the rest 429`, async () => {
      const { client, subs } = await app(1);
      const { accepted, limited } = await burst(client, () => subs[0]!, 30);
      assert.equal(accepted, DEFAULT_RATE_LIMITS.perUserPerMinute);
      assert.equal(limited, 30 - accepted);
    });

    // Rule: at most perClientPerMinute messages from one client a minute.
    it(`${DEFAULT_RATE_LIMITS.perClientPerMinute + 10} concurrent sends to 7 users: exactly ${DEFAULT_RATE_LIMITS.perClientPerMinute} accepted`, async () => {
      const { client, subs } = await app(7);
      const n = DEFAULT_RATE_LIMITS.perClientPerMinute + 10;
      const { accepted, limited } = await burst(client, (i) => subs[i % 7]!, n);
      assert.equal(accepted, DEFAULT_RATE_LIMITS.perClientPerMinute);
      assert.equal(limited, n - accepted);
    });
  });
}
