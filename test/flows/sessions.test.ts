// accounts/sessions.ts: start, read, end, end everywhere (the interface sign-up,
// verification, recovery, passkeys and re-authentication build on).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { SESSION_TTL_S } from '../../src/accounts/sessions.js';
import { digest } from '../../src/tokens/opaque.js';

for (const kind of databaseKinds()) {
  describe(`sessions (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind, { listen: false }); });
    after(() => alias.close());

    it('start returns a cookie whose digest names the session; read finds it until it expires', async () => {
      const user = await alias.user();
      const authTime = alias.s.now() - 1000;
      const { cookie, session } = await alias.s.sessions.start(user.id, authTime);
      assert.equal(cookie.length, 43);
      assert.equal(session.idDigest, digest(cookie));
      assert.equal(session.userId, user.id);
      assert.equal(session.authTime, authTime);
      assert.equal(session.expiresAt - session.createdAt, SESSION_TTL_S * 1000);
      assert.deepEqual(await alias.s.sessions.read(cookie), session);
      assert.equal(await alias.s.sessions.read(undefined), undefined);
      assert.equal(await alias.s.sessions.read(''), undefined);
      assert.equal(await alias.s.sessions.read('x'.repeat(65)), undefined);
      assert.equal(await alias.s.sessions.read(cookie + 'x'), undefined);
      alias.advance(SESSION_TTL_S * 1000);
      try {
        assert.equal(await alias.s.sessions.read(cookie), undefined, 'expired');
        assert.equal(await alias.s.sessions.end(cookie), false, 'an expired session is not ended again');
      } finally {
        alias.advance(-SESSION_TTL_S * 1000);
      }
    });

    it('start with replaces deletes the previous session of the browser (no fixation)', async () => {
      const user = await alias.user();
      const first = await alias.s.sessions.start(user.id, alias.s.now());
      const second = await alias.s.sessions.start(user.id, alias.s.now(), { replaces: first.cookie });
      assert.notEqual(second.cookie, first.cookie);
      assert.equal(await alias.s.sessions.read(first.cookie), undefined);
      assert.ok(await alias.s.sessions.read(second.cookie));
    });

    it('end ends only the session the cookie names, once', async () => {
      const user = await alias.user();
      const a = await alias.s.sessions.start(user.id, alias.s.now());
      const b = await alias.s.sessions.start(user.id, alias.s.now());
      assert.equal(await alias.s.sessions.end(a.cookie), true);
      assert.equal(await alias.s.sessions.read(a.cookie), undefined);
      assert.ok(await alias.s.sessions.read(b.cookie), 'the other browser stays signed in');
      assert.equal(await alias.s.sessions.end(a.cookie), false);
      assert.equal(await alias.s.sessions.end(undefined), false);
    });

    it('endEverywhere ends every session of the user (all, or all but one) and no one else\'s', async () => {
      const user = await alias.user();
      const other = await alias.user();
      const a = await alias.s.sessions.start(user.id, alias.s.now());
      const b = await alias.s.sessions.start(user.id, alias.s.now());
      const c = await alias.s.sessions.start(user.id, alias.s.now());
      const theirs = await alias.s.sessions.start(other.id, alias.s.now());

      await alias.s.sessions.endEverywhere(user.id, { exceptSessionId: a.session.idDigest, source: { via: 'test' } });
      assert.deepEqual(await alias.s.sessions.read(a.cookie), a.session, 'the kept session is unchanged');
      assert.equal(await alias.s.sessions.read(b.cookie), undefined);
      assert.equal(await alias.s.sessions.read(c.cookie), undefined);

      // Another user's session id as the exception keeps nothing of it and ends none of it.
      await alias.s.sessions.endEverywhere(user.id, { exceptSessionId: theirs.session.idDigest });
      assert.equal(await alias.s.sessions.read(a.cookie), undefined);
      assert.ok(await alias.s.sessions.read(theirs.cookie));
    });
  });
}
