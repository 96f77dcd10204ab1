// Issue 14 §2 on the command line (dist/, as an operator runs it), SQLite and PostgreSQL:
// `aliasid user create` vouches for the address (verified) unless --unverified, and
// --json prints email_verified. `serve --help` documents --signup.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';
import { aliasid, json, ok, refused } from '../helpers/cli.js';

describe('aliasid serve --signup', () => {
  it('is documented, and a bad value is refused', async () => {
    const r = ok(await aliasid(['serve', '--help']));
    assert.match(r.stdout, /--signup <mode>/);
    assert.match(r.stdout, /ALIAS_SIGNUP/);
    refused(await aliasid(['serve', '--signup', 'maybe', '--port', '0']), /--signup.*open or closed/);
  });
});

for (const kind of databaseKinds()) {
  describe(`aliasid user create and the address state (${kind.name})`, { skip: kind.skip }, () => {
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

    it('§2 an operator-made account is verified; --unverified makes one that is not; --json says which', async () => {
      const a = json(await run('user', 'create', '--email', 'vouched@example.com', '--password', 'a long password 1', '--json'));
      assert.equal(a.email_verified, true);
      assert.equal((await s.store.users.get(a.id as string))!.emailVerified, true);
      const b = json(await run('user', 'create', '--email', 'pending@example.com', '--password', 'a long password 1', '--unverified', '--json'));
      assert.equal(b.email_verified, false);
      assert.equal((await s.store.users.get(b.id as string))!.emailVerified, false);
      const line = ok(await run('user', 'create', '--email', 'line@example.com', '--password', 'a long password 1', '--unverified'));
      assert.match(line.stdout, /address not confirmed/);
    });
  });
}
