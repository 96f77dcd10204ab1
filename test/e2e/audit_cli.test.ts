// `aliasid audit` run as a child process on SQLite and PostgreSQL, over a log written by
// the admin commands themselves and by sign-ins made through the same services the
// server uses: newest first, JSON Lines, filters by time, client and user (including a
// deleted client's events), clear refusals of bad input.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';
import { aliasid, json, ok, refused } from '../helpers/cli.js';

const IP = '198.51.100.23';

describe('aliasid audit usage', { concurrency: true }, () => {
  it('--help documents every option and the JSON Lines output', async () => {
    const r = ok(await aliasid(['audit', '--help']));
    for (const o of ['--since', '--user', '--client', '--limit', '--json', '--db']) assert.ok(r.stdout.includes(o), o);
    assert.match(r.stdout, /JSON Lines/);
  });
  for (const [args, message] of [
    [['--limit', 'ten'], /--limit/],
    [['--limit', '0'], /--limit/],
    [['--since', 'last tuesday'], /--since/],
    [['--since', '2026-02-30'], /--since/],
  ] as const) {
    it(`refuses ${args.join(' ')}`, async () => {
      refused(await aliasid(['audit', ...args]), message);
    });
  }
});

for (const kind of databaseKinds()) {
  describe(`aliasid audit (${kind.name})`, { skip: kind.skip, concurrency: true }, () => {
    let db: TestDatabase;
    let s: Services;
    const run = (...args: string[]) => aliasid(['audit', ...args], db.env);
    const lines = (stdout: string) => stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string | null>);
    const ids: Record<string, string> = {};

    before(async () => {
      db = await kind.create();
      const ann = json(await aliasid(['user', 'create', '--email', 'ann@example.com', '--password', 'a long password 1', '--json'], db.env));
      const bob = json(await aliasid(['user', 'create', '--email', 'bob@example.com', '--password', 'a long password 2', '--json'], db.env));
      const kept = json(await aliasid(['client', 'create', '--name', 'Kept', '--redirect-uri', 'https://kept.example/cb', '--json'], db.env));
      const gone = json(await aliasid(['client', 'create', '--name', 'Gone', '--redirect-uri', 'https://gone.example/cb', '--json'], db.env));
      Object.assign(ids, { ann: ann.id, bob: bob.id, kept: kept.client_id, gone: gone.client_id });
      s = await createServices(loadConfig({ db: db.location }, db.env.ALIAS_SECRET ? { ALIAS_SECRET: db.env.ALIAS_SECRET } : {}),
        { schema: db.schema, migrate: false });
      assert.ok((await s.accounts.login('ann@example.com', 'a long password 1', IP, { clientId: ids.kept, via: 'authorize' })).ok);
      assert.ok(!(await s.accounts.login('ann@example.com', 'wrong password', IP, { clientId: ids.gone, via: 'authorize' })).ok);
      assert.ok((await s.accounts.login('ann@example.com', 'a long password 1', IP, { via: 'account' })).ok);
      assert.ok((await s.accounts.login('bob@example.com', 'a long password 2', IP, { clientId: ids.kept, via: 'authorize' })).ok);
      ok(await aliasid(['client', 'delete', ids.gone!], db.env));
    });
    after(async () => {
      await s?.close();
      await db?.cleanup();
    });

    it('--json prints JSON Lines, newest first: admin commands and sign-ins, with digests and never an address', async () => {
      const r = ok(await run('--json'));
      const events = lines(r.stdout);
      assert.equal(events.length, 9);
      assert.deepEqual(events.map((e) => e.event), ['admin.client.deleted', 'login', 'login', 'login', 'login',
        'admin.client.created', 'admin.client.created', 'admin.user.created', 'admin.user.created']);
      for (let i = 1; i < events.length; i++) assert.ok(events[i - 1]!.time! >= events[i]!.time!, 'newest first');
      assert.deepEqual(Object.keys(events[0]!), ['time', 'event', 'outcome', 'client_id', 'sub', 'user_ref', 'ip_digest', 'detail', 'id']);
      const logins = events.filter((e) => e.event === 'login');
      assert.ok(logins.every((e) => e.ip_digest === s.secrets.mac('audit-ip', IP)));
      for (const secret of [IP, 'ann@example.com', 'bob@example.com', ids.ann!, ids.bob!, 'password']) {
        assert.ok(!r.stdout.includes(secret), `output contains ${secret}`);
      }
    });

    it('--user (e-mail or id) finds every event of that user, at deleted clients too; --client narrows it', async () => {
      const byEmail = lines(ok(await run('--user', 'ann@example.com', '--json')).stdout);
      assert.deepEqual(byEmail.map((e) => `${e.event} ${e.outcome} ${e.client_id ?? '-'}`), [
        'login success -', `login failure ${ids.gone}`, `login success ${ids.kept}`, 'admin.user.created success -']);
      assert.equal(byEmail[2]!.sub, s.audit.subOf(ids.kept!, ids.ann!), 'the alias ID the app knows');
      assert.equal(byEmail[0]!.user_ref, s.audit.userRef(ids.ann!));
      const byId = lines(ok(await run('--user', ids.ann!, '--client', ids.kept!, '--json')).stdout);
      assert.deepEqual(byId.map((e) => `${e.event} ${e.client_id}`), [`login ${ids.kept}`]);
      refused(await run('--user', 'nobody@example.com'), /no user/);
    });

    it('--client, --since and --limit filter; the table is readable; an empty answer says so', async () => {
      assert.deepEqual(lines(ok(await run('--client', ids.kept!, '--json')).stdout).map((e) => e.event),
        ['login', 'login', 'admin.client.created']);
      assert.equal(ok(await run('--since', '2999-01-01', '--json')).stdout, '');
      assert.match(ok(await run('--since', '2999-01-01T00:00:00Z')).stdout, /^no events$/m);
      assert.equal(lines(ok(await run('--since', '1h', '--limit', '3', '--json')).stdout).length, 3);
      const table = ok(await run('--limit', '2')).stdout.trim().split('\n');
      assert.match(table[0]!, /^TIME \(UTC\)\s+EVENT\s+OUTCOME\s+CLIENT\s+ALIAS ID\s+IP DIGEST\s+DETAIL$/);
      assert.equal(table.length, 3);
      assert.match(table[1]!, /admin\.client\.deleted\s+success\s+\S+/);
    });
  });
}
