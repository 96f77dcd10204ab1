// `aliasid user list | show | delete | export` (issue 14 §5), run as child processes the
// way an operator runs them, on SQLite and PostgreSQL; the effects are checked in the
// database through the services the server uses.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';
import { aliasid, json, ok, refused } from '../helpers/cli.js';
import { digest, mintOpaque } from '../../src/tokens/opaque.js';

for (const kind of databaseKinds()) {
  describe(`aliasid user list/show/delete/export (${kind.name})`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let s: Services;
    const run = (...args: string[]) => aliasid(args, db.env);

    before(async () => {
      db = await kind.create();
      ok(await run('migrate'));
      s = await createServices(loadConfig({ db: db.location }, db.env.ALIAS_SECRET ? { ALIAS_SECRET: db.env.ALIAS_SECRET } : {}),
        { schema: db.schema, migrate: false });
    });
    after(async () => {
      await s?.close();
      await db?.cleanup();
    });

    /** A user connected to an app with a back-channel logout URI, holding an access token. */
    async function connectedUser(email: string) {
      const user = await s.accounts.create({ email, password: 'a long password 1', nickname: 'Bo' });
      const { client } = await s.clients.create({ name: 'Newsy', redirectUris: ['https://rp.example/cb'],
        backchannelLogoutUri: 'https://rp.example/backchannel' });
      const grant = await s.consent.record({ userId: user.id, clientId: client.id, requestedScopes: ['openid', 'nickname'],
        requestedChannels: [], approvedScopes: ['openid', 'nickname'], approvedChannels: [] });
      const token = mintOpaque();
      const t = Date.now();
      await s.store.accessTokens.insert({ digest: digest(token), clientId: client.id, userId: user.id, grantId: grant.id, familyId: null,
        scopes: ['openid', 'nickname'], channels: [], createdAt: t, expiresAt: t + 3_600_000, revokedAt: null });
      return { user, client, grant, token };
    }

    it('list and show (text and --json), export prints the JSON export, unknown users are refused', async () => {
      // Rule (issue 14 §5, DESIGN "Commands"): EMAIL_OR_ID by e-mail first, then id; --json is machine-readable; no secrets.
      const a = await connectedUser('list-a@example.com');
      const list = ok(await run('user', 'list', '--json'));
      const users = JSON.parse(list.stdout) as { id: string; email: string; email_verified: boolean }[];
      assert.ok(Array.isArray(users), 'list --json prints one JSON array');
      assert.ok(users.some((u) => u.id === a.user.id && u.email === 'list-a@example.com' && u.email_verified === true));
      // No password or hash, only whether there is one (has_password: false for a passkey-only account).
      assert.doesNotMatch(list.stdout, /argon2|"password(_hash)?"\s*:/i);
      assert.ok(users.some((u) => u.id === a.user.id && (u as { has_password?: boolean }).has_password === true));
      assert.match(ok(await run('user', 'list')).stdout, new RegExp(`^${a.user.id}  list-a@example\\.com`, 'm'));

      const shown = json(await run('user', 'show', 'List-A@example.com', '--json'));
      assert.equal(shown.id, a.user.id);
      const apps = shown.apps as { client_id: string; alias_id: string; scopes: string[] }[];
      assert.equal(apps.length, 1);
      assert.equal(apps[0]!.alias_id, a.grant.sub);
      assert.match(ok(await run('user', 'show', a.user.id)).stdout, new RegExp(`alias ID ${a.grant.sub}`));

      const exported = json(await run('user', 'export', a.user.id));
      assert.equal((exported.profile as { email: string }).email, 'list-a@example.com');
      assert.equal((exported.apps as { alias_id: string }[])[0]!.alias_id, a.grant.sub);
      const raw = JSON.stringify(exported);
      assert.doesNotMatch(raw, /argon2|digest|"password(_hash)?"\s*:/i);
      assert.equal((exported.profile as { has_password: boolean }).has_password, true);
      assert.ok(!raw.includes(digest(a.token)));

      for (const args of [['show', 'nobody@example.com'], ['export', 'nobody@example.com'], ['delete', '0'.repeat(32)]]) {
        refused(await run('user', ...args), /no user with e-mail address or id/);
      }
    });

    it('delete removes the user and everything tied to it, queues the logout token, and the address is free again', async () => {
      // Rule (issue 14 §5, Art. 17): the same effects as the account page's deletion.
      const b = await connectedUser('delete-b@example.com');
      const r = ok(await run('user', 'delete', 'delete-b@example.com'));
      assert.match(r.stdout, new RegExp(`deleted user ${b.user.id}`));
      assert.equal(await s.store.users.get(b.user.id), undefined);
      assert.equal(await s.store.grants.getById(b.grant.id), undefined);
      assert.equal(await s.store.accessTokens.get(digest(b.token)), undefined, 'introspection finds nothing: inactive');
      const [delivery] = await s.store.logoutDeliveries.listByClient(b.client.id);
      assert.equal(delivery!.sub, b.grant.sub, 'a logout token for the alias ID is queued');
      const [event] = await s.store.audit.query({ user: { subs: [], userRef: s.audit.userRef(b.user.id) }, limit: 1 });
      assert.equal(event!.type, 'account.deleted');
      assert.match(event!.detail!, /via=cli/);
      refused(await run('user', 'delete', 'delete-b@example.com'), /no user/);
      const again = await s.accounts.create({ email: 'delete-b@example.com', password: 'a long password 2' });
      assert.notEqual(again.id, b.user.id);
      assert.notEqual(s.audit.subOf(b.client.id, again.id), b.grant.sub, 'a new alias ID at the same app');
    });
  });
}
