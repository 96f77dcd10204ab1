// `aliasid client rotate-secret`, run as a child process against the database of an Alias
// that is serving at the same time (its own process state, its own connections), on
// SQLite and PostgreSQL: what the command prints is checked at the token endpoint.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { aliasid, json, ok, refused } from '../helpers/cli.js';
import { basic } from '../helpers/bad_input.js';

for (const kind of databaseKinds()) {
  describe(`aliasid client rotate-secret (${kind.name})`, { skip: kind.skip, concurrency: true }, () => {
    const embedded = kind.name === 'sqlite';
    let alias: Alias;
    const run = (...args: string[]) => aliasid(args, alias.db.env);
    before(async () => {
      alias = await startAlias(kind, { listen: false });
    });
    after(() => alias?.close());

    async function status(clientId: string, secret: string): Promise<number> {
      const res = await alias.app.inject({
        method: 'POST', url: '/api/oauth2/token',
        headers: { authorization: basic(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'grant_type=client_credentials',
      });
      return res.statusCode;
    }
    const confidential = async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      return { id: client.id, secret: secret! };
    };

    it('--overlap keeps the old secret working, the new one works at once; rotating again without it ends both old ones', async () => {
      const c = await confidential();
      assert.equal(await status(c.id, c.secret), 200);
      const started = Date.now();
      const first = json(await run('client', 'rotate-secret', c.id, '--overlap', '1h', '--json'));
      assert.equal(first.client_id, c.id);
      const secret1 = first.client_secret as string;
      assert.match(secret1, /^[A-Za-z0-9_-]{43,}$/, 'at least 256 bits, base64url');
      assert.notEqual(secret1, c.secret);
      assert.equal(first.client_secret_expires_at, 0, 'the new secret does not expire (RFC 7591)');
      assert.equal(first.token_endpoint_auth_method, 'client_secret_basic');
      const until = first.previous_client_secret_expires_at as number;
      assert.ok(Math.abs(until - (started / 1000 + 3600)) < 60, `the previous secret expires in an hour: ${until}`);
      // The serving Alias sees the change at once.
      assert.equal(await status(c.id, secret1), 200, 'the new secret');
      assert.equal(await status(c.id, c.secret), 200, 'the old secret during the overlap');

      const second = json(await run('client', 'rotate-secret', c.id, '--json'));
      const secret2 = second.client_secret as string;
      assert.equal(second.previous_client_secret_expires_at, undefined, 'no overlap, no previous secret');
      assert.equal(await status(c.id, secret2), 200, 'the newest secret');
      assert.equal(await status(c.id, secret1), 401, 'the replaced secret, at once');
      assert.equal(await status(c.id, c.secret), 401, 'the first secret, whose overlap was ended');
    });

    it('refuses a public client and an unknown id with a message on stderr', async () => {
      const { client } = await alias.client({ isPublic: true });
      const [pub, unknown] = await Promise.all([
        run('client', 'rotate-secret', client.id, '--json'),
        run('client', 'rotate-secret', 'no-such-client', '--json'),
      ]);
      refused(pub, /public/);
      refused(unknown, /no-such-client/);
      assert.equal((await alias.s.store.clients.get(client.id))?.secretDigest, null);
    });

    if (!embedded) return;

    it('without --json prints the new secret once, and says the old one stopped', async () => {
      const c = await confidential();
      const r = ok(await run('client', 'rotate-secret', c.id));
      const secret = /client_secret\s+(\S+)/.exec(r.stdout)?.[1];
      assert.ok(secret, r.stdout);
      assert.match(r.stdout, new RegExp(c.id));
      assert.match(r.stdout, /no longer works/);
      assert.equal(await status(c.id, secret), 200);
      assert.equal(await status(c.id, c.secret), 401);
    });

    it('refuses a malformed or too long --overlap, changing nothing', async () => {
      const c = await confidential();
      const bad = ['soon', '-5', '91d'];
      const results = await Promise.all(bad.map((o) => run('client', 'rotate-secret', c.id, '--overlap', o, '--json')));
      for (const [i, o] of bad.entries()) refused(results[i]!, /--overlap/);
      assert.equal(await status(c.id, c.secret), 200, 'the secret is unchanged');
    });
  });
}
