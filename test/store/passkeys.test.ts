// The store contract of passkeys and WebAuthn challenges (store.ts PasskeyRepo,
// WebauthnChallengeRepo), on SQLite and PostgreSQL, including the races the doc comments
// promise (one winner for a challenge, compare-and-set of the signature counter).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openDatabase, migrate, type Db } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql/index.js';
import { UniqueViolation, type Store } from '../../src/store/store.js';
import type { Passkey, User, WebauthnChallenge } from '../../src/store/types.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';

const NOW = 1_700_000_000_000;
const RACERS = 10;
const uid = (p: string) => `${p}-${randomBytes(6).toString('hex')}`;

for (const kind of databaseKinds()) {
  describe(`store contract: passkeys (${kind.name})`, { skip: kind.skip }, () => {
    let t: TestDatabase | undefined;
    let db: Db | undefined;
    let store: Store;

    before(async () => {
      t = await kind.create();
      db = openDatabase(t.location, { schema: t.schema, poolSize: RACERS + 5 });
      await migrate(db);
      store = createSqlStore(db);
    });
    after(async () => {
      await db?.close();
      await t?.cleanup();
    });

    async function user(): Promise<User> {
      const id = uid('user');
      const u: User = { id, email: `${id}@example.com`, passwordHash: 'h', nickname: null, emailVerified: true, createdAt: NOW, updatedAt: NOW };
      await store.users.insert(u);
      return u;
    }
    const passkey = (userId: string, over: Partial<Passkey> = {}): Passkey => ({
      id: randomBytes(16).toString('hex'), userId, credentialId: randomBytes(32).toString('base64url'),
      publicKey: randomBytes(77).toString('base64url'), counter: 0, transports: ['internal', 'hybrid'], backupEligible: true,
      backupState: false, deviceType: 'multiDevice', name: 'Laptop', createdAt: NOW, lastUsedAt: null, ...over,
    });
    const challenge = (over: Partial<WebauthnChallenge> = {}): WebauthnChallenge => ({
      digest: uid('ch'), purpose: 'authenticate', browserDigest: 'browser-a', userId: null, createdAt: NOW, expiresAt: NOW + 300_000, ...over,
    });

    it('passkeys: insert, get by credential id and list by user (oldest first) round-trip every field', async () => {
      const u = await user();
      const later = passkey(u.id, { createdAt: NOW + 1000, counter: 2 ** 32 - 1, lastUsedAt: NOW + 5, deviceType: 'singleDevice',
        backupEligible: false, transports: [] });
      const first = passkey(u.id);
      await store.passkeys.insert(later);
      await store.passkeys.insert(first);
      assert.deepEqual(await store.passkeys.getByCredentialId(first.credentialId), first);
      assert.deepEqual(await store.passkeys.listByUser(u.id), [first, later]);
      assert.deepEqual(await store.passkeys.listByUser((await user()).id), []);
      assert.equal(await store.passkeys.getByCredentialId('nope'), undefined);
    });

    it('passkeys: a credential id registered already (to anyone) is a UniqueViolation', async () => {
      const [a, b] = [await user(), await user()];
      const p = passkey(a.id);
      await store.passkeys.insert(p);
      await assert.rejects(store.passkeys.insert(passkey(b.id, { credentialId: p.credentialId })), UniqueViolation);
    });

    it('passkeys: rename and delete only the user’s own passkey', async () => {
      const [a, b] = [await user(), await user()];
      const p = passkey(a.id);
      await store.passkeys.insert(p);
      assert.equal(await store.passkeys.rename(b.id, p.id, 'Stolen'), false);
      assert.equal(await store.passkeys.rename(a.id, p.id, 'Work'), true);
      assert.equal((await store.passkeys.getByCredentialId(p.credentialId))!.name, 'Work');
      assert.equal(await store.passkeys.delete(b.id, p.id), undefined);
      assert.deepEqual(await store.passkeys.delete(a.id, p.id), { ...p, name: 'Work' });
      assert.equal(await store.passkeys.delete(a.id, p.id), undefined);
      assert.equal(await store.passkeys.getByCredentialId(p.credentialId), undefined);
    });

    it('passkeys: recordUse is a compare-and-set on the counter; of racing uses with the same counter one wins', async () => {
      const u = await user();
      const p = passkey(u.id, { counter: 5 });
      await store.passkeys.insert(p);
      assert.equal(await store.passkeys.recordUse(p.id, 4, { counter: 9, backupState: true, at: NOW + 1 }), false, 'stale counter');
      const results = await Promise.all(Array.from({ length: RACERS }, (_, i) =>
        store.passkeys.recordUse(p.id, 5, { counter: 6 + i, backupState: true, at: NOW + 2 })));
      assert.equal(results.filter(Boolean).length, 1);
      const stored = (await store.passkeys.getByCredentialId(p.credentialId))!;
      assert.equal(stored.counter, 6 + results.indexOf(true));
      assert.equal(stored.backupState, true);
      assert.equal(stored.lastUsedAt, NOW + 2);
    });

    it('passkeys and challenges go with their account', async () => {
      const u = await user();
      const p = passkey(u.id);
      await store.passkeys.insert(p);
      const c = challenge({ purpose: 'register', userId: u.id });
      await store.webauthnChallenges.insert(c);
      assert.equal(await store.users.delete(u.id), true);
      assert.equal(await store.passkeys.getByCredentialId(p.credentialId), undefined);
      assert.equal(await store.webauthnChallenges.take(c.digest, 'register', c.browserDigest, NOW), undefined);
    });

    it('challenges: taken once, only by their browser and purpose, only before they expire', async () => {
      const c = challenge();
      await store.webauthnChallenges.insert(c);
      assert.equal(await store.webauthnChallenges.take(c.digest, 'authenticate', 'browser-b', NOW), undefined, 'another browser');
      assert.equal(await store.webauthnChallenges.take(c.digest, 'register', c.browserDigest, NOW), undefined, 'another purpose');
      assert.equal(await store.webauthnChallenges.take(c.digest, 'authenticate', c.browserDigest, c.expiresAt), undefined, 'expired');
      assert.deepEqual(await store.webauthnChallenges.take(c.digest, 'authenticate', c.browserDigest, NOW), c, 'the refusals changed nothing');
      assert.equal(await store.webauthnChallenges.take(c.digest, 'authenticate', c.browserDigest, NOW), undefined, 'single use');
      const r = challenge({ purpose: 'register', userId: (await user()).id });
      await store.webauthnChallenges.insert(r);
      assert.deepEqual(await store.webauthnChallenges.take(r.digest, 'register', r.browserDigest, NOW), r);
    });

    it('challenges: of racing takes, exactly one wins', async () => {
      const c = challenge();
      await store.webauthnChallenges.insert(c);
      const results = await Promise.all(Array.from({ length: RACERS }, () =>
        store.webauthnChallenges.take(c.digest, 'authenticate', c.browserDigest, NOW)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('challenges: the janitor purges those expired before `before`', async () => {
      const BEFORE = 100_000;
      const [old, live] = [challenge({ expiresAt: 1_000 }), challenge({ expiresAt: NOW })];
      for (const x of [old, live]) await store.webauthnChallenges.insert(x);
      assert.equal(await store.expired.purge('webauthn_challenges', BEFORE, 100), 1);
      assert.equal(await store.expired.purge('webauthn_challenges', BEFORE, 100), 0);
      assert.ok(await store.webauthnChallenges.take(live.digest, 'authenticate', live.browserDigest, 0));
    });
  });
}
