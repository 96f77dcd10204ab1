// `aliasid client update`: channels stay editable after registration, with the same
// rules as `client create`; a removed channel can no longer be sent on. SQLite (the
// command shares the store code that the other suites run on PostgreSQL).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { aliasid, json, refused } from '../helpers/cli.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices } from '../../src/services.js';
import { OAuthError } from '../../src/oauth/errors.js';

describe('aliasid client update', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  before(async () => {
    db = await sqlite.create();
    env = { ...db.env, ALIAS_SECRET: TEST_SECRET };
  });
  after(() => db.cleanup());

  it('adds, redescribes and removes channels and renames; refuses what create refuses', async () => {
    const created = json(await aliasid(['client', 'create', '--name', 'News app', '--redirect-uri', 'https://app.example/cb',
      '--channel', 'news:Product news', '--json'], env));
    const id = created.client_id as string;

    const [added, none, unknownChannel, reserved, unknownClient] = await Promise.all([
      aliasid(['client', 'update', id, '--channel', 'billing:Invoices', '--channel', 'news:Weekly news', '--json'], env),
      aliasid(['client', 'update', id], env),
      aliasid(['client', 'update', id, '--remove-channel', 'nope'], env),
      aliasid(['client', 'update', id, '--channel', '_meta'], env),
      aliasid(['client', 'update', 'no-such-client', '--name', 'X'], env),
    ]);
    assert.deepEqual(json(added).channels, [{ name: 'news', description: 'Weekly news' }, { name: 'billing', description: 'Invoices' }]);
    refused(none, /nothing to change/);
    refused(unknownChannel, /no channel 'nope'/);
    refused(reserved, /reserved/);
    refused(unknownClient, /no client/);

    // A user granted `news`; once the channel is removed, the app cannot send on it.
    const config = loadConfig({ db: db.location }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' });
    const s = await createServices(config);
    try {
      const user = await s.accounts.create({ email: 'cli-relay@example.com', password: 'a long enough password' });
      const grant = await s.consent.record({ userId: user.id, clientId: id,
        requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
        approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
      const send = async () => s.relay.send({ client: (await s.clients.get(id))!, auth: { kind: 'client' },
        message: { to: grant.sub, channel: 'news', subject: 'Hi', body: 'Hello.' } });
      assert.equal((await send()).message.status, 'queued');

      const removed = json(await aliasid(['client', 'update', id, '--remove-channel', 'news', '--name', 'Renamed app', '--json'], env));
      assert.equal(removed.client_name, 'Renamed app');
      assert.deepEqual(removed.channels, [{ name: 'billing', description: 'Invoices' }]);
      const shown = json(await aliasid(['client', 'show', id, '--json'], env));
      assert.deepEqual(shown.channels, [{ name: 'billing', description: 'Invoices' }]);
      assert.deepEqual(shown.redirect_uris, ['https://app.example/cb'], 'the rest is unchanged');
      await assert.rejects(send(), (err: unknown) => err instanceof OAuthError && err.error === 'insufficient_scope');
    } finally {
      await s.close();
    }
  });
});
