// Failure counters in Redis (ALIAS_REDIS_URL) over HTTP: two Alias instances that share
// nothing but Redis (each has a database of its own) share every lockout; with Redis
// unreachable, the database counts and the lockouts still hold. SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { REDIS_URL, dropPrefix, inspector, redisSkip, uniquePrefix } from '../helpers/redis.js';
import { aliasid, json } from '../helpers/cli.js';
import { POLICIES } from '../../src/throttle/throttle.js';
import { scanCounter } from '../../src/tokens/scanning.js';
import { basic } from '../helpers/bad_input.js';

const FORM = 'application/x-www-form-urlencoded';

async function token(alias: Alias, clientId: string, secret: string) {
  const res = await alias.app.inject({ method: 'POST', url: '/api/oauth2/token',
    headers: { authorization: basic(clientId, secret), 'content-type': FORM }, payload: 'grant_type=client_credentials' });
  return { status: res.statusCode, body: res.json(), retryAfter: res.headers['retry-after'] };
}
const introspect = (alias: Alias, clientId: string, secret: string, tokenValue: string) => alias.app.inject({
  method: 'POST', url: '/api/oauth2/introspect',
  headers: { authorization: basic(clientId, secret), 'content-type': FORM }, payload: `token=${encodeURIComponent(tokenValue)}`,
});

for (const kind of databaseKinds()) {
  describe(`failure counters shared in Redis (${kind.name})`, { skip: kind.skip ?? redisSkip() }, () => {
    const prefix = uniquePrefix();
    let nodes: Alias[] = [];
    before(async () => {
      const env = { ALIAS_REDIS_URL: REDIS_URL, ALIAS_REDIS_PREFIX: prefix };
      nodes = [await startAlias(kind, { listen: false, env }), await startAlias(kind, { listen: false, env })];
    });
    after(async () => {
      for (const n of nodes) await n.close();
      const r = inspector();
      await dropPrefix(r, prefix);
      await r.quit();
    });

    /** The same client registered on both instances (their databases are separate). */
    async function sharedClient() {
      const id = `shared-${Math.random().toString(36).slice(2)}`;
      // One registration copied to the other database, as nodes sharing one database see
      // it: the per-(client, source) counter names the secret's digest (issue 16 item 2).
      const { client, secret } = await nodes[0]!.client({ id, grantTypes: ['client_credentials'], redirectUris: [] });
      for (const n of nodes.slice(1)) await n.s.store.clients.insert(client);
      return { id, secrets: nodes.map(() => secret!) };
    }

    it('wrong client secrets on two instances add up to one lockout, seen by both', async () => {
      const c = await sharedClient();
      const [a, b] = nodes as [Alias, Alias];
      // Issue 16 item 1: attempts are reserved before the check, so the attempt that uses
      // the last free try starts the block (before: the first failure over the allowance).
      for (let i = 0; i < POLICIES.client.allowed - 1; i++) {
        const r = await token(i % 2 ? a : b, c.id, 'wrong');
        assert.equal(r.status, 401, `failure ${i + 1}`);
      }
      assert.equal((await token(a, c.id, c.secrets[0]!)).status, 200, 'within the allowance');
      assert.equal((await token(b, c.id, 'wrong')).status, 401, 'the last free try');
      for (const [i, n] of nodes.entries()) {
        const r = await token(n, c.id, c.secrets[i]!);
        assert.equal(r.status, 429, `instance ${i}`);
        assert.equal(r.body.error, 'too_many_requests');
        assert.equal(r.retryAfter, '1');
      }
      // The counters live in Redis, not in either database.
      for (const n of nodes) assert.deepEqual(await n.s.db.kysely.selectFrom('throttles').selectAll().execute(), []);
    });

    it('token-scanning misses on one instance block introspection on the other', async () => {
      const c = await sharedClient();
      const [a, b] = nodes as [Alias, Alias];
      const live = (await token(b, c.id, c.secrets[1]!)).body.access_token as string;
      const client = (await a.s.clients.get(c.id))!;
      // Put the counter at its limit directly in Redis (thousands of requests otherwise).
      const r = inspector();
      try {
        await r.hset(`${prefix}throttle:${scanCounter(client, '').key}`, { f: POLICIES.scanClient.allowed, w: Date.now(), b: 0 });
      } finally {
        await r.quit();
      }
      assert.equal((await introspect(a, c.id, c.secrets[0]!, 'a-guess')).body, '{"active":false}');
      const blocked = await introspect(b, c.id, c.secrets[1]!, live);
      assert.equal(blocked.statusCode, 429);
      assert.equal(blocked.json().error, 'too_many_requests');
      assert.equal(blocked.headers['retry-after'], '1');
    });

    // Spawns the CLI: run once, on SQLite (the counters under test live in Redis either way).
    if (kind.name === 'sqlite') it('aliasid client rotate-secret (another process) ends a lockout kept in Redis, for the serving instance', async () => {
      const [a] = nodes as [Alias];
      const { client, secret } = await a.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      for (let i = 0; i <= POLICIES.client.allowed; i++) await token(a, client.id, 'wrong');
      assert.equal((await token(a, client.id, secret!)).status, 429);
      const rotated = json(await aliasid(['client', 'rotate-secret', client.id, '--json'],
        { ...a.db.env, ALIAS_REDIS_URL: REDIS_URL, ALIAS_REDIS_PREFIX: prefix }));
      assert.equal((await token(a, client.id, rotated.client_secret as string)).status, 200);
    });
  });

  describe(`failure counters with Redis unreachable (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      alias = await startAlias(kind, { listen: false, env: { ALIAS_REDIS_URL: 'redis://127.0.0.1:1' } });
    });
    after(() => alias?.close());

    it('the database counts instead: the lockout holds, and no answer waits for Redis', async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      const started = Date.now();
      // Issue 16: the allowance's tries are checked, then the block (items 1, 2: counted
      // per client and source, and under the per-client ceiling: two counters).
      for (let i = 0; i < POLICIES.client.allowed; i++) assert.equal((await token(alias, client.id, 'wrong')).status, 401);
      const r = await token(alias, client.id, secret!);
      assert.equal(r.status, 429);
      assert.equal(r.body.error, 'too_many_requests');
      assert.ok(Number(r.retryAfter) > 0);
      assert.ok(Date.now() - started < 5_000, `${POLICIES.client.allowed + 2} requests took ${Date.now() - started} ms`);
      const rows = await alias.s.db.kysely.selectFrom('throttles').select('failures').execute();
      assert.deepEqual(rows.map((row) => row.failures), [POLICIES.client.allowed, POLICIES.client.allowed]);
    });
  });
}
