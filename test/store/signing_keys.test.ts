// The key service (src/tokens/keys.ts) on SQLite and PostgreSQL: one key set per
// algorithm (RS256, ES256), created on first start, added to a database from before
// ES256, rotated together, published in JWKS (RFC 7517) until what they signed expired,
// and never left half-written when the database refuses a write.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { SignJWT, createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { databaseKinds, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { migrate, openDatabase, type Db } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql/index.js';
import type { Store } from '../../src/store/store.js';
import { createSecrets } from '../../src/crypto/secrets.js';
import { DEFAULT_PUBLISH_WINDOW_MS, MIN_PUBLISH_WINDOW_MS, ID_TOKEN_TTL_S, KEY_CACHE_MS, createKeyService, type KeyService } from '../../src/tokens/keys.js';
import { verifyIdTokenHint } from '../../src/tokens/id_token_hint.js';
import type { SigningAlg } from '../../src/oauth/signing_algs.js';

const ISSUER = 'https://id.example';
/** How long a retired key stays in JWKS: the longest token lifetime plus a minute. */
const RETIRED_PUBLISHED_MS = ID_TOKEN_TTL_S * 1000 + 60_000;

/** A token signed by `signer`'s key, with the header naming `alg` and `kid` as given. */
async function token(keys: KeyService, signer: SigningAlg, header: { alg?: string; kid?: string } = {}) {
  const key = await keys.signingKey(signer);
  return new SignJWT({})
    .setProtectedHeader({ alg: header.alg ?? key.alg, kid: header.kid ?? key.kid })
    .setIssuer(ISSUER).setAudience('client-1').setSubject('alias-id-1').setIssuedAt().setExpirationTime('1h')
    .sign(key.privateKey);
}

for (const kind of databaseKinds()) {
  describe(`signing keys per algorithm (${kind.name})`, { skip: kind.skip }, () => {
    let t: TestDatabase;
    let db: Db;
    let store: Store;
    let clock = 0;
    const now = () => clock;
    /** Another node (own key cache) on the same database. */
    const node = () => createKeyService(store, createSecrets(TEST_SECRET), now);

    before(async () => {
      t = await kind.create();
      db = openDatabase(t.location, { schema: t.schema });
      await migrate(db);
      store = createSqlStore(db);
    });
    after(async () => {
      await db?.close();
      await t?.cleanup();
    });

    /** Every test starts from a database without keys. */
    async function noKeys() {
      await db.kysely.deleteFrom('signing_keys').execute();
      clock = 1_800_000_000_000;
    }

    /** Makes the database refuse every ES256 key (a failing write after the RS256 one succeeded). */
    async function refuseEs256(on: boolean) {
      if (kind.name === 'sqlite') {
        await sql`drop trigger if exists refuse_es256`.execute(db.kysely);
        if (on) {
          await sql.raw(`create trigger refuse_es256 before insert on signing_keys when new.alg = 'ES256'
            begin select raise(abort, 'simulated write failure'); end`).execute(db.kysely);
        }
      } else {
        await sql`drop trigger if exists refuse_es256 on signing_keys`.execute(db.kysely);
        if (on) {
          await sql.raw(`create or replace function refuse_es256() returns trigger language plpgsql as $$
            begin if new.alg = 'ES256' then raise exception 'simulated write failure'; end if; return new; end $$`).execute(db.kysely);
          await sql.raw(`create trigger refuse_es256 before insert on signing_keys for each row execute function refuse_es256()`)
            .execute(db.kysely);
        }
      }
    }

    it('the first start creates an RS256 (RSA 2048) and an ES256 (P-256) key, both published with alg, use and kid', async () => {
      await noKeys();
      const keys = node();
      assert.deepEqual(await keys.ensureKey(), ['RS256', 'ES256']);
      assert.deepEqual(await keys.ensureKey(), [], 'a second start creates nothing');
      assert.deepEqual(await node().ensureKey(), [], 'nor does another node');

      const jwks = (await keys.jwks()) as JSONWebKeySet;
      assert.equal(jwks.keys.length, 2);
      const rsa = jwks.keys.find((k) => k.alg === 'RS256')!;
      const ec = jwks.keys.find((k) => k.alg === 'ES256')!;
      // RFC 7517 §4: kty, use, alg, kid; RFC 7518 §6.2.1: an EC public key has crv, x, y.
      assert.equal(rsa.kty, 'RSA');
      assert.equal(rsa.use, 'sig');
      assert.ok(rsa.kid && rsa.n && rsa.e);
      assert.equal(ec.kty, 'EC');
      assert.equal(ec.crv, 'P-256');
      assert.equal(ec.use, 'sig');
      assert.ok(ec.kid && ec.x && ec.y && ec.kid !== rsa.kid);
      for (const k of jwks.keys) {
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.equal((k as Record<string, unknown>)[secret], undefined, `no private member ${secret} in JWKS`);
      }

      const rsKey = await keys.signingKey('RS256');
      const esKey = await keys.signingKey('ES256');
      assert.equal(rsKey.kid, rsa.kid);
      assert.equal(esKey.kid, ec.kid);
      assert.equal(rsKey.privateKey.asymmetricKeyDetails?.modulusLength, 2048);
      assert.equal(esKey.privateKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
      // RFC 7518 §3.4: ES256 is ECDSA P-256 with SHA-256; verified against the published JWKS alone.
      for (const alg of ['RS256', 'ES256'] as const) {
        const { protectedHeader } = await jwtVerify(await token(keys, alg), createLocalJWKSet(jwks), { algorithms: [alg], issuer: ISSUER });
        assert.equal(protectedHeader.alg, alg);
      }
    });

    it('a database from before ES256 (an RSA key only) gets an ES256 key at the next start, dated before the RSA key', async () => {
      await noKeys();
      await node().ensureKey();
      await db.kysely.deleteFrom('signing_keys').where('alg', '=', 'ES256').execute();
      const [rsa] = await store.keys.list();
      clock += 60_000;
      const keys = node();
      assert.deepEqual(await keys.ensureKey(), ['ES256']);
      const all = await store.keys.list();
      assert.equal(all.length, 2);
      assert.deepEqual(all.find((k) => k.alg === 'RS256'), rsa, 'the RSA key is untouched');
      const ec = all.find((k) => k.alg === 'ES256')!;
      assert.equal(ec.status, 'active');
      // The previous version signs with the newest key whatever its algorithm: it must stay the RSA key.
      assert.ok(ec.createdAt < rsa!.createdAt, 'the ES256 key sorts after the RSA key');
      assert.equal(all[0]!.kid, rsa!.kid, 'newest first (what the previous version signs with) is the RSA key');
      // Usable at once: nothing else signs ES256 yet.
      assert.equal((await keys.signingKey('ES256')).kid, ec.kid);
      assert.equal((await keys.signingKey('RS256')).kid, rsa!.kid);
      assert.deepEqual((await keys.jwks()).keys.map((k) => k.kid).sort(), [rsa!.kid, ec.kid].sort());
    });

    it('a refused write during the first start leaves no key; the next start creates both', async () => {
      await noKeys();
      await refuseEs256(true);
      try {
        await assert.rejects(node().ensureKey(), /simulated write failure/);
        assert.deepEqual(await store.keys.list(), [], 'the RS256 key written before the failure is rolled back');
      } finally {
        await refuseEs256(false);
      }
      assert.deepEqual(await node().ensureKey(), ['RS256', 'ES256']);
    });

    it('keys rotate makes a new key per algorithm; each signs after the publish window (default 120 s); the old ones stay published, then go', async () => {
      await noKeys();
      const keys = node();
      await keys.ensureKey();
      const old = { RS256: (await keys.signingKey('RS256')).kid, ES256: (await keys.signingKey('ES256')).kid };

      clock += 10 * 60_000;
      const rotatedAt = clock;
      const fresh = await keys.rotate();
      assert.deepEqual(fresh.map((k) => k.alg), ['RS256', 'ES256']);
      const next = { RS256: fresh[0]!.kid, ES256: fresh[1]!.kid };
      // Each algorithm's previous key retires when the new one starts signing (same rule as before ES256).
      const stored = new Map((await store.keys.list()).map((k) => [k.kid, k]));
      for (const alg of ['RS256', 'ES256'] as const) {
        assert.equal(stored.get(next[alg])?.status, 'active');
        assert.equal(stored.get(next[alg])?.alg, alg);
        assert.deepEqual([stored.get(old[alg])?.status, stored.get(old[alg])?.retiredAt], ['retired', rotatedAt + DEFAULT_PUBLISH_WINDOW_MS]);
      }

      // DESIGN.md: a new key is published before any node signs with it.
      const other = node();
      const published = async () => (await other.jwks()).keys.map((k) => k.kid as string).sort();
      assert.deepEqual(await published(), [...Object.values(old), ...Object.values(next)].sort(), 'old and new keys in JWKS');
      for (const alg of ['RS256', 'ES256'] as const) {
        assert.equal((await other.signingKey(alg)).kid, old[alg], `${alg}: the old key signs until the new one activates`);
      }
      clock = rotatedAt + DEFAULT_PUBLISH_WINDOW_MS + KEY_CACHE_MS + 1;
      for (const alg of ['RS256', 'ES256'] as const) {
        assert.equal((await other.signingKey(alg)).kid, next[alg], `${alg}: the new key signs after the publish window`);
      }
      // The retired keys stay published until every token they signed has expired.
      clock = rotatedAt + DEFAULT_PUBLISH_WINDOW_MS + RETIRED_PUBLISHED_MS - 1;
      assert.deepEqual(await published(), [...Object.values(old), ...Object.values(next)].sort());
      clock = rotatedAt + DEFAULT_PUBLISH_WINDOW_MS + RETIRED_PUBLISHED_MS + KEY_CACHE_MS + 1;
      assert.deepEqual(await published(), Object.values(next).sort(), 'then they leave JWKS');

      // The next rotation deletes them and retires the current pair.
      const third = await keys.rotate();
      const rows = await store.keys.list();
      assert.deepEqual(rows.map((k) => k.kid).sort(), [...Object.values(next), ...third.map((k) => k.kid)].sort());
      assert.deepEqual(rows.filter((k) => k.status === 'active').map((k) => k.alg).sort(), ['ES256', 'RS256'], 'one active key per algorithm');
    });

    it('a shorter publish window (never below the minimum) moves the switch; the old key signs until then', async () => {
      await noKeys();
      const keys = node();
      await keys.ensureKey();
      const old = (await keys.signingKey('RS256')).kid;
      clock += 10 * 60_000;
      const rotatedAt = clock;
      const [rsa] = await keys.rotate({ publishWindowMs: 30_000 });
      assert.equal(rsa!.activatesAt, rotatedAt + 30_000);
      clock = rotatedAt + 30_000 - 1;
      assert.equal((await node().signingKey('RS256')).kid, old, 'one millisecond before the window ends: the old key');
      clock = rotatedAt + 30_000;
      assert.equal((await node().signingKey('RS256')).kid, rsa!.kid, 'at the end of the window: the new key');
      clock += 10 * 60_000;
      const [tooShort] = await keys.rotate({ publishWindowMs: 0 });
      assert.equal(tooShort!.activatesAt, clock + MIN_PUBLISH_WINDOW_MS, 'every node has re-read its keys before any signs with it');
    });

    it('keys rotate --now (a compromised key): the new keys sign at once, every other key leaves JWKS and stops verifying', async () => {
      await noKeys();
      const keys = node();
      await keys.ensureKey();
      const old = { RS256: (await keys.signingKey('RS256')).kid, ES256: (await keys.signingKey('ES256')).kid };
      clock += 10 * 60_000;
      // A rotation still in its publish window: its keys and the ones it retired (retired_at
      // in the future) must all go too.
      const pending = await keys.rotate();
      clock += 1_000;
      const fresh = await keys.rotate({ compromised: true });
      const next = fresh.map((k) => k.kid).sort();
      const other = node();
      assert.deepEqual((await other.jwks()).keys.map((k) => k.kid as string).sort(), next, 'only the new keys are published');
      for (const k of fresh) assert.equal((await other.signingKey(k.alg)).kid, k.kid, `${k.alg}: the new key signs at once`);
      for (const kid of [...Object.values(old), ...pending.map((k) => k.kid)]) {
        assert.equal(await other.verificationKey(kid), undefined, 'an old key verifies nothing');
      }
      assert.deepEqual((await store.keys.list()).map((k) => k.kid).sort(), next, 'the old rows are deleted');
    });

    it('a refused write during keys rotate changes nothing: the old keys stay active and sign', async () => {
      await noKeys();
      const keys = node();
      await keys.ensureKey();
      const list = async () => (await store.keys.list()).sort((a, b) => a.kid.localeCompare(b.kid));
      const before = await list();
      await refuseEs256(true);
      try {
        await assert.rejects(keys.rotate(), /simulated write failure/);
      } finally {
        await refuseEs256(false);
      }
      assert.deepEqual(await list(), before, 'no new RS256 key, and the old RS256 key is not retired');
      clock += DEFAULT_PUBLISH_WINDOW_MS + KEY_CACHE_MS + 1;
      assert.equal((await node().signingKey('RS256')).kid, before.find((k) => k.alg === 'RS256')!.kid);
      assert.equal((await keys.rotate()).length, 2, 'a later rotation works');
    });

    it('id_token_hint (RP-Initiated Logout §2) verifies with the key its kid names, RS256 or ES256, and only with its algorithm', async () => {
      await noKeys();
      const keys = node();
      await keys.ensureKey();
      for (const alg of ['RS256', 'ES256'] as const) {
        const claims = await verifyIdTokenHint(keys, ISSUER, await token(keys, alg));
        assert.equal(claims?.sub, 'alias-id-1', `an ${alg} hint is accepted`);
        assert.equal(await verifyIdTokenHint(keys, 'https://other.example', await token(keys, alg)), undefined, 'another issuer is refused');
      }
      const rsKid = (await keys.signingKey('RS256')).kid;
      const esKid = (await keys.signingKey('ES256')).kid;
      // RFC 8725 §3.1: the algorithm comes from the key, never from the token's header.
      assert.equal(await verifyIdTokenHint(keys, ISSUER, await token(keys, 'RS256', { kid: esKid })), undefined,
        'an RSA signature under the EC key\'s kid is refused');
      assert.equal(await verifyIdTokenHint(keys, ISSUER, await token(keys, 'ES256', { kid: rsKid })), undefined,
        'an EC signature under the RSA key\'s kid is refused');
      assert.equal(await verifyIdTokenHint(keys, ISSUER, await token(keys, 'RS256', { alg: 'PS256' })), undefined,
        'another algorithm with the right key is refused');
      // Hints signed before a rotation still verify: the retired keys are known by kid.
      const oldHint = await token(keys, 'ES256');
      await keys.rotate();
      assert.equal((await verifyIdTokenHint(node(), ISSUER, oldHint))?.sub, 'alias-id-1');
    });
  });
}
