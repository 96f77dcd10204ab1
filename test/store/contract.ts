// The one store contract: every behaviour promised by the doc comments of
// src/store/store.ts, declared as node:test suites. store.test.ts runs it on SQLite and
// on PostgreSQL (DESIGN.md, "Data and scale": every store behaviour is one contract
// test suite run against both databases).
//
// All tests of one database kind share one migrated database; each test creates its own
// rows under fresh ids, so the tests do not depend on each other or on their order.
import { createThrottler } from '../../src/throttle/throttle.js';
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { migrate, type Db } from '../../src/store/db.js';
import { UniqueViolation, type Store } from '../../src/store/store.js';
import type {
  AccessToken, AuditEvent, AuthorizationCode, Client, Grant, Interaction, RefreshToken, Session, SigningKeyRecord, User, LinkToken, OutboxMail, PushedRequest,
  Resource,
} from '../../src/store/types.js';
import type { DatabaseKind } from '../helpers/databases.js';
import { openTwoNodes, type TwoNodes } from '../helpers/two_nodes.js';
import { CLIENT_METADATA_DEFAULTS } from '../../src/clients/registry.js';

/** Epoch milliseconds, beyond 2^31: times must survive as exact numbers (PostgreSQL int8). */
const NOW = 1_700_000_000_000;
const MINUTE = 60_000;
/** How many callers race for one code, one refresh token or one setting. */
const RACERS = 20;

let seq = 0;
const uid = (prefix: string): string => `${prefix}-${++seq}-${randomBytes(4).toString('hex')}`;

/** A client with every field set (tests of other store pieces use it too). */
export function newClient(over: Partial<Client> = {}): Client {
  const id = over.id ?? uid('client');
  return {
    id,
    name: `Client ${id}`,
    secretDigest: 'secret-digest',
    previousSecretDigest: null,
    previousSecretExpiresAt: null,
    isPublic: false,
    redirectUris: [`https://${id}.example/cb`],
    postLogoutRedirectUris: [],
    grantTypes: ['authorization_code', 'refresh_token'],
    scopes: [],
    channels: [],
    backchannelLogoutUri: null,
    idTokenSignedResponseAlg: 'RS256',
    ...CLIENT_METADATA_DEFAULTS,
    tokenEndpointAuthMethod: 'client_secret_basic',
    createdAt: NOW,
    updatedAt: NOW,
    ...over,
  };
}

function newUser(over: Partial<User> = {}): User {
  const id = over.id ?? uid('user');
  return {
    id,
    email: `${id}@example.com`,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    nickname: null,
    emailVerified: true,
    createdAt: NOW,
    updatedAt: NOW,
    ...over,
  };
}

function newGrant(userId: string, clientId: string, over: Partial<Grant> = {}): Grant {
  return {
    id: uid('grant'),
    userId,
    clientId,
    sub: `sub-of-${userId}-at-${clientId}`,
    scopes: ['openid'],
    channels: [],
    createdAt: NOW,
    updatedAt: NOW,
    lastUsedAt: null,
    ...over,
  };
}

function newCode(g: Grant, over: Partial<AuthorizationCode> = {}): AuthorizationCode {
  return {
    digest: uid('code'),
    clientId: g.clientId,
    userId: g.userId,
    grantId: g.id,
    familyId: uid('family'),
    redirectUri: 'https://app.example/cb',
    codeChallenge: null,
    scopes: g.scopes,
    channels: g.channels,
    nonce: null,
    authTime: NOW,
    amr: ['pwd'],
    createdAt: NOW,
    expiresAt: NOW + MINUTE,
    consumedAt: null,
    ...over,
  };
}

function newAccess(g: Grant, familyId: string | null, over: Partial<AccessToken> = {}): AccessToken {
  return {
    digest: uid('at'),
    clientId: g.clientId,
    userId: g.userId,
    grantId: g.id,
    familyId,
    scopes: g.scopes,
    channels: g.channels,
    createdAt: NOW,
    expiresAt: NOW + 30 * MINUTE,
    revokedAt: null,
    ...over,
  };
}

function newRefresh(g: Grant, familyId: string, over: Partial<RefreshToken> = {}): RefreshToken {
  return {
    digest: uid('rt'),
    clientId: g.clientId,
    userId: g.userId,
    grantId: g.id,
    familyId,
    scopes: g.scopes,
    channels: g.channels,
    authTime: NOW,
    createdAt: NOW,
    expiresAt: NOW + 30 * 24 * 60 * MINUTE,
    rotatedAt: null,
    revokedAt: null,
    ...over,
  };
}

function newKey(over: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  const kid = over.kid ?? uid('kid');
  return {
    kid,
    alg: 'RS256',
    publicJwk: JSON.stringify({ kty: 'RSA', kid, n: 'AQAB', e: 'AQAB' }),
    privateKeyEnc: `sealed:${kid}`,
    status: 'active',
    createdAt: NOW,
    retiredAt: null,
    // Distinct from createdAt: the round trip checks the column (publish window, migration 019).
    activatesAt: NOW + 120_000,
    ...over,
  };
}

/** Runs `n` callers at once and returns their results in caller order. */
function race<T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
}

const isUniqueViolation = (err: unknown): boolean => {
  assert.ok(err instanceof UniqueViolation, `expected UniqueViolation, got ${String(err)}`);
  assert.equal(err.name, 'UniqueViolation');
  return true;
};

export function storeContract(kind: DatabaseKind): void {
  describe(`store contract (${kind.name})`, { skip: kind.skip }, () => {
    let nodes: TwoNodes | undefined;
    let db: Db | undefined;
    let store: Store;
    /** A second handle on the same database: another Alias node. */
    let node2: Store;

    before(async () => {
      // A pool as large as the crowd, so the PostgreSQL races really run in parallel.
      nodes = await openTwoNodes(kind, { poolSize: RACERS + 5 });
      ({ db, store, node2 } = nodes);
    });

    after(async () => {
      await nodes?.close();
    });

    /** A user, a client and the user's grant at that client, all stored. */
    async function seedGrant(grantOver: Partial<Grant> = {}): Promise<{ user: User; client: Client; grant: Grant }> {
      const user = newUser();
      const client = newClient();
      await store.users.insert(user);
      await store.clients.insert(client);
      const grant = await store.grants.save(newGrant(user.id, client.id, grantOver));
      return { user, client, grant };
    }

    describe('database', () => {
      it('migrate is idempotent: a second run applies nothing', async () => {
        // DESIGN.md "SQL": one migration set; every node and admin command runs migrate at boot.
        assert.deepEqual(await migrate(db!), []);
      });

      it('ping answers a round trip', async () => {
        // store.ts Store.ping: cheap round trip, for health checks.
        await store.ping();
        await node2.ping();
      });
    });

    describe('clients', () => {
      it('RFC 7591 metadata round-trips (migration 011)', async () => {
        // store.ts ClientRepo: every Client field is stored and read back as given.
        const c = newClient({ tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'abc' }] },
          jwksUri: null, requirePushedAuthorizationRequests: true, dpopBoundAccessTokens: true, requireMfa: true,
          logoUri: 'https://app.example/logo.png', policyUri: 'https://app.example/policy', tosUri: 'https://app.example/tos',
          clientUri: 'https://app.example/' });
        await store.clients.insert(c);
        assert.deepEqual(await store.clients.get(c.id), c);
        const next = { ...c, tokenEndpointAuthMethod: 'client_secret_post' as const, jwks: null, jwksUri: 'https://app.example/jwks',
          requirePushedAuthorizationRequests: false, dpopBoundAccessTokens: false, requireMfa: false, logoUri: null, updatedAt: NOW + 1 };
        await store.clients.update(next);
        assert.deepEqual(await store.clients.get(c.id), next);
      });

      it('reads of clients and failure counters never serve a stale or negative answer after a change', async () => {
        // DESIGN.md: "caches of clients, users and keys never serve stale or negative answers after a
        // change" (src/store/sqlite/read_cache.ts on SQLite): changes by this handle and by another one.
        const c = newClient();
        assert.equal(await store.clients.get(c.id), undefined);
        await node2.clients.insert(c);
        assert.deepEqual(await store.clients.get(c.id), c, 'created elsewhere: seen at once');
        assert.deepEqual(await store.clients.get(c.id), c);
        await node2.clients.update({ ...c, name: 'Renamed', updatedAt: c.updatedAt + 1 });
        assert.equal((await store.clients.get(c.id))?.name, 'Renamed', 'updated elsewhere: seen at once');
        // The ID token algorithm is read at every token request: a change must count at once too.
        await node2.clients.update({ ...c, name: 'Renamed', idTokenSignedResponseAlg: 'ES256', updatedAt: c.updatedAt + 1 });
        assert.equal((await store.clients.get(c.id))?.idTokenSignedResponseAlg, 'ES256', 'algorithm changed elsewhere: seen at once');
        await store.clients.update({ ...c, name: 'Again', updatedAt: c.updatedAt + 2 });
        assert.equal((await store.clients.get(c.id))?.name, 'Again', 'updated here: seen at once');
        assert.equal(await node2.clients.delete(c.id), true);
        assert.equal(await store.clients.get(c.id), undefined, 'deleted elsewhere: gone at once');

        const key = uid('throttle');
        assert.equal(await store.throttles.get(key), undefined);
        await node2.throttles.put({ key, failures: 3, windowStart: NOW, blockedUntil: NOW + MINUTE });
        assert.equal((await store.throttles.get(key))?.blockedUntil, NOW + MINUTE, 'a lockout set by another node counts at once');
        await store.throttles.delete(key);
        assert.equal(await store.throttles.get(key), undefined);
        await assert.rejects(store.transaction(async (tx) => {
          await tx.throttles.put({ key, failures: 9, windowStart: NOW, blockedUntil: NOW + 2 * MINUTE });
          throw new Error('roll back');
        }));
        assert.equal(await store.throttles.get(key), undefined, 'a rolled-back write leaves nothing behind');
      });

      it('changing a client object a read returned never changes what later reads return', async () => {
        // A cached row is shared by every reader (SQLite: frozen); PostgreSQL reads are fresh copies.
        const c = newClient();
        await store.clients.insert(c);
        const got = (await store.clients.get(c.id))!;
        try {
          (got.redirectUris as string[]).push('https://evil.example/cb');
        } catch (err) {
          assert.ok(err instanceof TypeError, 'a frozen row refuses the change');
        }
        assert.deepEqual((await store.clients.get(c.id))?.redirectUris, c.redirectUris);
      });

      it('insert then get returns the client exactly as stored', async () => {
        // store.ts ClientRepo.insert/get: a client round-trips unchanged (lists, nulls, booleans, ms times).
        const confidential = newClient({
          previousSecretDigest: 'old-digest',
          previousSecretExpiresAt: NOW + 7 * 24 * 60 * MINUTE,
          redirectUris: ['https://a.example/cb', 'http://127.0.0.1:8080/cb'],
          postLogoutRedirectUris: ['https://a.example/bye'],
          grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
          scopes: ['contact'],
          channels: [{ name: 'news', description: 'Product news — «weekly»' }, { name: 'billing', description: 'Invoices' }],
          idTokenSignedResponseAlg: 'ES256',
          createdAt: NOW + 1,
          updatedAt: NOW + 2,
        });
        const pub = newClient({ secretDigest: null, isPublic: true, grantTypes: ['authorization_code'] });
        await store.clients.insert(confidential);
        await store.clients.insert(pub);
        assert.deepEqual(await store.clients.get(confidential.id), confidential);
        assert.deepEqual(await store.clients.get(pub.id), pub);
        assert.equal(await store.clients.get(uid('missing')), undefined);
      });

      it('a client row written without an ID token algorithm (by the previous version) reads as RS256', async () => {
        // Migration 007 and OIDC Dynamic Client Registration §2: "The default, if omitted, is RS256".
        // Nodes of the previous version insert clients without the column during a rolling upgrade.
        const c = newClient();
        // Every column of the clients table before migration 007, and no other.
        const oldRow = {
          id: c.id, name: c.name, secret_digest: c.secretDigest, previous_secret_digest: null, previous_secret_expires_at: null,
          is_public: 0, redirect_uris: JSON.stringify(c.redirectUris), post_logout_redirect_uris: '[]',
          grant_types: JSON.stringify(c.grantTypes), scopes: '[]', channels: '[]', backchannel_logout_uri: null,
          created_at: c.createdAt, updated_at: c.updatedAt,
        };
        await db!.kysely.insertInto('clients').values(oldRow as never).execute();
        assert.deepEqual(await store.clients.get(c.id), { ...c, idTokenSignedResponseAlg: 'RS256' });
      });

      it('insert with an existing id throws UniqueViolation and keeps the first client', async () => {
        // store.ts UniqueViolation: a duplicate client id is reported as UniqueViolation, not a driver error.
        const c = newClient();
        await store.clients.insert(c);
        await assert.rejects(store.clients.insert({ ...c, name: 'Impostor', redirectUris: ['https://evil.example/cb'] }),
          isUniqueViolation);
        assert.deepEqual(await store.clients.get(c.id), c);
        assert.equal(await store.clients.hasOrigin('https://evil.example'), false);
      });

      it('list returns every client once', async () => {
        // store.ts ClientRepo.list: every registered client (admin `clients list`).
        const mine = [newClient({ createdAt: NOW + 10 }), newClient({ createdAt: NOW + 11 }), newClient({ createdAt: NOW + 12 })];
        for (const c of mine) await store.clients.insert(c);
        const all = await store.clients.list();
        assert.equal(new Set(all.map((c) => c.id)).size, all.length, 'no client listed twice');
        for (const c of mine) assert.deepEqual(all.find((x) => x.id === c.id), c);
      });

      it('update replaces the stored fields', async () => {
        // store.ts ClientRepo.update: the stored client becomes the given one (secret rotation, renames).
        const c = newClient();
        await store.clients.insert(c);
        const changed: Client = {
          ...c,
          name: 'Renamed',
          secretDigest: 'new-digest',
          previousSecretDigest: 'secret-digest',
          previousSecretExpiresAt: NOW + MINUTE,
          redirectUris: ['https://renamed.example/cb'],
          postLogoutRedirectUris: ['https://renamed.example/'],
          grantTypes: ['client_credentials'],
          scopes: ['contact'],
          channels: [{ name: 'alerts', description: 'Alerts' }],
          idTokenSignedResponseAlg: 'ES256',
          updatedAt: NOW + 5,
        };
        await store.clients.update(changed);
        assert.deepEqual(await store.clients.get(c.id), changed);
        // And back: OIDC Dynamic Client Registration §2 id_token_signed_response_alg, RS256 or ES256.
        await store.clients.update({ ...changed, idTokenSignedResponseAlg: 'RS256', updatedAt: NOW + 6 });
        assert.equal((await store.clients.get(c.id))?.idTokenSignedResponseAlg, 'RS256');
      });

      it('hasOrigin is true exactly for origins of registered redirect URIs', async () => {
        // store.ts ClientRepo.hasOrigin (CORS): the origin (scheme, host, port) of some client's redirect URI.
        const c = newClient({
          redirectUris: ['https://spa.example/callback?x=1', 'http://127.0.0.1:5173/cb', 'https://other.example:8443/a/b',
            'com.example.app:/oauth'],
        });
        await store.clients.insert(c);
        assert.equal(await store.clients.hasOrigin('https://spa.example'), true);
        assert.equal(await store.clients.hasOrigin('http://127.0.0.1:5173'), true);
        assert.equal(await store.clients.hasOrigin('https://other.example:8443'), true);
        // Not an origin of any redirect URI: other scheme, port, host, a prefix, a path.
        assert.equal(await store.clients.hasOrigin('http://spa.example'), false);
        assert.equal(await store.clients.hasOrigin('https://spa.example:444'), false);
        assert.equal(await store.clients.hasOrigin('https://other.example'), false);
        assert.equal(await store.clients.hasOrigin('https://spa.exampl'), false);
        assert.equal(await store.clients.hasOrigin('https://spa.example/callback'), false);
        assert.equal(await store.clients.hasOrigin('http://127.0.0.1:5174'), false);
        // A private-scheme URI has an opaque origin: a browser's "Origin: null" matches nothing.
        assert.equal(await store.clients.hasOrigin('null'), false);
      });

      it('update changes which origins hasOrigin accepts', async () => {
        // store.ts ClientRepo.hasOrigin follows update: a removed redirect URI no longer opens CORS.
        const c = newClient({ redirectUris: ['https://before.example/cb'] });
        await store.clients.insert(c);
        assert.equal(await store.clients.hasOrigin('https://before.example'), true);
        await store.clients.update({ ...c, redirectUris: ['https://after.example/cb'], updatedAt: NOW + 1 });
        assert.equal(await store.clients.hasOrigin('https://before.example'), false);
        assert.equal(await store.clients.hasOrigin('https://after.example'), true);
      });

      it('getForUpdate reads the client like get, and undefined for an unknown id', async () => {
        // store.ts ClientRepo.getForUpdate.
        const c = newClient();
        await store.clients.insert(c);
        assert.deepEqual(await store.transaction((tx) => tx.clients.getForUpdate(c.id)), await store.clients.get(c.id));
        assert.equal(await store.transaction((tx) => tx.clients.getForUpdate(uid('missing'))), undefined);
      });

      // Several nodes exist only on PostgreSQL (SQLite runs write transactions one at a time).
      if (kind.name === 'postgres') it('getForUpdate makes a second node\'s read-modify-write wait, then see the first one\'s write', async () => {
        // store.ts ClientRepo.getForUpdate: "never loses a concurrent read-modify-write".
        const c = newClient();
        await store.clients.insert(c);
        let release!: () => void;
        const held = new Promise<void>((r) => { release = r; });
        let locked!: () => void;
        const firstHasIt = new Promise<void>((r) => { locked = r; });
        const first = store.transaction(async (tx) => {
          const read = (await tx.clients.getForUpdate(c.id))!;
          locked();
          await held;
          await tx.clients.update({ ...read, name: `${read.name} +first`, updatedAt: read.updatedAt + 1 });
        });
        await firstHasIt;
        let secondRead = false;
        const second = node2.transaction(async (tx) => {
          const read = (await tx.clients.getForUpdate(c.id))!;
          secondRead = true;
          await tx.clients.update({ ...read, name: `${read.name} +second`, updatedAt: read.updatedAt + 1 });
        });
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(secondRead, false, 'the second node waits while the first holds the client');
        release();
        await Promise.all([first, second]);
        assert.equal((await store.clients.get(c.id))?.name, `${c.name} +first +second`, 'neither change is lost');
      });

      it('update is atomic: hasOrigin never misses an origin the client keeps', async () => {
        // store.ts ClientRepo.hasOrigin + DESIGN.md (admin commands take effect while `serve` runs):
        // renaming a client must not make CORS fail, even for a moment, for a redirect URI it keeps.
        const c = newClient({ redirectUris: [`https://${uid('steady')}.example/cb`] });
        const origin = new URL(c.redirectUris[0]!).origin;
        await store.clients.insert(c);
        let updating = true;
        const misses: number[] = [];
        const poll = (async () => {
          for (let n = 0; updating; n++) {
            if (!(await node2.clients.hasOrigin(origin))) misses.push(n);
            // A reader is another request: let the event loop run between reads (the
            // writer's commit may wait for the end of the turn: sqlite/group_commit.ts).
            await new Promise((resolve) => setImmediate(resolve));
          }
        })();
        try {
          for (let i = 1; i <= 30; i++) await store.clients.update({ ...c, name: `Renamed ${i}`, updatedAt: NOW + i });
        } finally {
          updating = false;
          await poll;
        }
        assert.deepEqual(misses, [], 'hasOrigin answered false during an update');
        // The same on one node, where update and hasOrigin share the connection (SQLite) or pool.
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => i % 2
          ? store.clients.update({ ...c, name: `Again ${i}`, updatedAt: NOW + 100 + i }).then(() => true)
          : store.clients.hasOrigin(origin)));
        assert.ok(answers.every(Boolean), 'hasOrigin answered false during an update');
      });

      it('an origin shared by two clients stays until the last one goes', async () => {
        // store.ts ClientRepo.hasOrigin: "some client's" redirect URI; deleting one client keeps the other's.
        const shared = `https://${uid('shared')}.example`;
        const a = newClient({ redirectUris: [`${shared}/a`] });
        const b = newClient({ redirectUris: [`${shared}/b`] });
        await store.clients.insert(a);
        await store.clients.insert(b);
        assert.equal(await store.clients.delete(a.id), true);
        assert.equal(await store.clients.hasOrigin(shared), true);
        assert.equal(await store.clients.delete(b.id), true);
        assert.equal(await store.clients.hasOrigin(shared), false);
      });

      it('delete removes the client and, by cascade, everything issued to it', async () => {
        // store.ts ClientRepo.delete: deletes the client and, by cascade, everything issued to it.
        const { client, user, grant } = await seedGrant();
        const family = uid('family');
        const code = newCode(grant, { familyId: family });
        const at = newAccess(grant, family);
        const rt = newRefresh(grant, family);
        const cc: AccessToken = { ...newAccess(grant, null), userId: null, grantId: null }; // client_credentials
        const interaction: Interaction = {
          id: uid('ia'), browserDigest: 'b', clientId: client.id, params: { scope: 'openid' },
          authenticatedSession: null, createdAt: NOW, expiresAt: NOW + 10 * MINUTE,
        };
        await store.codes.insert(code);
        await store.accessTokens.insert(at);
        await store.accessTokens.insert(cc);
        await store.refreshTokens.insert(rt);
        await store.interactions.insert(interaction);
        // Another client of the same user keeps everything.
        const other = newClient();
        await store.clients.insert(other);
        const otherGrant = await store.grants.save(newGrant(user.id, other.id));
        const otherAt = newAccess(otherGrant, null);
        await store.accessTokens.insert(otherAt);

        assert.equal(await store.clients.delete(client.id), true);
        assert.equal(await store.clients.get(client.id), undefined);
        assert.equal((await store.clients.list()).some((c) => c.id === client.id), false);
        assert.equal(await store.clients.hasOrigin(new URL(client.redirectUris[0]!).origin), false);
        assert.equal(await store.grants.getById(grant.id), undefined);
        assert.equal(await store.codes.get(code.digest), undefined);
        assert.equal(await store.accessTokens.get(at.digest), undefined);
        assert.equal(await store.accessTokens.get(cc.digest), undefined);
        assert.equal(await store.refreshTokens.get(rt.digest), undefined);
        assert.equal(await store.interactions.get(interaction.id, NOW), undefined);

        assert.deepEqual(await store.users.get(user.id), user, 'the user is not issued to the client');
        assert.deepEqual(await store.grants.getById(otherGrant.id), otherGrant);
        assert.deepEqual(await store.accessTokens.get(otherAt.digest), otherAt);
        assert.equal(await store.clients.delete(client.id), false, 'a second delete finds nothing');
        assert.equal(await store.clients.delete(uid('missing')), false);
      });
    });

    describe('users', () => {
      it('insert then get returns the user, e-mail stored lower-cased', async () => {
        // store.ts UserRepo.getByEmail: email is stored lower-cased.
        const u = newUser({ email: `Alice.${uid('m')}@Example.COM`, nickname: 'Zoë' });
        await store.users.insert(u);
        assert.deepEqual(await store.users.get(u.id), { ...u, email: u.email.toLowerCase() });
        assert.equal(await store.users.get(uid('missing')), undefined);
      });

      it('getByEmail matches case-insensitively', async () => {
        // store.ts UserRepo.getByEmail: email is matched case-insensitively.
        const local = uid('bob');
        const u = newUser({ email: `${local}@example.com` });
        await store.users.insert(u);
        for (const variant of [`${local}@example.com`, `${local.toUpperCase()}@EXAMPLE.COM`, `${local}@Example.Com`]) {
          assert.equal((await store.users.getByEmail(variant))?.id, u.id, variant);
        }
        assert.equal(await store.users.getByEmail(`x${local}@example.com`), undefined);
      });

      it('a second user with the same e-mail, in any case, throws UniqueViolation', async () => {
        // store.ts UniqueViolation + UserRepo: one account per e-mail address, case-insensitively.
        const u = newUser();
        await store.users.insert(u);
        await assert.rejects(store.users.insert(newUser({ email: u.email })), isUniqueViolation);
        await assert.rejects(store.users.insert(newUser({ email: u.email.toUpperCase() })), isUniqueViolation);
        assert.equal((await store.users.getByEmail(u.email))?.id, u.id);
      });

      it('a second user with the same id throws UniqueViolation', async () => {
        // store.ts UniqueViolation: a duplicate user id is reported as UniqueViolation.
        const u = newUser();
        await store.users.insert(u);
        await assert.rejects(store.users.insert(newUser({ id: u.id, email: `other-${u.email}` })), isUniqueViolation);
        assert.deepEqual(await store.users.get(u.id), u);
      });

      it('update changes e-mail (lower-cased), password and nickname', async () => {
        // store.ts UserRepo.update + getByEmail: the new address is found in any case, the old one no longer.
        const u = newUser({ nickname: 'Old' });
        await store.users.insert(u);
        const email = `New.${uid('n')}@Example.com`;
        await store.users.update({ ...u, email, passwordHash: 'new-hash', nickname: null, updatedAt: NOW + 3 });
        const want = { ...u, email: email.toLowerCase(), passwordHash: 'new-hash', nickname: null, updatedAt: NOW + 3 };
        assert.deepEqual(await store.users.get(u.id), want);
        assert.deepEqual(await store.users.getByEmail(email.toUpperCase()), want);
        assert.equal(await store.users.getByEmail(u.email), undefined);
      });
    });

    describe('sessions', () => {
      it('device and lastSeenAt round-trip; touch records the last use (migration 009)', async () => {
        // store.ts SessionRepo.touch: the session's last use, shown in the data export.
        const u = newUser();
        await store.users.insert(u);
        const s: Session = { idDigest: uid('sid'), userId: u.id, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE,
          device: 'Firefox on Linux', lastSeenAt: NOW, amr: ['pwd'] };
        await store.sessions.insert(s);
        assert.deepEqual(await store.sessions.get(s.idDigest, NOW), s);
        await store.sessions.touch(s.idDigest, NOW + 5);
        assert.deepEqual(await store.sessions.get(s.idDigest, NOW), { ...s, lastSeenAt: NOW + 5 });
        assert.deepEqual(await store.sessions.listByUser(u.id, NOW), [{ ...s, lastSeenAt: NOW + 5 }]);
      });

      it('amr round-trips on sessions, codes and device decisions (migration 010)', async () => {
        // store.ts: the sign-in methods (RFC 8176) a session records reach the ID token through codes and device requests.
        const { user, grant } = await seedGrant();
        const s: Session = { idDigest: uid('sid'), userId: user.id, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE,
          device: null, lastSeenAt: null, amr: ['hwk', 'user'] };
        await store.sessions.insert(s);
        assert.deepEqual((await store.sessions.get(s.idDigest, NOW))?.amr, ['hwk', 'user']);
        const code = newCode(grant, { amr: ['pwd', 'otp', 'mfa'] });
        await store.codes.insert(code);
        assert.deepEqual((await store.codes.get(code.digest))?.amr, ['pwd', 'otp', 'mfa']);
        const d = { deviceDigest: uid('dc'), userCode: uid('UC').toUpperCase(), clientId: grant.clientId, scopes: ['openid'], channels: [],
          status: 'pending' as const, userId: null, grantId: null, approvedScopes: null, approvedChannels: null, authTime: null, amr: null,
          intervalS: 5, lastPolledAt: null, createdAt: NOW, expiresAt: NOW + MINUTE, consumedAt: null };
        await store.deviceCodes.insert(d);
        assert.equal((await store.deviceCodes.get(d.deviceDigest))?.amr, null);
        assert.ok(await store.deviceCodes.decide(d.deviceDigest, { status: 'approved', userId: user.id, grantId: grant.id,
          scopes: ['openid'], channels: [], authTime: NOW, amr: ['swk', 'user'] }));
        assert.deepEqual((await store.deviceCodes.get(d.deviceDigest))?.amr, ['swk', 'user']);
      });

      it('get returns a session only before it expires', async () => {
        // store.ts SessionRepo.get: returns only unexpired sessions (expiresAt is the first invalid instant).
        const u = newUser();
        await store.users.insert(u);
        const s: Session = { idDigest: uid('sid'), userId: u.id, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE, device: null, lastSeenAt: null, amr: ['pwd'] };
        await store.sessions.insert(s);
        assert.deepEqual(await store.sessions.get(s.idDigest, NOW), s);
        assert.deepEqual(await store.sessions.get(s.idDigest, s.expiresAt - 1), s);
        assert.equal(await store.sessions.get(s.idDigest, s.expiresAt), undefined);
        assert.equal(await store.sessions.get(s.idDigest, s.expiresAt + MINUTE), undefined);
        assert.equal(await store.sessions.get(uid('missing'), NOW), undefined);
      });

      it('delete removes one session; deleteByUser removes all of one user\'s only', async () => {
        // store.ts SessionRepo.delete / deleteByUser: sign-out of one browser, or everywhere for one user.
        const alice = newUser();
        const bob = newUser();
        await store.users.insert(alice);
        await store.users.insert(bob);
        const mk = (userId: string): Session =>
          ({ idDigest: uid('sid'), userId, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE, device: null, lastSeenAt: null, amr: ['pwd'] });
        const [a1, a2, a3, b1] = [mk(alice.id), mk(alice.id), mk(alice.id), mk(bob.id)];
        for (const s of [a1!, a2!, a3!, b1!]) await store.sessions.insert(s);

        await store.sessions.delete(a1!.idDigest);
        assert.equal(await store.sessions.get(a1!.idDigest, NOW), undefined);
        assert.deepEqual(await store.sessions.get(a2!.idDigest, NOW), a2);

        await store.sessions.deleteByUser(alice.id);
        assert.equal(await store.sessions.get(a2!.idDigest, NOW), undefined);
        assert.equal(await store.sessions.get(a3!.idDigest, NOW), undefined);
        assert.deepEqual(await store.sessions.get(b1!.idDigest, NOW), b1);
        await store.sessions.delete(uid('missing'));
      });
    });

    describe('interactions', () => {
      async function newInteraction(over: Partial<Interaction> = {}): Promise<Interaction> {
        const c = newClient();
        await store.clients.insert(c);
        const i: Interaction = {
          id: uid('ia'),
          browserDigest: uid('browser'),
          clientId: c.id,
          params: { response_type: 'code', scope: 'openid contact', state: 'a&b=c "quoted" ünïcødé', redirect_uri: 'https://x.example/cb' },
          authenticatedSession: null,
          createdAt: NOW,
          expiresAt: NOW + 10 * MINUTE,
          ...over,
        };
        await store.interactions.insert(i);
        return i;
      }

      it('get returns an interaction, params intact, only before it expires', async () => {
        // store.ts InteractionRepo.get: returns only unexpired interactions.
        const i = await newInteraction();
        assert.deepEqual(await store.interactions.get(i.id, NOW), i);
        assert.deepEqual(await store.interactions.get(i.id, i.expiresAt - 1), i);
        assert.equal(await store.interactions.get(i.id, i.expiresAt), undefined);
        assert.equal(await store.interactions.get(i.id, i.expiresAt + MINUTE), undefined);
        assert.equal(await store.interactions.get(uid('missing'), NOW), undefined);
      });

      it('setAuthenticatedSession records the session; delete removes the interaction', async () => {
        // store.ts InteractionRepo.setAuthenticatedSession / delete (prompt=login, max_age bookkeeping).
        const i = await newInteraction();
        const other = await newInteraction();
        await store.interactions.setAuthenticatedSession(i.id, 'session-digest');
        assert.deepEqual(await store.interactions.get(i.id, NOW), { ...i, authenticatedSession: 'session-digest' });
        assert.deepEqual(await store.interactions.get(other.id, NOW), other, 'only that interaction changes');
        await store.interactions.delete(i.id);
        assert.equal(await store.interactions.get(i.id, NOW), undefined);
        assert.deepEqual(await store.interactions.get(other.id, NOW), other);
      });

      it('a session inserted for an interaction marks it signed in with that session, and only it', async () => {
        // store.ts SessionRepo.insert `authenticates` (one statement on PostgreSQL).
        const i = await newInteraction();
        const other = await newInteraction();
        const u = newUser();
        await store.users.insert(u);
        const session: Session = { idDigest: uid('sid'), userId: u.id, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE,
          device: null, lastSeenAt: NOW, amr: ['pwd'] };
        await store.sessions.insert(session, { authenticates: i.id });
        assert.deepEqual(await store.sessions.get(session.idDigest, NOW), session);
        assert.deepEqual(await store.interactions.get(i.id, NOW), { ...i, authenticatedSession: session.idDigest });
        assert.deepEqual(await store.interactions.get(other.id, NOW), other, 'only that interaction changes');
        const late = { ...session, idDigest: uid('sid') };
        await store.sessions.insert(late, { authenticates: uid('gone') });
        assert.deepEqual(await store.sessions.get(late.idDigest, NOW), late, 'an interaction gone meanwhile: the session is still made');
      });

      it('unlessTotp: no session (and no signed-in interaction) for an account with TOTP, in the same statement', async () => {
        // store.ts SessionRepo.insert `unlessTotp`: a password alone does not sign in an account with a second factor.
        for (const authenticates of [true, false]) {
          const i = await newInteraction();
          const u = newUser();
          await store.users.insert(u);
          const session: Session = { idDigest: uid('sid'), userId: u.id, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE,
            device: 'Firefox on Linux', lastSeenAt: NOW, amr: ['pwd'] };
          const opts = { unlessTotp: true, ...(authenticates ? { authenticates: i.id } : {}) };
          assert.equal(await store.sessions.insert(session, opts), true, 'no TOTP: stored');
          assert.deepEqual(await store.sessions.get(session.idDigest, NOW), session);
          assert.equal((await store.interactions.get(i.id, NOW))?.authenticatedSession, authenticates ? session.idDigest : null);
          await store.secondFactors.insertTotp({ userId: u.id, secretSealed: 'v1.x', lastStep: 0, createdAt: NOW });
          const again = { ...session, idDigest: uid('sid') };
          const j = await newInteraction();
          assert.equal(await store.sessions.insert(again, { ...opts, ...(authenticates ? { authenticates: j.id } : {}) }), false,
            'TOTP on: nothing stored');
          assert.equal(await store.sessions.get(again.idDigest, NOW), undefined);
          assert.equal((await store.interactions.get(j.id, NOW))?.authenticatedSession, null, 'and the interaction is not signed in');
          assert.equal(await store.sessions.insert({ ...again, idDigest: uid('sid') }), true, 'without the condition: stored');
        }
      });
    });

    describe('grants', () => {
      it('save inserts a new grant; get, getById and getBySub find it', async () => {
        // store.ts GrantRepo.save (insert) / get / getById / getBySub.
        const { user, client, grant } = await seedGrant({ scopes: ['openid', 'contact'], channels: ['_meta', 'news'] });
        assert.equal(grant.userId, user.id);
        assert.deepEqual(grant.scopes, ['openid', 'contact']);
        assert.deepEqual(grant.channels, ['_meta', 'news']);
        assert.deepEqual(await store.grants.get(user.id, client.id), grant);
        assert.deepEqual(await store.grants.getById(grant.id), grant);
        assert.deepEqual(await store.grants.getBySub(client.id, grant.sub), grant);
        assert.equal(await store.grants.getById(uid('missing')), undefined);
        assert.equal(await store.grants.get(user.id, uid('missing')), undefined);
      });

      it('getBySub is scoped to the client: the same alias at another client matches nothing', async () => {
        // OIDC Core §8.1 pairwise subjects: a sub names a user only at its own client.
        const { client, grant } = await seedGrant();
        const other = newClient();
        await store.clients.insert(other);
        assert.equal(await store.grants.getBySub(other.id, grant.sub), undefined);
        assert.equal(await store.grants.getBySub(client.id, `${grant.sub}x`), undefined);
      });

      it('save of an existing (user, client) updates scopes/channels and keeps id, sub and createdAt', async () => {
        // store.ts GrantRepo.save: inserts, or replaces scopes/channels of the existing (user, client) grant.
        const { user, client, grant } = await seedGrant({ scopes: ['openid', 'nickname'], channels: [] });
        await store.grants.touch(grant.id, NOW + 1);
        const newId = uid('grant');
        const again = await store.grants.save(newGrant(user.id, client.id, {
          id: newId, sub: grant.sub, scopes: ['openid', 'contact'], channels: ['_meta', 'billing'],
          createdAt: NOW + 100, updatedAt: NOW + 100, lastUsedAt: null,
        }));
        const want: Grant = { ...grant, scopes: ['openid', 'contact'], channels: ['_meta', 'billing'], updatedAt: NOW + 100,
          lastUsedAt: NOW + 1 };
        assert.deepEqual(again, want, 'save returns the stored grant');
        assert.deepEqual(await store.grants.get(user.id, client.id), want);
        assert.equal(await store.grants.getById(newId), undefined, 'the id offered by the second save is not used');
        assert.deepEqual((await store.grants.listByUser(user.id)).map((g) => g.id), [grant.id], 'still one grant');
      });

      it('a new grant whose sub is taken at that client, or whose id is taken, throws UniqueViolation', async () => {
        // OIDC Core §8.1 + store.ts GrantRepo.getBySub: a sub names exactly one user at a client; a clash
        // is reported as UniqueViolation and changes nothing.
        const { client, grant } = await seedGrant();
        const intruder = newUser();
        await store.users.insert(intruder);
        await assert.rejects(store.grants.save(newGrant(intruder.id, client.id, { sub: grant.sub })), isUniqueViolation);
        await assert.rejects(store.grants.save(newGrant(intruder.id, client.id, { id: grant.id })), isUniqueViolation);
        assert.equal(await store.grants.get(intruder.id, client.id), undefined);
        assert.deepEqual(await store.grants.getBySub(client.id, grant.sub), grant);
        assert.deepEqual(await store.grants.getById(grant.id), grant);
      });

      it('re-saving a grant keeps the codes and tokens issued under it', async () => {
        // store.ts GrantRepo.save updates in place: only delete cascades (no delete-and-reinsert).
        const { user, client, grant } = await seedGrant();
        const family = uid('family');
        const code = newCode(grant, { familyId: family });
        const at = newAccess(grant, family);
        const rt = newRefresh(grant, family);
        await store.codes.insert(code);
        await store.accessTokens.insert(at);
        await store.refreshTokens.insert(rt);
        await store.grants.save(newGrant(user.id, client.id, { sub: grant.sub, scopes: ['openid', 'offline_access'] }));
        assert.deepEqual(await store.codes.get(code.digest), code);
        assert.deepEqual(await store.accessTokens.get(at.digest), at);
        assert.deepEqual(await store.refreshTokens.get(rt.digest), rt);
      });

      it('getWithGrant reads a token with its grant and the user\'s nickname in one call; client tokens have none', async () => {
        // store.ts AccessTokenRepo.getWithGrant: what userinfo and introspection (RFC 7662 §2.2) need.
        const { user, grant } = await seedGrant();
        const at = newAccess(grant, uid('family'));
        const cc: AccessToken = { ...newAccess(grant, null), userId: null, grantId: null };
        await store.accessTokens.insert(at);
        await store.accessTokens.insert(cc);
        assert.deepEqual(await store.accessTokens.getWithGrant(at.digest), { token: at, grant, nickname: user.nickname });
        assert.deepEqual(await store.accessTokens.getWithGrant(cc.digest), { token: cc, grant: undefined, nickname: null });
        assert.equal(await store.accessTokens.getWithGrant(uid('nope')), undefined);
        await store.grants.touch(grant.id, NOW + 5);
        assert.deepEqual((await store.accessTokens.getWithGrant(at.digest))?.grant, { ...grant, lastUsedAt: NOW + 5 },
          'the grant is read as it is now');
        await store.users.update({ ...user, nickname: 'Ria', updatedAt: NOW + 6 });
        assert.equal((await store.accessTokens.getWithGrant(at.digest))?.nickname, 'Ria', 'the nickname is read as it is now');
      });

      it(`${RACERS} concurrent saves of one (user, client) converge on one grant, round after round`, async () => {
        // store.ts GrantRepo.save is an upsert: consent given from two tabs (or two nodes) at once must
        // neither fail nor duplicate. On PostgreSQL the race is narrow (it hit ~1 round in 12 before the
        // fix in store/sql/), so it runs for many fresh (user, client) pairs; SQLite runs one statement at
        // a time, so a few rounds show convergence there.
        const rounds = kind.name === 'postgres' ? 40 : 5;
        const user = newUser();
        await store.users.insert(user);
        const clients = Array.from({ length: rounds }, () => newClient());
        for (const c of clients) await store.clients.insert(c);
        for (const client of clients) {
          const sub = `sub-${uid('s')}`;
          const settled = await Promise.allSettled(Array.from({ length: RACERS }, (_, i) =>
            (i % 2 ? node2 : store).grants.save(newGrant(user.id, client.id, {
              sub, scopes: ['openid', `s${i}`], createdAt: NOW + i, updatedAt: NOW + i,
            }))));
          const failed = settled.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
          assert.deepEqual(failed, [], `concurrent saves failed for client ${client.id}`);
          const ids = new Set(settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value.id] : [])));
          assert.equal(ids.size, 1, 'every caller gets the same grant');
          const stored = await store.grants.get(user.id, client.id);
          assert.ok(stored);
          assert.equal(stored.id, [...ids][0]);
          assert.equal(stored.sub, sub);
        }
        assert.equal((await store.grants.listByUser(user.id)).length, rounds, 'one grant per client');
      });

      it('listByUser returns all of the user\'s grants and nobody else\'s', async () => {
        // store.ts GrantRepo.listByUser (account page: every app the user allowed).
        const user = newUser();
        const stranger = newUser();
        await store.users.insert(user);
        await store.users.insert(stranger);
        const mine: Grant[] = [];
        for (let i = 0; i < 3; i++) {
          const c = newClient();
          await store.clients.insert(c);
          mine.push(await store.grants.save(newGrant(user.id, c.id, { createdAt: NOW + i, updatedAt: NOW + i })));
          await store.grants.save(newGrant(stranger.id, c.id));
        }
        const listed = await store.grants.listByUser(user.id);
        assert.deepEqual([...listed].sort((a, b) => a.id.localeCompare(b.id)), [...mine].sort((a, b) => a.id.localeCompare(b.id)));
        assert.deepEqual(await store.grants.listByUser(uid('nobody')), []);
      });

      it('touch sets lastUsedAt of that grant only', async () => {
        // store.ts GrantRepo.touch: records when the grant was last used.
        const { grant } = await seedGrant();
        const { grant: other } = await seedGrant();
        await store.grants.touch(grant.id, NOW + 42);
        assert.deepEqual(await store.grants.getById(grant.id), { ...grant, lastUsedAt: NOW + 42 });
        assert.deepEqual(await store.grants.getById(other.id), other);
        await store.grants.touch(grant.id, NOW + 43);
        assert.equal((await store.grants.getById(grant.id))?.lastUsedAt, NOW + 43);
      });

      it('delete removes the grant and, by cascade, its codes, access and refresh tokens', async () => {
        // store.ts GrantRepo.delete: its codes and tokens go with it (revoking an app on the account page).
        const { user, client, grant } = await seedGrant();
        const families = [uid('family'), uid('family')];
        const codes = families.map((f) => newCode(grant, { familyId: f }));
        const ats = families.map((f) => newAccess(grant, f));
        const rts = families.map((f) => newRefresh(grant, f));
        for (const c of codes) await store.codes.insert(c);
        for (const a of ats) await store.accessTokens.insert(a);
        for (const r of rts) await store.refreshTokens.insert(r);
        // The same user's grant at another client is untouched.
        const other = newClient();
        await store.clients.insert(other);
        const keep = await store.grants.save(newGrant(user.id, other.id));
        const keepFamily = uid('family');
        const keepCode = newCode(keep, { familyId: keepFamily });
        const keepAt = newAccess(keep, keepFamily);
        const keepRt = newRefresh(keep, keepFamily);
        await store.codes.insert(keepCode);
        await store.accessTokens.insert(keepAt);
        await store.refreshTokens.insert(keepRt);

        assert.equal(await store.grants.delete(grant.id), true);
        assert.equal(await store.grants.getById(grant.id), undefined);
        assert.equal(await store.grants.get(user.id, client.id), undefined);
        assert.equal(await store.grants.getBySub(client.id, grant.sub), undefined);
        for (const c of codes) assert.equal(await store.codes.get(c.digest), undefined);
        for (const a of ats) assert.equal(await store.accessTokens.get(a.digest), undefined);
        for (const r of rts) assert.equal(await store.refreshTokens.get(r.digest), undefined);

        assert.deepEqual(await store.grants.getById(keep.id), keep);
        assert.deepEqual(await store.codes.get(keepCode.digest), keepCode);
        assert.deepEqual(await store.accessTokens.get(keepAt.digest), keepAt);
        assert.deepEqual(await store.refreshTokens.get(keepRt.digest), keepRt);
        assert.deepEqual(await store.clients.get(client.id), client, 'the client stays');
        assert.equal(await store.grants.delete(grant.id), false, 'a second delete finds nothing');
      });
    });

    describe('authorization codes', () => {
      it('insert then get returns the code exactly as stored', async () => {
        // store.ts CodeRepo.insert/get: a code and what it is bound to (client, redirect_uri, PKCE) round-trip.
        const { grant } = await seedGrant({ scopes: ['openid', 'contact'], channels: ['_meta', 'news'] });
        const code = newCode(grant, { codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', nonce: 'n-0S6_WzA2Mj' });
        await store.codes.insert(code);
        assert.deepEqual(await store.codes.get(code.digest), code);
        assert.equal(await store.codes.get(uid('missing')), undefined);
      });

      it('consume returns the code once, then never again', async () => {
        // RFC 6749 §4.1.2: a code is single use.
        const { grant } = await seedGrant();
        const code = newCode(grant);
        await store.codes.insert(code);
        assert.deepEqual(await store.codes.consume(code.digest, NOW + 5), { ...code, consumedAt: NOW + 5 });
        assert.equal(await store.codes.consume(code.digest, NOW + 6), undefined);
        assert.deepEqual(await store.codes.get(code.digest), { ...code, consumedAt: NOW + 5 },
          'a consumed code stays readable, so reuse can be detected (RFC 9700 §4.14)');
        assert.equal(await store.codes.consume(uid('missing'), NOW), undefined);
      });

      it('consumeWithGrant consumes as consume does and returns the code with its grant and the user\'s nickname', async () => {
        // store.ts CodeRepo.consumeWithGrant: the redemption's reads in the same statement (PostgreSQL).
        const { user, grant } = await seedGrant({ scopes: ['openid', 'nickname'] });
        await store.users.update({ ...user, nickname: 'Ria', updatedAt: NOW + 1 });
        const code = newCode(grant);
        await store.codes.insert(code);
        const spent = await store.transaction((tx) => tx.codes.consumeWithGrant(code.digest, NOW + 5));
        assert.deepEqual(spent, { row: { ...code, consumedAt: NOW + 5 }, grant: await store.grants.getById(grant.id), nickname: 'Ria' });
        assert.equal(await store.codes.consumeWithGrant(code.digest, NOW + 6), undefined, 'single use');
        assert.equal(await store.codes.consumeWithGrant(uid('missing'), NOW), undefined);
        const fresh = newCode(grant);
        await store.codes.insert(fresh);
        const racing = await race(RACERS, (i) => (i % 2 ? node2 : store).codes.consumeWithGrant(fresh.digest, NOW + i));
        assert.equal(racing.filter((r) => r !== undefined).length, 1, 'exactly one concurrent caller wins');
      });

      it(`${RACERS} concurrent consumers of one code: exactly one wins`, async () => {
        // RFC 6749 §4.1.2 + store.ts CodeRepo.consume: exactly one of any number of concurrent callers gets the code.
        const { grant } = await seedGrant();
        const code = newCode(grant);
        await store.codes.insert(code);
        const results = await race(RACERS, (i) => store.codes.consume(code.digest, NOW + 1 + i));
        const winners = results.filter((r) => r !== undefined);
        assert.equal(winners.length, 1, `winners: ${winners.length}`);
        const winner = winners[0]!;
        assert.deepEqual(winner, { ...code, consumedAt: winner.consumedAt });
        assert.deepEqual(await store.codes.get(code.digest), winner, 'the stored consumedAt is the winner\'s');
      });

      it(`${RACERS} concurrent consumers inside transactions: exactly one wins`, async () => {
        // RFC 6749 §4.1.2: the token endpoint consumes the code inside store.transaction; still one winner.
        const { grant } = await seedGrant();
        const code = newCode(grant);
        await store.codes.insert(code);
        const results = await race(RACERS, (i) => store.transaction(async (tx) => {
          const won = await tx.codes.consume(code.digest, NOW + 1 + i);
          if (won) await tx.accessTokens.insert(newAccess(grant, won.familyId, { digest: `at-of-${code.digest}-${i}` }));
          return won;
        }));
        assert.equal(results.filter((r) => r !== undefined).length, 1);
        let issued = 0;
        for (let i = 0; i < RACERS; i++) if (await store.accessTokens.get(`at-of-${code.digest}-${i}`)) issued++;
        assert.equal(issued, 1, 'exactly one token was minted from the code');
      });

      it(`${RACERS} concurrent consumers on two nodes: exactly one wins`, async () => {
        // DESIGN.md "Data and scale": any node serves any step; the database decides the one winner.
        const { grant } = await seedGrant();
        const code = newCode(grant);
        await store.codes.insert(code);
        const results = await race(RACERS, (i) => (i % 2 ? node2 : store).codes.consume(code.digest, NOW + 1 + i));
        assert.equal(results.filter((r) => r !== undefined).length, 1);
      });
    });

    describe('access tokens', () => {
      it('insert then get returns the token; client_credentials tokens have no user, grant or family', async () => {
        // store.ts AccessTokenRepo.insert/get.
        const { grant } = await seedGrant({ scopes: ['openid', 'contact'], channels: ['news'] });
        const at = newAccess(grant, uid('family'));
        const cc: AccessToken = { ...newAccess(grant, null), userId: null, grantId: null, scopes: ['contact'], channels: [] };
        await store.accessTokens.insert(at);
        await store.accessTokens.insert(cc);
        assert.deepEqual(await store.accessTokens.get(at.digest), at);
        assert.deepEqual(await store.accessTokens.get(cc.digest), cc);
        assert.equal(await store.accessTokens.get(uid('missing')), undefined);
      });

      it('revoke marks that token revoked, and only that one', async () => {
        // RFC 7009 §2.1 / store.ts AccessTokenRepo.revoke.
        const { grant } = await seedGrant();
        const family = uid('family');
        const a = newAccess(grant, family);
        const b = newAccess(grant, family);
        await store.accessTokens.insert(a);
        await store.accessTokens.insert(b);
        await store.accessTokens.revoke(a.digest, NOW + 7);
        assert.deepEqual(await store.accessTokens.get(a.digest), { ...a, revokedAt: NOW + 7 });
        assert.deepEqual(await store.accessTokens.get(b.digest), b);
        await store.accessTokens.revoke(a.digest, NOW + 8);
        assert.notEqual((await store.accessTokens.get(a.digest))?.revokedAt ?? null, null, 'stays revoked');
        await store.accessTokens.revoke(uid('missing'), NOW); // RFC 7009 §2.2: unknown tokens are no error
      });
    });

    describe('refresh tokens', () => {
      it('insert then get returns the token exactly as stored', async () => {
        // store.ts RefreshTokenRepo.insert/get.
        const { grant } = await seedGrant({ scopes: ['openid', 'offline_access'] });
        const rt = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(rt);
        assert.deepEqual(await store.refreshTokens.get(rt.digest), rt);
        assert.equal(await store.refreshTokens.get(uid('missing')), undefined);
      });

      it('rotateWithGrant rotates as rotate does and returns the token with its grant', async () => {
        // store.ts RefreshTokenRepo.rotateWithGrant: the rotation's reads in the same statement (PostgreSQL).
        const { user, grant } = await seedGrant({ scopes: ['openid', 'offline_access'] });
        await store.users.update({ ...user, nickname: 'Ria', updatedAt: NOW + 1 });
        const rt = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(rt);
        const spent = await store.transaction((tx) => tx.refreshTokens.rotateWithGrant(rt.digest, NOW + 1));
        assert.deepEqual(spent, { row: { ...rt, rotatedAt: NOW + 1 }, grant: await store.grants.getById(grant.id), nickname: 'Ria' });
        assert.equal(await store.refreshTokens.rotateWithGrant(rt.digest, NOW + 2), undefined, 'rotated once');
        assert.equal(await store.refreshTokens.rotateWithGrant(uid('missing'), NOW), undefined);
        const results = await race(RACERS, async (i) => (i % 2 ? node2 : store).refreshTokens.rotateWithGrant(rt.digest, NOW + i));
        assert.equal(results.filter((r) => r !== undefined).length, 0, 'a rotated token never rotates again');
        const fresh = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(fresh);
        const racing = await race(RACERS, (i) => (i % 2 ? node2 : store).refreshTokens.rotateWithGrant(fresh.digest, NOW + i));
        assert.equal(racing.filter((r) => r !== undefined).length, 1, 'exactly one concurrent caller wins');
      });

      it('rotate succeeds once; a rotated, revoked or unknown token does not rotate', async () => {
        // RFC 9700 §4.14.2 refresh token rotation: each refresh token is used once.
        const { grant } = await seedGrant();
        const rt = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(rt);
        assert.deepEqual(await store.refreshTokens.rotate(rt.digest, NOW + 1), { ...rt, rotatedAt: NOW + 1 },
          'the winner gets the token as stored now');
        assert.deepEqual(await store.refreshTokens.get(rt.digest), { ...rt, rotatedAt: NOW + 1 });
        assert.equal(await store.refreshTokens.rotate(rt.digest, NOW + 2), undefined);
        assert.equal((await store.refreshTokens.get(rt.digest))?.rotatedAt, NOW + 1);

        const revoked = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(revoked);
        await store.refreshTokens.revoke(revoked.digest, NOW + 3);
        assert.deepEqual(await store.refreshTokens.get(revoked.digest), { ...revoked, revokedAt: NOW + 3 });
        assert.equal(await store.refreshTokens.rotate(revoked.digest, NOW + 4), undefined, 'a revoked token is not current');
        assert.equal((await store.refreshTokens.get(revoked.digest))?.rotatedAt, null);

        assert.equal(await store.refreshTokens.rotate(uid('missing'), NOW), undefined);
        await store.refreshTokens.revoke(uid('missing'), NOW);
      });

      it(`${RACERS} concurrent rotations of one token: exactly one gets it`, async () => {
        // RFC 9700 §4.14.2 + store.ts RefreshTokenRepo.rotate: exactly one concurrent caller wins.
        const { grant } = await seedGrant();
        const rt = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(rt);
        const results = await race(RACERS, (i) => store.refreshTokens.rotate(rt.digest, NOW + 1 + i));
        assert.equal(results.filter((r) => r).length, 1, `winners: ${results.filter((r) => r).length}`);
        const winnerAt = NOW + 1 + results.findIndex((r) => r !== undefined);
        assert.equal(results.find((r) => r)?.rotatedAt, winnerAt, 'the winner gets its own rotation time');
        assert.equal((await store.refreshTokens.get(rt.digest))?.rotatedAt, winnerAt, 'the stored rotatedAt is the winner\'s');
      });

      it(`${RACERS} concurrent rotations inside transactions and on two nodes: exactly one gets it`, async () => {
        // RFC 9700 §4.14.2: the refresh grant rotates inside store.transaction on any node; still one winner.
        const { grant } = await seedGrant();
        const a = newRefresh(grant, uid('family'));
        const b = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(a);
        await store.refreshTokens.insert(b);
        const inTx = await race(RACERS, (i) => store.transaction((tx) => tx.refreshTokens.rotate(a.digest, NOW + i)));
        assert.equal(inTx.filter((r) => r).length, 1);
        const twoNodes = await race(RACERS, (i) => (i % 2 ? node2 : store).refreshTokens.rotate(b.digest, NOW + i));
        assert.equal(twoNodes.filter((r) => r).length, 1);
      });

      it(`retry after a lost answer: ${RACERS} concurrent claims on two nodes, exactly one wins; a used successor cannot be superseded`, async () => {
        // docs/security.md "A retry after a lost answer": claimRetry and supersede are single-winner updates.
        const { grant } = await seedGrant();
        const old = newRefresh(grant, uid('family'));
        const next = newRefresh(grant, old.familyId);
        await store.refreshTokens.insert(old);
        await store.refreshTokens.insert(next);
        assert.ok(await store.refreshTokens.rotate(old.digest, NOW + 1));
        await store.refreshTokens.link(old.digest, { refresh: next.digest, access: uid('access') });
        assert.equal(await store.refreshTokens.claimRetry(old.digest, NOW + 2, NOW + 2), undefined, 'rotated before the window');
        // Inside transactions (as the grant runs it), and on two nodes (as in the rotation tests above).
        const claims = await race(RACERS, (i) => store.transaction((tx) => tx.refreshTokens.claimRetry(old.digest, NOW + 3 + i, NOW)));
        assert.equal(claims.filter((c) => c).length, 1, `winners: ${claims.filter((c) => c).length}`);
        assert.equal(claims.find((c) => c)?.nextDigest, next.digest);
        const other = newRefresh(grant, uid('family'));
        await store.refreshTokens.insert(other);
        assert.ok(await store.refreshTokens.rotate(other.digest, NOW + 1));
        await store.refreshTokens.link(other.digest, { refresh: uid('next'), access: uid('access') });
        const twoNodes = await race(RACERS, (i) => (i % 2 ? node2 : store).refreshTokens.claimRetry(other.digest, NOW + 3 + i, NOW));
        assert.equal(twoNodes.filter((c) => c).length, 1);
        // The successor's own use and its supersession race on one row: one wins.
        const both = await race(2, (i) => (i ? store.refreshTokens.supersede(next.digest, NOW + 9) : node2.refreshTokens.rotate(next.digest, NOW + 9)));
        assert.equal(both.filter((r) => r).length, 1);
        assert.equal(await store.refreshTokens.supersede(next.digest, NOW + 10), undefined, 'a spent token is not taken back');
      });

      it('tokens of different code exchanges rotate independently', async () => {
        // DESIGN.md: refresh tokens from different code exchanges are independent of each other.
        const { grant } = await seedGrant();
        const tokens = Array.from({ length: 5 }, () => newRefresh(grant, uid('family')));
        for (const rt of tokens) await store.refreshTokens.insert(rt);
        const results = await race(tokens.length, (i) => store.refreshTokens.rotate(tokens[i]!.digest, NOW));
        assert.deepEqual(results.map((r) => r?.digest), tokens.map((t) => t.digest));
      });
    });

    describe('families', () => {
      it('revoke revokes the access and refresh tokens of that family only', async () => {
        // RFC 9700 §4.14 / store.ts FamilyRepo.revoke: a reused code revokes every token issued from it.
        const { grant } = await seedGrant();
        const family = uid('family');
        const otherFamily = uid('family');
        const ats = [newAccess(grant, family), newAccess(grant, family)];
        const rts = [newRefresh(grant, family), newRefresh(grant, family, { rotatedAt: NOW })];
        const otherAt = newAccess(grant, otherFamily);
        const otherRt = newRefresh(grant, otherFamily);
        const noFamily = newAccess(grant, null);
        for (const a of [...ats, otherAt, noFamily]) await store.accessTokens.insert(a);
        for (const r of [...rts, otherRt]) await store.refreshTokens.insert(r);
        // Another grant's tokens in another family are untouched too.
        const { grant: g2 } = await seedGrant();
        const strangerAt = newAccess(g2, uid('family'));
        await store.accessTokens.insert(strangerAt);

        await store.families.revoke(family, NOW + 9);
        for (const a of ats) assert.deepEqual(await store.accessTokens.get(a.digest), { ...a, revokedAt: NOW + 9 });
        for (const r of rts) assert.deepEqual(await store.refreshTokens.get(r.digest), { ...r, revokedAt: NOW + 9 });
        assert.deepEqual(await store.accessTokens.get(otherAt.digest), otherAt);
        assert.deepEqual(await store.refreshTokens.get(otherRt.digest), otherRt);
        assert.deepEqual(await store.accessTokens.get(noFamily.digest), noFamily);
        assert.deepEqual(await store.accessTokens.get(strangerAt.digest), strangerAt);
        assert.equal(await store.refreshTokens.rotate(rts[0]!.digest, NOW + 10), undefined, 'a revoked family cannot refresh');
        await store.families.revoke(uid('family'), NOW); // unknown family: nothing to do, no error
      });

      it('revokeByUser revokes every access and refresh token of that user, of every app, and no one else’s', async () => {
        // RFC 9700 §4.14.2 / store.ts FamilyRepo.revokeByUser: a password reset ends every token of the account.
        const { grant, user } = await seedGrant();
        const c2 = newClient();
        await store.clients.insert(c2);
        const g2 = await store.grants.save(newGrant(user.id, c2.id));
        const ats = [newAccess(grant, uid('family')), newAccess(g2, null), newAccess(g2, uid('family'), { revokedAt: NOW + 1 })];
        const rts = [newRefresh(grant, uid('family')), newRefresh(g2, uid('family'), { rotatedAt: NOW })];
        for (const a of ats) await store.accessTokens.insert(a);
        for (const r of rts) await store.refreshTokens.insert(r);
        const { grant: stranger } = await seedGrant();
        const strangerAt = newAccess(stranger, uid('family'));
        const strangerRt = newRefresh(stranger, uid('family'));
        await store.accessTokens.insert(strangerAt);
        await store.refreshTokens.insert(strangerRt);

        await store.families.revokeByUser(user.id, NOW + 9);
        assert.deepEqual(await store.accessTokens.get(ats[0]!.digest), { ...ats[0]!, revokedAt: NOW + 9 });
        assert.deepEqual(await store.accessTokens.get(ats[1]!.digest), { ...ats[1]!, revokedAt: NOW + 9 });
        assert.deepEqual(await store.accessTokens.get(ats[2]!.digest), ats[2], 'an earlier revocation keeps its time');
        for (const r of rts) assert.deepEqual(await store.refreshTokens.get(r.digest), { ...r, revokedAt: NOW + 9 });
        assert.deepEqual(await store.accessTokens.get(strangerAt.digest), strangerAt);
        assert.deepEqual(await store.refreshTokens.get(strangerRt.digest), strangerRt);
        assert.equal(await store.refreshTokens.rotate(rts[0]!.digest, NOW + 10), undefined, 'a revoked token cannot refresh');
        await store.families.revokeByUser(uid('user'), NOW); // unknown user: nothing to do, no error
      });
    });

    describe('signing keys', () => {
      // Keys are global rows: these tests look only at the kids they inserted.
      const pick = async (kids: string[]): Promise<Map<string, SigningKeyRecord>> =>
        new Map((await store.keys.list()).filter((k) => kids.includes(k.kid)).map((k) => [k.kid, k]));

      it('insert then list returns the key exactly as stored', async () => {
        // store.ts SigningKeyRepo.insert/list.
        const active = newKey({ createdAt: NOW + 1 });
        const retired = newKey({ status: 'retired', createdAt: NOW, retiredAt: NOW + 2 });
        await store.keys.insert(active);
        await store.keys.insert(retired);
        const got = await pick([active.kid, retired.kid]);
        assert.deepEqual(got.get(active.kid), active);
        assert.deepEqual(got.get(retired.kid), retired);
        const all = await store.keys.list();
        assert.equal(new Set(all.map((k) => k.kid)).size, all.length, 'no key listed twice');
      });

      it('retireAllBut retires every other active key and leaves retired keys as they were', async () => {
        // store.ts SigningKeyRepo.retireAllBut: retires every active key except `kid` (`aliasid keys rotate`).
        const before = (await store.keys.list()).filter((k) => k.status === 'active').map((k) => k.kid);
        const old1 = newKey({ createdAt: NOW });
        const old2 = newKey({ createdAt: NOW + 1 });
        const gone = newKey({ status: 'retired', createdAt: NOW - MINUTE, retiredAt: NOW - 1 });
        const fresh = newKey({ createdAt: NOW + 2 });
        for (const k of [old1, old2, gone, fresh]) await store.keys.insert(k);
        await store.keys.retireAllBut(fresh.kid, NOW + 100);
        const got = await pick([old1.kid, old2.kid, gone.kid, fresh.kid, ...before]);
        assert.deepEqual(got.get(fresh.kid), fresh);
        assert.deepEqual(got.get(old1.kid), { ...old1, status: 'retired', retiredAt: NOW + 100 });
        assert.deepEqual(got.get(old2.kid), { ...old2, status: 'retired', retiredAt: NOW + 100 });
        assert.deepEqual(got.get(gone.kid), gone, 'an already retired key keeps its retiredAt');
        for (const kid of before) assert.equal(got.get(kid)?.status, 'retired', `earlier active key ${kid}`);
        assert.deepEqual((await store.keys.list()).filter((k) => k.status === 'active').map((k) => k.kid), [fresh.kid]);
      });

      it('retireAllBut retires only keys of the same algorithm', async () => {
        // store.ts SigningKeyRepo.retireAllBut: "every other active key of `kid`'s algorithm ...
        // keys of other algorithms are left alone" (one key set per algorithm, keys.ts).
        const rsa = newKey({ createdAt: NOW });
        const ec1 = newKey({ alg: 'ES256', createdAt: NOW });
        const ec2 = newKey({ alg: 'ES256', createdAt: NOW + 1 });
        for (const k of [rsa, ec1, ec2]) await store.keys.insert(k);
        await store.keys.retireAllBut(ec2.kid, NOW + 100);
        const got = await pick([rsa.kid, ec1.kid, ec2.kid]);
        assert.deepEqual(got.get(rsa.kid), rsa, 'the RS256 key stays active');
        assert.deepEqual(got.get(ec1.kid), { ...ec1, status: 'retired', retiredAt: NOW + 100 });
        assert.deepEqual(got.get(ec2.kid), ec2);
        const rsa2 = newKey({ createdAt: NOW + 2 });
        await store.keys.insert(rsa2);
        await store.keys.retireAllBut(rsa2.kid, NOW + 200);
        const after = await pick([rsa.kid, ec2.kid, rsa2.kid]);
        assert.deepEqual(after.get(rsa.kid), { ...rsa, status: 'retired', retiredAt: NOW + 200 });
        assert.deepEqual(after.get(ec2.kid), ec2, 'the ES256 key stays active');
        const active = (await store.keys.list()).filter((k) => k.status === 'active');
        assert.deepEqual(active.map((k) => k.kid).sort(), [rsa2.kid, ec2.kid].sort(), 'one active key per algorithm');
        // An unknown kid names no algorithm: nothing is retired.
        await store.keys.retireAllBut(uid('kid'), NOW + 300);
        assert.deepEqual((await store.keys.list()).filter((k) => k.status === 'active').map((k) => k.kid).sort(), [rsa2.kid, ec2.kid].sort());
      });

      it('deleteRetiredBefore deletes only keys retired before the time, and counts them', async () => {
        // store.ts SigningKeyRepo.deleteRetiredBefore: deletes retired keys retired before `before`.
        const cut = NOW + 10 * MINUTE;
        await store.keys.deleteRetiredBefore(cut); // earlier tests' retired keys
        const old1 = newKey({ status: 'retired', createdAt: NOW, retiredAt: cut - MINUTE });
        const old2 = newKey({ status: 'retired', createdAt: NOW, retiredAt: cut - 1 });
        const atCut = newKey({ status: 'retired', createdAt: NOW, retiredAt: cut });
        const later = newKey({ status: 'retired', createdAt: NOW, retiredAt: cut + 1 });
        const ancientActive = newKey({ status: 'active', createdAt: NOW - 365 * 24 * 60 * MINUTE });
        for (const k of [old1, old2, atCut, later, ancientActive]) await store.keys.insert(k);
        assert.equal(await store.keys.deleteRetiredBefore(cut), 2);
        const got = await pick([old1.kid, old2.kid, atCut.kid, later.kid, ancientActive.kid]);
        assert.deepEqual([...got.keys()].sort(), [atCut.kid, later.kid, ancientActive.kid].sort());
        assert.deepEqual(got.get(ancientActive.kid), ancientActive, 'an active key is never deleted');
        assert.equal(await store.keys.deleteRetiredBefore(cut), 0);
      });
    });

    describe('settings', () => {
      it('putIfAbsent stores the first value; later values do not replace it', async () => {
        // store.ts SettingsRepo.putIfAbsent: stores value unless the key exists; returns what is stored.
        const key = uid('setting');
        assert.equal(await store.settings.get(key), undefined);
        assert.equal(await store.settings.putIfAbsent(key, 'first'), 'first');
        assert.equal(await store.settings.putIfAbsent(key, 'second'), 'first');
        assert.equal(await store.settings.get(key), 'first');
      });

      it(`${RACERS} concurrent putIfAbsent on two nodes all get the one stored value`, async () => {
        // store.ts SettingsRepo.putIfAbsent: every node booting at once derives the same pairwise salt.
        const key = uid('setting');
        const results = await race(RACERS, (i) => (i % 2 ? node2 : store).settings.putIfAbsent(key, `value-${i}`));
        const stored = await store.settings.get(key);
        assert.ok(stored !== undefined && results.includes(stored), 'the stored value is one that was offered');
        assert.deepEqual(results, results.map(() => stored), 'every caller is told the stored value');
      });

      it('lock stores the value when absent and keeps a stored one', async () => {
        // store.ts SettingsRepo.lock: "stores `value` unless the key exists ... The stored value is kept."
        const key = uid('setting');
        await store.transaction((tx) => tx.settings.lock(key, 'first'));
        assert.equal(await store.settings.get(key), 'first');
        await store.transaction((tx) => tx.settings.lock(key, 'second'));
        assert.equal(await store.settings.get(key), 'first');
        const existing = uid('setting');
        await store.settings.putIfAbsent(existing, 'stored');
        await store.transaction((tx) => tx.settings.lock(existing, 'other'));
        assert.equal(await store.settings.get(existing), 'stored');
        // Rolled back with its transaction, like any write.
        const gone = uid('setting');
        await assert.rejects(store.transaction(async (tx) => {
          await tx.settings.lock(gone, 'v');
          throw new Error('roll back');
        }));
        assert.equal(await store.settings.get(gone), undefined);
      });

      // Several nodes exist only on PostgreSQL: SQLite runs one write transaction at a time
      // by itself, and two handles in one process would block each other (better-sqlite3
      // waits synchronously), so there the test has nothing to run against.
      if (kind.name === 'postgres') it('a transaction PostgreSQL aborts for a deadlock runs again, and both finish', async () => {
        // store.ts Store.transaction + PostgreSQL docs §13.6: a deadlock (40P01) aborts one
        // transaction, which did nothing and is run again. Two nodes lock two rows in
        // opposite orders.
        const a = uid('row-a');
        const b = uid('row-b');
        await store.settings.putIfAbsent(a, '0');
        await store.settings.putIfAbsent(b, '0');
        let runs = 0;
        let firstHasA!: () => void;
        const aLocked = new Promise<void>((r) => { firstHasA = r; });
        let secondHasB!: () => void;
        const bLocked = new Promise<void>((r) => { secondHasB = r; });
        const first = store.transaction(async (tx) => {
          runs++;
          await tx.settings.lock(a, 'x');
          firstHasA();
          await bLocked;
          await tx.settings.lock(b, 'x');
          return 'first';
        });
        const second = node2.transaction(async (tx) => {
          runs++;
          await tx.settings.lock(b, 'x');
          secondHasB();
          await aLocked;
          await tx.settings.lock(a, 'x');
          return 'second';
        });
        assert.deepEqual(await Promise.all([first, second]), ['first', 'second']);
        assert.equal(runs, 3, 'the transaction aborted for the deadlock ran again');
      });

      if (kind.name === 'postgres') it('lock makes a second node wait for the first one\'s commit, then see what it wrote', async () => {
        // store.ts SettingsRepo.lock: "transactions locking one key on several nodes run one
        // after another (each sees what the previous one committed)" (signing keys: keys.ts ensureKey).
        for (const lockExists of [false, true]) {
          const key = uid('lock');
          if (lockExists) await store.settings.putIfAbsent(key, 'claimed long ago');
          const written = uid('setting');
          let release!: () => void;
          const held = new Promise<void>((r) => { release = r; });
          let locked!: () => void;
          const firstHasLock = new Promise<void>((r) => { locked = r; });
          const first = store.transaction(async (tx) => {
            await tx.settings.lock(key, 'a');
            locked();
            await held;
            await tx.settings.putIfAbsent(written, 'by the first');
          });
          await firstHasLock;
          let secondLocked = false;
          const second = node2.transaction(async (tx) => {
            await tx.settings.lock(key, 'b');
            secondLocked = true;
            return tx.settings.get(written);
          });
          await new Promise((r) => setTimeout(r, 300));
          assert.equal(secondLocked, false, `the second node waits while the first holds the lock (row existed: ${lockExists})`);
          release();
          await first;
          assert.equal(await second, 'by the first', 'then it sees the first one\'s commit');
        }
      });
    });

    describe('throttles', () => {
      it('put stores or replaces, get reads, delete removes', async () => {
        // store.ts ThrottleRepo.put/get/delete (failure counters for lockouts).
        const key = `login:${uid('acct')}`;
        assert.equal(await store.throttles.get(key), undefined);
        const first = { key, failures: 1, windowStart: NOW, blockedUntil: 0 };
        await store.throttles.put(first);
        assert.deepEqual(await store.throttles.get(key), first);
        const second = { key, failures: 6, windowStart: NOW, blockedUntil: NOW + 30_000 };
        await store.throttles.put(second);
        assert.deepEqual(await store.throttles.get(key), second, 'put replaces the existing counter');
        const other = { key: `${key}:other`, failures: 2, windowStart: NOW + 1, blockedUntil: 0 };
        await store.throttles.put(other);
        await store.throttles.delete(key);
        assert.equal(await store.throttles.get(key), undefined);
        assert.deepEqual(await store.throttles.get(other.key), other, 'delete removes only that key');
        await store.throttles.delete(key);
      });

      it('reset forgets failures and block but keeps the row; it makes none for a missing key', async () => {
        // store.ts ThrottleRepo.reset: clearing a counter never deletes the row a reservation may be waiting on.
        const key = `login:${uid('reset')}`;
        await store.throttles.put({ key, failures: 7, windowStart: NOW, blockedUntil: NOW + 60_000 });
        await store.throttles.reset(key);
        assert.deepEqual(await store.throttles.get(key), { key, failures: 0, windowStart: NOW, blockedUntil: 0 });
        await store.throttles.reset(`${key}:none`);
        assert.equal(await store.throttles.get(`${key}:none`), undefined);
      });

      it('reserveMany counts several counters in one step, answers in the order given, and leaves a blocked one as it is', async () => {
        // store.ts ThrottleRepo.reserveMany: a sign-in's account and source counters in one statement.
        const [a, b, c] = ['b', 'a', 'c'].map((x) => `login:${uid(`many-${x}`)}`) as [string, string, string];
        const strict = { allowed: 2, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 60_000 };
        const loose = { allowed: 100, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 60_000 };
        const first = await store.throttles.reserveMany([{ key: a, policy: strict }, { key: b, policy: loose }], NOW);
        assert.deepEqual(first, [{ key: a, failures: 1, windowStart: NOW, blockedUntil: 0 },
          { key: b, failures: 1, windowStart: NOW, blockedUntil: 0 }], 'new rows, in the order asked');
        const second = await store.throttles.reserveMany([{ key: b, policy: loose }, { key: a, policy: strict }], NOW + 5);
        assert.deepEqual(second, [{ key: b, failures: 2, windowStart: NOW, blockedUntil: 0 },
          { key: a, failures: 2, windowStart: NOW, blockedUntil: NOW + 5 + 1_000 }], 'each by its own policy: a used its last free try');
        const third = await store.throttles.reserveMany([{ key: c, policy: loose }, { key: a, policy: strict }, { key: b, policy: loose }], NOW + 10);
        assert.equal(third[1], undefined, 'a is blocked: no answer for it');
        assert.deepEqual([third[0]!.failures, third[2]!.failures], [1, 3]);
        assert.deepEqual(await store.throttles.get(a), { key: a, failures: 2, windowStart: NOW, blockedUntil: NOW + 1_005 },
          'and a blocked counter is not changed');
      });

      it('settle takes attempts back on some counters and resets others in one step; it makes no row for a missing key', async () => {
        // store.ts ThrottleRepo.settle: a successful sign-in's two counters.
        const [a, b, none] = ['a', 'b', 'none'].map((x) => `login:${uid(`settle-${x}`)}`) as [string, string, string];
        const policy = { allowed: 2, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 60_000 };
        await store.throttles.put({ key: a, failures: 2, windowStart: NOW, blockedUntil: NOW + 1_000 });
        await store.throttles.put({ key: b, failures: 7, windowStart: NOW, blockedUntil: NOW + 60_000 });
        await store.throttles.settle([{ key: a, policy }], [b, none]);
        assert.deepEqual(await store.throttles.get(a), { key: a, failures: 1, windowStart: NOW, blockedUntil: 0 },
          'one attempt back, and under the allowance no block');
        assert.deepEqual(await store.throttles.get(b), { key: b, failures: 0, windowStart: NOW, blockedUntil: 0 }, 'reset, row kept');
        assert.equal(await store.throttles.get(none), undefined);
        await store.throttles.put({ key: b, failures: 9, windowStart: NOW, blockedUntil: NOW + 60_000 });
        await store.throttles.settle([{ key: a, policy }, { key: b, policy }], []);
        assert.deepEqual((await store.throttles.get(b))!.blockedUntil, NOW + 60_000, 'still over the allowance: the block stays');
        assert.equal((await store.throttles.get(b))!.failures, 8);
        assert.equal((await store.throttles.get(a))!.failures, 0);
      });

      it('reservations and clears of one counter at the same moment on two nodes all succeed', async () => {
        // A successful sign-in clears its account's counter while other attempts of that
        // account hold or wait for its row lock (issue 16 item 1); none of them may fail.
        const key = `login:${uid('clear-race')}`;
        const policy = { allowed: 1000, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 60_000 };
        const a = createThrottler(store, () => NOW);
        const b = createThrottler(kind.name === 'postgres' ? node2 : store, () => NOW);
        const results = await Promise.allSettled(Array.from({ length: RACERS }, (_, i) =>
          (i % 2 ? a.reserve(key, policy) : b.clear(key))));
        assert.deepEqual(results.filter((r) => r.status === 'rejected'), []);
      });

      it('failures counted at the same moment on two nodes are all counted (lock)', async () => {
        // DESIGN: failures are counted per account/client; with several nodes the counters
        // are shared, so concurrent failures must not overwrite each other.
        const key = `client:${uid('race')}`;
        const policy = { allowed: 1000, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 60_000 };
        const a = createThrottler(store, () => NOW);
        // Two SQLite connections in one process would block each other's event loop (the
        // driver waits synchronously); SQLite nodes are separate processes in real life.
        const b = createThrottler(kind.name === 'postgres' ? node2 : store, () => NOW);
        await Promise.all(Array.from({ length: RACERS }, (_, i) => (i % 2 ? a : b).fail(key, policy)));
        assert.equal((await store.throttles.get(key))!.failures, RACERS);
      });
    });

    describe('leased queues: release', () => {
      // store.ts LogoutDeliveryRepo.release / MessageRepo.release: a stopping worker hands
      // back what it claimed and never started; a lease another worker holds stays.
      it('release ends this claim\'s lease on messages without counting an attempt; the rows are claimable at once', async () => {
        const { user, client } = await seedGrant();
        const t = NOW + 10_000_000;
        const ids = [0, 1, 2].map(() => randomBytes(8).toString('hex'));
        for (const id of ids) {
          await store.messages.insert({ id, clientId: client.id, userId: user.id, channel: 'news', subject: 's', body: 'b',
            idempotencyKey: null, status: 'queued', attempts: 0, nextAttemptAt: t, leaseUntil: null, lastError: null,
            createdAt: t, deliveredAt: null });
        }
        const claimed = (await store.messages.claim(t, t + 60_000, 10)).filter((m) => ids.includes(m.id));
        assert.equal(claimed.length, 3);
        assert.deepEqual((await node2.messages.claim(t, t + 90_000, 10)).filter((m) => ids.includes(m.id)), [],
          'leased: nobody else gets them');
        assert.equal(await store.messages.release([ids[0]!, ids[1]!], t + 60_000), 2);
        const again = (await node2.messages.claim(t + 1, t + 90_000, 10)).filter((m) => ids.includes(m.id));
        assert.deepEqual(again.map((m) => m.id).sort(), [ids[0], ids[1]].sort(), 'released rows are claimable at once');
        for (const m of again) assert.equal(m.attempts, 0, 'no attempt counted');
        assert.equal(await store.messages.release([ids[0]!], t + 60_000), 0, 'a lease another worker took since stays');
        assert.equal((await store.messages.get(ids[0]!))!.leaseUntil, t + 90_000);
        assert.equal(await store.messages.release([], t), 0);
      });

      it('release works the same for back-channel logout deliveries', async () => {
        const { client } = await seedGrant();
        const t = NOW + 20_000_000;
        const id = randomBytes(8).toString('hex');
        await store.logoutDeliveries.enqueue([{ id, clientId: client.id, sub: 'sub-1', status: 'pending', attempts: 0,
          nextAttemptAt: t, leaseUntil: null, lastError: null, createdAt: t }]);
        assert.deepEqual((await store.logoutDeliveries.claim(t, t + 30_000, 50)).map((d) => d.id).filter((x) => x === id), [id]);
        assert.equal(await store.logoutDeliveries.release([id], t + 30_000), 1);
        const d = await store.logoutDeliveries.get(id);
        assert.equal(d!.leaseUntil, null);
        assert.equal(d!.attempts, 0);
        assert.deepEqual((await node2.logoutDeliveries.claim(t + 1, t + 30_000, 50)).map((x) => x.id).filter((x) => x === id), [id]);
      });
    });

    describe('users: verified address', () => {
      it('emailVerified round-trips through insert and update', async () => {
        // store.ts UserRepo: emailVerified is stored as given (sign-up inserts false).
        const u = newUser({ emailVerified: false });
        await store.users.insert(u);
        assert.equal((await store.users.get(u.id))!.emailVerified, false);
        await store.users.update({ ...u, emailVerified: true, updatedAt: NOW + 1 });
        assert.equal((await store.users.getByEmail(u.email))!.emailVerified, true);
      });
    });

    describe('mailed links (account tokens)', () => {
      const link = (userId: string, over: Partial<LinkToken> = {}): LinkToken => ({
        digest: uid('link'), purpose: 'verify_email', userId, data: { interaction: 'i-1' },
        createdAt: NOW, expiresAt: NOW + 60_000, usedAt: null, ...over,
      });

      it('use returns the link once, marks it used, and refuses another purpose or an expired link', async () => {
        // store.ts LinkTokenRepo.use: unused, unexpired, of this purpose; single use.
        const { user } = await seedGrant();
        const l = link(user.id);
        await store.linkTokens.insert(l);
        assert.equal(await store.linkTokens.use(l.digest, 'reset_password', NOW + 1), undefined, 'another purpose');
        assert.deepEqual(await store.linkTokens.use(l.digest, 'verify_email', NOW + 1), { ...l, usedAt: NOW + 1 });
        assert.equal(await store.linkTokens.use(l.digest, 'verify_email', NOW + 2), undefined, 'used');
        assert.deepEqual(await store.linkTokens.get(l.digest), { ...l, usedAt: NOW + 1 });
        const old = link(user.id);
        await store.linkTokens.insert(old);
        assert.equal(await store.linkTokens.use(old.digest, 'verify_email', old.expiresAt), undefined, 'expiresAt is the first invalid instant');
        assert.equal((await store.linkTokens.get(old.digest))!.usedAt, null, 'an expired link is not marked used');
      });

      it(`of ${RACERS} uses at once on two nodes, exactly one wins`, async () => {
        // store.ts LinkTokenRepo.use: one conditional UPDATE decides the single winner.
        const { user } = await seedGrant();
        const l = link(user.id);
        await store.linkTokens.insert(l);
        const results = await Promise.all(Array.from({ length: RACERS }, (_, i) =>
          (i % 2 ? node2 : store).linkTokens.use(l.digest, 'verify_email', NOW + 5)));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('useAll ends the unused links of the given purposes only; deleting the user deletes its links', async () => {
        // store.ts LinkTokenRepo.useAll + migration 008 ON DELETE CASCADE.
        const { user } = await seedGrant();
        const a = link(user.id, { purpose: 'reset_password' });
        const b = link(user.id, { purpose: 'reset_password' });
        const c = link(user.id, { purpose: 'verify_email' });
        for (const x of [a, b, c]) await store.linkTokens.insert(x);
        assert.equal(await store.linkTokens.useAll(user.id, ['reset_password'], NOW + 9), 2);
        assert.equal((await store.linkTokens.get(a.digest))!.usedAt, NOW + 9);
        assert.equal((await store.linkTokens.get(c.digest))!.usedAt, null);
        assert.equal(await store.linkTokens.useAll(user.id, [], NOW + 9), 0);
      });
    });

    describe('mail outbox', () => {
      const mail = (userId: string | null, over: Partial<OutboxMail> = {}): OutboxMail => ({
        id: uid('mail'), userId, purpose: 'verify_email', sealed: 'v1.sealed', status: 'queued', attempts: 0,
        nextAttemptAt: NOW, leaseUntil: null, lastError: null, createdAt: NOW, ...over,
      });

      it('claim leases due mails once; settle retries or gives up (emptying the sealed mail); remove deletes', async () => {
        // store.ts MailOutboxRepo: a leased queue like the relay's.
        const { user } = await seedGrant();
        const t = NOW + 30_000_000;
        const due = mail(user.id, { nextAttemptAt: t });
        const later = mail(user.id, { nextAttemptAt: t + 1_000 });
        await store.mailOutbox.insert(due);
        await store.mailOutbox.insert(later);
        const mine = (await store.mailOutbox.claim(t, t + 60_000, 50)).filter((m) => m.userId === user.id);
        assert.deepEqual(mine, [{ ...due, leaseUntil: t + 60_000 }]);
        assert.deepEqual((await node2.mailOutbox.claim(t, t + 60_000, 50)).filter((m) => m.userId === user.id), [], 'leased');
        await store.mailOutbox.settle(due.id, { status: 'queued', attempts: 1, nextAttemptAt: t + 5_000, lastError: 'SMTP 451: later' });
        const [retry] = (await store.mailOutbox.listByUser(user.id)).filter((m) => m.id === due.id);
        assert.deepEqual(retry, { ...due, attempts: 1, nextAttemptAt: t + 5_000, lastError: 'SMTP 451: later' });
        await store.mailOutbox.settle(due.id, { status: 'failed', attempts: 12, nextAttemptAt: t, lastError: 'SMTP 550: no' });
        const [gone] = (await store.mailOutbox.listByUser(user.id)).filter((m) => m.id === due.id);
        assert.equal(gone!.status, 'failed');
        assert.equal(gone!.sealed, '', 'a mail given up keeps no content');
        await store.mailOutbox.remove(later.id);
        assert.deepEqual((await store.mailOutbox.listByUser(user.id)).map((m) => m.id), [due.id]);
      });

      it('release hands back unstarted mails; a deleted user takes queued mails along, a null user keeps its own', async () => {
        // store.ts MailOutboxRepo.release; migration 008 ON DELETE CASCADE on user_id.
        const { user } = await seedGrant();
        const t = NOW + 40_000_000;
        const m = mail(user.id, { nextAttemptAt: t });
        const orphan = mail(null, { nextAttemptAt: t + 50_000_000 });
        await store.mailOutbox.insert(m);
        await store.mailOutbox.insert(orphan);
        assert.equal((await store.mailOutbox.claim(t, t + 60_000, 50)).filter((x) => x.id === m.id).length, 1);
        assert.equal(await store.mailOutbox.release([m.id], t + 60_000), 1);
        assert.equal((await node2.mailOutbox.claim(t + 1, t + 60_000, 50)).filter((x) => x.id === m.id).length, 1);
        await db!.kysely.deleteFrom('users').where('id', '=', user.id).execute();
        assert.deepEqual(await store.mailOutbox.listByUser(user.id), []);
        const left = await db!.kysely.selectFrom('mail_outbox').select('id').where('id', '=', orphan.id).execute();
        assert.equal(left.length, 1);
      });
    });

    describe('users: list, delete, sessions by user', () => {
      it('delete removes the account and every row tied to it, and nothing of anyone else', async () => {
        // store.ts UserRepo.delete (account deletion, GDPR Art. 17): sessions, grants, codes,
        // tokens, device codes, inbox, links and queued mails go; the audit log and the
        // back-channel logout deliveries queued for the user's apps stay.
        const { user, client, grant } = await seedGrant();
        const other = await seedGrant();
        const sessionOf = (userId: string): Session => ({ idDigest: uid('sid'), userId, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE, device: null, lastSeenAt: null, amr: ['pwd'] });
        const seed = async (g: Grant, c: Client) => {
          const code = newCode(g, { familyId: uid('fam') });
          await store.codes.insert(code);
          const access = newAccess(g, code.familyId);
          await store.accessTokens.insert(access);
          const refresh = newRefresh(g, code.familyId);
          await store.refreshTokens.insert(refresh);
          const session = sessionOf(g.userId);
          await store.sessions.insert(session);
          const message = { id: uid('msg'), clientId: c.id, userId: g.userId, channel: '_meta', subject: 's', body: 'b', idempotencyKey: null,
            status: 'sent' as const, attempts: 1, nextAttemptAt: NOW, leaseUntil: null, lastError: null, createdAt: NOW, deliveredAt: NOW };
          await store.messages.insert(message);
          const link = { digest: uid('link'), purpose: 'verify_email' as const, userId: g.userId, data: {}, createdAt: NOW, expiresAt: NOW + MINUTE, usedAt: null };
          await store.linkTokens.insert(link);
          const mail = { id: uid('mail'), userId: g.userId, purpose: 'verify_email', sealed: 'v1.x', status: 'queued' as const, attempts: 0,
            nextAttemptAt: NOW + 10 ** 12, leaseUntil: null, lastError: null, createdAt: NOW };
          await store.mailOutbox.insert(mail);
          return { code, access, refresh, session, message, link };
        };
        const mine = await seed(grant, client);
        const theirs = await seed(other.grant, other.client);
        await store.logoutDeliveries.enqueue([{ id: uid('ld'), clientId: client.id, sub: grant.sub, status: 'pending', attempts: 0,
          nextAttemptAt: NOW + 10 ** 12, leaseUntil: null, lastError: null, createdAt: NOW }]);
        await store.audit.append({ id: uid('ev'), at: NOW, type: 'login', outcome: 'success', clientId: client.id, sub: grant.sub,
          userRef: null, ipDigest: null, detail: null });

        assert.equal(await store.users.delete(user.id), true);
        assert.equal(await store.users.delete(user.id), false, 'already gone');
        assert.equal(await store.users.get(user.id), undefined);
        assert.equal(await store.grants.getById(grant.id), undefined);
        assert.equal(await store.codes.get(mine.code.digest), undefined);
        assert.equal(await store.accessTokens.get(mine.access.digest), undefined);
        assert.equal(await store.refreshTokens.get(mine.refresh.digest), undefined);
        assert.equal(await store.sessions.get(mine.session.idDigest, NOW), undefined);
        assert.equal(await store.messages.get(mine.message.id), undefined);
        assert.equal(await store.linkTokens.get(mine.link.digest), undefined);
        assert.deepEqual(await store.mailOutbox.listByUser(user.id), []);
        assert.equal((await store.logoutDeliveries.listByClient(client.id)).length, 1, 'the queued logout token stays');
        assert.equal((await store.audit.query({ clientId: client.id, limit: 10 })).length, 1, 'the audit log stays');
        // Someone else's rows are untouched.
        assert.ok(await store.users.get(other.user.id));
        assert.ok(await store.grants.getById(other.grant.id));
        assert.ok(await store.accessTokens.get(theirs.access.digest));
        assert.ok(await store.refreshTokens.get(theirs.refresh.digest));
        assert.ok(await store.sessions.get(theirs.session.idDigest, NOW));
        assert.ok(await store.messages.get(theirs.message.id));
        assert.equal((await store.mailOutbox.listByUser(other.user.id)).length, 1);
      });

      it('delete inside a failed transaction changes nothing', async () => {
        // store.ts Store.transaction: the deletion commits with the caller's other writes or not at all.
        const { user, grant } = await seedGrant();
        await assert.rejects(store.transaction(async (tx) => {
          await tx.users.delete(user.id);
          throw new Error('boom');
        }), /boom/);
        assert.ok(await store.users.get(user.id));
        assert.ok(await store.grants.getById(grant.id));
      });

      it('list returns every account oldest first; sessions.listByUser only that user\'s unexpired sessions', async () => {
        // store.ts UserRepo.list (aliasid user list) and SessionRepo.listByUser (data export).
        const a = newUser({ createdAt: NOW - 2 });
        const b = newUser({ createdAt: NOW - 1 });
        await store.users.insert(b);
        await store.users.insert(a);
        const ids = (await store.users.list()).map((u) => u.id);
        assert.ok(ids.indexOf(a.id) >= 0 && ids.indexOf(a.id) < ids.indexOf(b.id));
        const s1: Session = { idDigest: uid('sid'), userId: a.id, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE, device: null, lastSeenAt: null, amr: ['pwd'] };
        const s2: Session = { ...s1, idDigest: uid('sid'), createdAt: NOW + 1 };
        const old: Session = { ...s1, idDigest: uid('sid'), expiresAt: NOW };
        for (const s of [s2, old, s1, { ...s1, idDigest: uid('sid'), userId: b.id }]) await store.sessions.insert(s);
        assert.deepEqual(await store.sessions.listByUser(a.id, NOW), [s1, s2]);
      });
    });

    describe('transactions', () => {
      it('commits and returns the value of fn; the tx store sees its own writes', async () => {
        // store.ts Store.transaction: runs fn in one transaction.
        const u = newUser();
        const c = newClient();
        const out = await store.transaction(async (tx) => {
          await tx.users.insert(u);
          await tx.clients.insert(c);
          assert.deepEqual(await tx.users.get(u.id), u);
          const g = await tx.grants.save(newGrant(u.id, c.id));
          return g.id;
        });
        assert.deepEqual(await store.users.get(u.id), u);
        assert.equal((await store.grants.get(u.id, c.id))?.id, out);
      });

      it('a throw rolls everything back and reaches the caller', async () => {
        // store.ts Store.transaction: all or nothing — a throw leaves nothing persisted.
        const u = newUser();
        const c = newClient();
        const key = uid('setting');
        const boom = new Error('boom');
        await assert.rejects(store.transaction(async (tx) => {
          await tx.users.insert(u);
          await tx.clients.insert(c);
          await tx.grants.save(newGrant(u.id, c.id));
          await tx.settings.putIfAbsent(key, 'v');
          await tx.throttles.put({ key, failures: 1, windowStart: NOW, blockedUntil: 0 });
          throw boom;
        }), (err) => err === boom);
        assert.equal(await store.users.get(u.id), undefined);
        assert.equal(await store.clients.get(c.id), undefined);
        assert.equal(await store.clients.hasOrigin(new URL(c.redirectUris[0]!).origin), false);
        assert.equal(await store.grants.get(u.id, c.id), undefined);
        assert.equal(await store.settings.get(key), undefined);
        assert.equal(await store.throttles.get(key), undefined);
      });

      it('a failed statement (UniqueViolation) rolls back the earlier writes', async () => {
        // store.ts Store.transaction: an error from the store itself aborts the whole transaction.
        const existing = newUser();
        await store.users.insert(existing);
        const fresh = newUser();
        await assert.rejects(store.transaction(async (tx) => {
          await tx.users.insert(fresh);
          await tx.users.insert(newUser({ email: existing.email }));
        }), isUniqueViolation);
        assert.equal(await store.users.get(fresh.id), undefined);
        assert.deepEqual(await store.users.get(existing.id), existing);
      });

      it('a nested transaction joins the outer one: committed with it, rolled back with it', async () => {
        // store.ts Store.transaction: nested calls join the outer one (no separate commit).
        const kept = [newUser(), newUser()];
        const inner = await store.transaction(async (tx) => {
          await tx.users.insert(kept[0]!);
          return tx.transaction(async (tx2) => {
            await tx2.users.insert(kept[1]!);
            assert.deepEqual(await tx2.users.get(kept[0]!.id), kept[0], 'the nested call sees the outer writes');
            return 'inner-value';
          });
        });
        assert.equal(inner, 'inner-value');
        for (const u of kept) assert.deepEqual(await store.users.get(u.id), u);

        const lost = [newUser(), newUser()];
        const boom = new Error('outer fails after the nested call returned');
        await assert.rejects(store.transaction(async (tx) => {
          await tx.users.insert(lost[0]!);
          await tx.transaction(async (tx2) => {
            await tx2.users.insert(lost[1]!);
          });
          throw boom;
        }), (err) => err === boom);
        for (const u of lost) assert.equal(await store.users.get(u.id), undefined, 'the nested write was not committed on its own');

        const lost2 = [newUser(), newUser()];
        const boom2 = new Error('nested throws');
        await assert.rejects(store.transaction(async (tx) => {
          await tx.users.insert(lost2[0]!);
          await tx.transaction(async (tx2) => {
            await tx2.users.insert(lost2[1]!);
            throw boom2;
          });
        }), (err) => err === boom2);
        for (const u of lost2) assert.equal(await store.users.get(u.id), undefined, 'a nested throw rolls back the outer');
      });

      it('concurrent transactions are isolated: one rolling back does not undo another', async () => {
        // store.ts Store.transaction: each call is its own transaction.
        const ok = Array.from({ length: 5 }, () => newUser());
        const bad = Array.from({ length: 5 }, () => newUser());
        const results = await Promise.allSettled([
          ...ok.map((u) => store.transaction(async (tx) => { await tx.users.insert(u); await tx.ping(); })),
          ...bad.map((u) => store.transaction(async (tx) => { await tx.users.insert(u); await tx.ping(); throw new Error('no'); })),
        ]);
        assert.deepEqual(results.map((r) => r.status), [...ok.map(() => 'fulfilled'), ...bad.map(() => 'rejected')]);
        for (const u of ok) assert.deepEqual(await store.users.get(u.id), u);
        for (const u of bad) assert.equal(await store.users.get(u.id), undefined);
      });
    });

    describe('audit log', () => {
      const event = (over: Partial<AuditEvent> = {}): AuditEvent => ({
        id: uid('ev'), at: NOW, type: 'token.issued', outcome: 'success', clientId: uid('client'),
        sub: uid('sub'), userRef: null, ipDigest: 'ip-digest', detail: 'authorization_code', ...over,
      });

      it('tokenSets.insert with a token and its event alone stores both together, or neither', async () => {
        // store.ts TokenSetRepo.insert as client_credentials uses it: atomic (the token and its token.issued event).
        const { grant } = await seedGrant();
        const cc: AccessToken = { ...newAccess(grant, null), userId: null, grantId: null };
        const ev = event({ clientId: cc.clientId, sub: null, detail: 'grant_type=client_credentials' });
        await store.tokenSets.insert({ access: cc, event: ev });
        assert.deepEqual(await store.accessTokens.get(cc.digest), cc);
        assert.deepEqual(await store.audit.query({ clientId: cc.clientId, limit: 10 }), [ev]);
        // The same digest again: the token insert fails, and its event is not written either.
        const again = event({ clientId: cc.clientId, sub: null, at: NOW + 1 });
        await assert.rejects(store.tokenSets.insert({ access: cc, event: again }));
        assert.deepEqual(await store.audit.query({ clientId: cc.clientId, limit: 10 }), [ev]);
        // Inside a transaction it joins it, and rolls back with it.
        const inTx: AccessToken = { ...cc, digest: uid('digest') };
        await assert.rejects(store.transaction(async (tx) => {
          await tx.tokenSets.insert({ access: inTx, event: event({ clientId: cc.clientId, at: NOW + 2 }) });
          throw new Error('roll back');
        }));
        assert.equal(await store.accessTokens.get(inTx.digest), undefined);
        assert.equal((await store.audit.query({ clientId: cc.clientId, limit: 10 })).length, 1);
      });

      it('tokenSets.insert of many sets at once (concurrent client_credentials requests): each is stored with its event; a bad one fails alone', async () => {
        // store.ts TokenSetRepo.insert: on PostgreSQL the sets of one event-loop turn share one
        // statement (token_sets.ts); each request still gets its own outcome (issue 17 §3).
        const { grant } = await seedGrant();
        const clientId = grant.clientId;
        const taken: AccessToken = { ...newAccess(grant, null), userId: null, grantId: null };
        await store.tokenSets.insert({ access: taken, event: event({ clientId, sub: null }) });
        const sets = Array.from({ length: 40 }, (_, i) => ({
          access: { ...newAccess(grant, null), userId: null, grantId: null, ...(i % 7 === 3 ? { dpopJkt: `jkt-${i}` } : {}) } as AccessToken,
          event: event({ clientId, sub: null, id: `${uid('ev')}-${String(i).padStart(2, '0')}`, at: NOW + 10 + i }),
        }));
        // One of them reuses a stored digest: it must fail, and only it (with its event unwritten).
        const bad = { access: { ...taken }, event: event({ clientId, sub: null, at: NOW + 100 }) };
        const outcomes = await Promise.allSettled([...sets.slice(0, 20), bad, ...sets.slice(20)].map((x) => store.tokenSets.insert(x)));
        assert.deepEqual(outcomes.map((o) => o.status), [...Array(20).fill('fulfilled'), 'rejected', ...Array(20).fill('fulfilled')]);
        for (const x of sets) assert.deepEqual(await store.accessTokens.get(x.access.digest), x.access);
        const logged = await store.audit.query({ clientId, since: NOW + 10, limit: 100 });
        assert.deepEqual(logged.map((e) => e.id).sort(), sets.map((x) => x.event.id).sort(), 'every event once, the bad set\'s not at all');
      });

      it('tokenSets.insert stores a response\'s tokens, the rotated token\'s link, the grant\'s use and the event together, or none', async () => {
        // store.ts TokenSetRepo.insert: one atomic write per token response (issue 17 §3).
        const { grant } = await seedGrant({ scopes: ['openid', 'offline_access'] });
        const family = uid('family');
        const old = newRefresh(grant, family);
        await store.refreshTokens.insert(old);
        const access = newAccess(grant, family);
        const refresh = newRefresh(grant, family);
        const ev = event({ clientId: grant.clientId, detail: 'grant_type=refresh_token' });
        await store.tokenSets.insert({ access, refresh, rotated: { digest: old.digest, next: { refresh: refresh.digest, access: access.digest } },
          touch: { grantId: grant.id, at: NOW + 3 }, event: ev });
        assert.deepEqual(await store.accessTokens.get(access.digest), access);
        assert.deepEqual(await store.refreshTokens.get(refresh.digest), refresh);
        assert.deepEqual(await store.refreshTokens.get(old.digest), { ...old, nextDigest: refresh.digest, nextAccessDigest: access.digest });
        assert.equal((await store.grants.getById(grant.id))?.lastUsedAt, NOW + 3);
        assert.deepEqual(await store.audit.query({ clientId: grant.clientId, limit: 10 }), [ev]);
        // Only an access token: the rest is optional.
        const alone = newAccess(grant, family);
        await store.tokenSets.insert({ access: alone });
        assert.deepEqual(await store.accessTokens.get(alone.digest), alone);
        // A duplicate refresh digest: nothing of the set is stored (its access token, its event).
        const dup = newAccess(grant, family);
        await assert.rejects(store.tokenSets.insert({ access: dup, refresh, event: event({ clientId: grant.clientId, at: NOW + 1 }) }));
        assert.equal(await store.accessTokens.get(dup.digest), undefined);
        assert.equal((await store.audit.query({ clientId: grant.clientId, limit: 10 })).length, 1);
        // Inside a transaction it joins it, and rolls back with it.
        const inTx = newAccess(grant, family);
        await assert.rejects(store.transaction(async (tx) => {
          await tx.tokenSets.insert({ access: inTx, touch: { grantId: grant.id, at: NOW + 9 } });
          throw new Error('roll back');
        }));
        assert.equal(await store.accessTokens.get(inTx.digest), undefined);
        assert.equal((await store.grants.getById(grant.id))?.lastUsedAt, NOW + 3);
      });

      it('append stores every field; query reads them back newest first (time, then id)', async () => {
        // store.ts AuditRepo.append / query: newest first, time then id descending.
        const clientId = uid('client');
        const older = event({ clientId, at: NOW - MINUTE, outcome: 'failure', type: 'login', sub: null, userRef: 'u-ref',
          ipDigest: null, detail: null });
        const a = event({ clientId, id: `${uid('ev')}-a` });
        const b = event({ clientId, id: `${a.id}-b` });
        for (const e of [older, b, a]) await store.audit.append(e);
        assert.deepEqual(await store.audit.query({ clientId, limit: 10 }), [b, a, older]);
        assert.deepEqual(await node2.audit.query({ clientId, limit: 2 }), [b, a], 'limit keeps the newest; another node reads the same');
      });

      it('query filters by time, client and user (alias IDs or the user digest), all combined', async () => {
        // store.ts AuditQuery: since (inclusive), clientId, user { subs, userRef }.
        const [c1, c2] = [uid('client'), uid('client')];
        const [s1, s2, other] = [uid('sub'), uid('sub'), uid('sub')];
        const ref = uid('ref');
        const e1 = event({ clientId: c1, sub: s1, at: NOW });
        const e2 = event({ clientId: c2, sub: s2, at: NOW + 1 });
        const e3 = event({ clientId: null, sub: null, userRef: ref, at: NOW + 2, type: 'login' });
        const e4 = event({ clientId: c1, sub: other, at: NOW + 3 });
        for (const e of [e1, e2, e3, e4]) await store.audit.append(e);
        const user = { subs: [s1, s2], userRef: ref };
        assert.deepEqual(await store.audit.query({ user, limit: 10 }), [e3, e2, e1]);
        assert.deepEqual(await store.audit.query({ user, clientId: c1, limit: 10 }), [e1]);
        assert.deepEqual(await store.audit.query({ user, since: NOW + 1, limit: 10 }), [e3, e2], 'since is inclusive');
        assert.deepEqual(await store.audit.query({ clientId: c1, limit: 10 }), [e4, e1]);
        assert.deepEqual(await store.audit.query({ user: { subs: [], userRef: ref }, limit: 10 }), [e3], 'a user with no alias IDs');
        assert.deepEqual(await store.audit.query({ clientId: uid('nobody'), limit: 10 }), []);
      });

      it('clientIds lists every client in the log once, deleted clients included', async () => {
        // store.ts AuditRepo.clientIds: `aliasid audit --user` derives alias IDs at each of them.
        const gone = uid('client');
        await store.audit.append(event({ clientId: gone }));
        await store.audit.append(event({ clientId: gone }));
        await store.audit.append(event({ clientId: null, sub: null, userRef: 'x' }));
        const ids = await store.audit.clientIds();
        assert.equal(ids.filter((id) => id === gone).length, 1);
        assert.ok(!ids.includes(null as unknown as string));
      });

      it('purgeOlderThan deletes only older events, oldest first, at most `limit` at a time', async () => {
        // store.ts AuditRepo.purgeOlderThan: retention. Far-past times keep other tests' events out of it.
        const clientId = uid('client');
        const old = [1_000, 2_000, 3_000].map((at) => event({ clientId, at }));
        const kept = event({ clientId, at: 5_000 });
        for (const e of [...old, kept]) await store.audit.append(e);
        assert.equal(await store.audit.purgeOlderThan(5_000, 2), 2);
        assert.deepEqual(await store.audit.query({ clientId, limit: 10 }), [kept, old[2]], 'the two oldest went first');
        assert.equal(await store.audit.purgeOlderThan(5_000, 10), 1);
        assert.equal(await store.audit.purgeOlderThan(5_000, 10), 0);
        assert.deepEqual(await store.audit.query({ clientId, limit: 10 }), [kept], 'an event at `before` stays');
      });

      it('is append-only: no method changes or deletes one event; an event rolls back with its transaction', async () => {
        // Issue 5: append + query + purge-older-than only. Events ride the state change's transaction.
        assert.deepEqual(Object.keys(store.audit).sort(), ['append', 'clientIds', 'purgeOlderThan', 'query']);
        const clientId = uid('client');
        await assert.rejects(store.transaction(async (tx) => {
          await tx.audit.append(event({ clientId }));
          throw new Error('the state change failed');
        }));
        assert.deepEqual(await store.audit.query({ clientId, limit: 10 }), []);
        const e = event({ clientId });
        await store.transaction((tx) => tx.audit.append(e));
        assert.deepEqual(await store.audit.query({ clientId, limit: 10 }), [e]);
      });
    });

    describe('JWT replays (RFC 7523 assertions, RFC 9449 proofs)', () => {
      it('claim is true once per key until it expires, then the key can be claimed again', async () => {
        // store.ts JwtReplayRepo.claim: a jti is single use until its exp.
        const key = uid('jti');
        assert.equal(await store.jwtReplays.claim(key, NOW + MINUTE, NOW), true, 'first use');
        assert.equal(await store.jwtReplays.claim(key, NOW + MINUTE, NOW + 1), false, 'replay');
        assert.equal(await node2.jwtReplays.claim(key, NOW + 2 * MINUTE, NOW + 2), false, 'replay at another node');
        assert.equal(await store.jwtReplays.claim(uid('jti'), NOW + MINUTE, NOW), true, 'another key is independent');
        assert.equal(await store.jwtReplays.claim(key, NOW + 3 * MINUTE, NOW + MINUTE), true, 'expired: taken over');
        assert.equal(await store.jwtReplays.claim(key, NOW + 3 * MINUTE, NOW + MINUTE + 1), false, 'and single use again');
      });

      it(`${RACERS} concurrent claims of one key on two nodes: exactly one wins`, async () => {
        // RFC 9449 §11.1: the replay check holds across every node of a deployment.
        const key = uid('jti');
        const results = await race(RACERS, (i) => (i % 2 ? node2 : store).jwtReplays.claim(key, NOW + MINUTE, NOW));
        assert.equal(results.filter((r) => r).length, 1);
      });

      it('the janitor purges claims expired before `before`, and only those', async () => {
        // store.ts PurgeKind: jwt_replays.
        const [old, live] = [uid('jti'), uid('jti')];
        await store.jwtReplays.claim(old, 1_000, 0);
        await store.jwtReplays.claim(live, NOW + MINUTE, NOW);
        assert.ok(await store.expired.purge('jwt_replays', 100_000, 100) >= 1);
        assert.equal(await store.jwtReplays.claim(old, 2_000, 1_500), true, 'the purged key is free');
        assert.equal(await store.jwtReplays.claim(live, NOW + MINUTE, NOW), false, 'the live key stays');
      });
    });

    describe('pushed authorization requests (RFC 9126)', () => {
      const pushed = (clientId: string, over: Partial<PushedRequest> = {}): PushedRequest => ({ digest: uid('par'), clientId,
        params: { response_type: 'code', client_id: clientId, redirect_uri: 'https://app.example/cb', scope: 'openid', state: 'é 🎉' },
        createdAt: NOW, expiresAt: NOW + MINUTE, ...over });

      it('take returns the request once, only to its client, only before it expires; refusals change nothing', async () => {
        // store.ts PushedRequestRepo.take; RFC 9126 §4: one-time use.
        const c = newClient();
        const other = newClient();
        await store.clients.insert(c);
        await store.clients.insert(other);
        const p = pushed(c.id);
        await store.pushedRequests.insert(p);
        assert.equal(await store.pushedRequests.take(p.digest, other.id, NOW), undefined, 'another client');
        assert.equal(await store.pushedRequests.take(p.digest, c.id, p.expiresAt), undefined, 'expired');
        assert.equal(await store.pushedRequests.take(uid('par'), c.id, NOW), undefined, 'unknown');
        assert.deepEqual(await node2.pushedRequests.take(p.digest, c.id, NOW), p, 'the refusals changed nothing; any node takes it');
        assert.equal(await store.pushedRequests.take(p.digest, c.id, NOW), undefined, 'single use');
      });

      it(`${RACERS} concurrent takes of one request on two nodes: exactly one wins`, async () => {
        const c = newClient();
        await store.clients.insert(c);
        const p = pushed(c.id);
        await store.pushedRequests.insert(p);
        const results = await race(RACERS, (i) => (i % 2 ? node2 : store).pushedRequests.take(p.digest, c.id, NOW));
        assert.equal(results.filter(Boolean).length, 1);
      });

      it('go with their client; the janitor purges those expired before `before`', async () => {
        const c = newClient();
        await store.clients.insert(c);
        const [gone, old, live] = [pushed(c.id), pushed(c.id, { expiresAt: 1_000 }), pushed(c.id)];
        const d = newClient();
        await store.clients.insert(d);
        const theirs = pushed(d.id);
        for (const x of [gone, old, live, theirs]) await store.pushedRequests.insert(x);
        assert.ok(await store.expired.purge('pushed_authorization_requests', 100_000, 100) >= 1);
        assert.equal(await store.pushedRequests.take(old.digest, c.id, 0), undefined, 'purged');
        assert.deepEqual(await store.pushedRequests.take(live.digest, c.id, NOW), live, 'the live one stays');
        await store.clients.delete(d.id);
        assert.equal(await store.pushedRequests.take(theirs.digest, d.id, NOW), undefined, 'deleted with its client');
      });
    });

    describe('DPoP bindings (RFC 9449)', () => {
      it('codes, access tokens and refresh tokens keep the key thumbprint they are bound to', async () => {
        // RFC 9449 §6 (cnf.jkt), §10 (dpop_jkt), §5 (public clients' refresh tokens).
        const { grant } = await seedGrant({ scopes: ['openid', 'offline_access'] });
        const jkt = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';
        const code = newCode(grant, { dpopJkt: jkt });
        const at = newAccess(grant, uid('family'), { dpopJkt: jkt });
        const rt = newRefresh(grant, uid('family'), { dpopJkt: jkt });
        await store.codes.insert(code);
        await store.accessTokens.insert(at);
        await store.refreshTokens.insert(rt);
        assert.equal((await store.codes.consume(code.digest, NOW + 1))?.dpopJkt, jkt);
        assert.deepEqual(await store.accessTokens.get(at.digest), at);
        assert.equal((await store.accessTokens.getWithGrant(at.digest))?.token.dpopJkt, jkt);
        assert.equal((await store.refreshTokens.rotate(rt.digest, NOW + 1))?.dpopJkt, jkt);
        const bearer = newAccess(grant, null);
        await store.accessTokens.insert(bearer);
        assert.equal((await store.accessTokens.get(bearer.digest))?.dpopJkt, undefined, 'a Bearer token has none');
      });
    });

    describe('resources (RFC 8707, migration 017)', () => {
      it('insert, get, list, delete; a URI registered twice → UniqueViolation', async () => {
        // store.ts ResourceRepo.
        const uri = `https://${uid('api')}.example/v1`;
        const r: Resource = { uri, name: 'API', scopes: ['a.read', 'b'], tokenFormat: 'jwt', ttlS: 300, createdAt: NOW };
        await store.resources.insert(r);
        assert.deepEqual(await store.resources.get(uri), r);
        await assert.rejects(store.resources.insert({ ...r, name: 'Other' }), UniqueViolation);
        assert.ok((await store.resources.list()).some((x) => x.uri === uri && x.tokenFormat === 'jwt'));
        assert.equal(await store.resources.get(`${uri}/other`), undefined, 'exact URI');
        assert.equal(await store.resources.delete(uri), true);
        assert.equal(await store.resources.delete(uri), false);
        assert.equal(await store.resources.get(uri), undefined);
      });

      it('codes and refresh tokens keep the resources granted; an access token its one resource', async () => {
        const { grant } = await seedGrant({ scopes: ['openid', 'offline_access'] });
        const resources = ['https://a.example/', 'https://b.example/api'];
        const code = newCode(grant, { resources });
        const at = newAccess(grant, uid('family'), { resource: resources[0] });
        const rt = newRefresh(grant, uid('family'), { resources });
        await store.codes.insert(code);
        await store.accessTokens.insert(at);
        await store.refreshTokens.insert(rt);
        assert.deepEqual((await store.codes.consume(code.digest, NOW + 1))?.resources, resources);
        assert.deepEqual(await store.accessTokens.get(at.digest), at);
        assert.equal((await store.accessTokens.getWithGrant(at.digest))?.token.resource, resources[0]);
        assert.deepEqual((await store.refreshTokens.rotate(rt.digest, NOW + 1))?.resources, resources);
        const plain = newAccess(grant, null);
        await store.accessTokens.insert(plain);
        assert.equal((await store.accessTokens.get(plain.digest))?.resource, undefined, 'no resource: none');
        const plainCode = newCode(grant);
        await store.codes.insert(plainCode);
        assert.equal((await store.codes.get(plainCode.digest))?.resources, undefined);
      });
    });

    describe('expired rows (janitor)', () => {
      // Far-past times: only this suite's rows fall before BEFORE, so the counts are exact.
      const BEFORE = 100_000;
      const PAST = 1_000;
      const LATER = NOW;

      it('sessions, interactions, device codes and access tokens go once expired before `before`', async () => {
        // store.ts PurgeKind: expired before `before`.
        const { user, client, grant } = await seedGrant();
        const session = (expiresAt: number): Session => ({ idDigest: uid('sid'), userId: user.id, authTime: PAST, createdAt: PAST, expiresAt, device: null, lastSeenAt: null, amr: ['pwd'] });
        const [s1, s2] = [session(PAST), session(LATER)];
        for (const x of [s1, s2]) await store.sessions.insert(x);
        const interaction = (expiresAt: number): Interaction => ({ id: uid('i'), browserDigest: 'b', clientId: client.id,
          params: {}, authenticatedSession: null, createdAt: PAST, expiresAt });
        const [i1, i2] = [interaction(PAST), interaction(LATER)];
        for (const x of [i1, i2]) await store.interactions.insert(x);
        const device = (expiresAt: number) => ({ deviceDigest: uid('dc'), userCode: uid('UC').toUpperCase(), clientId: client.id,
          scopes: ['openid'], channels: [], status: 'pending' as const, userId: null, grantId: null, approvedScopes: null,
          approvedChannels: null, authTime: null, amr: null, intervalS: 5, lastPolledAt: null, createdAt: PAST, expiresAt, consumedAt: null });
        const [d1, d2] = [device(PAST), device(LATER)];
        for (const x of [d1, d2]) await store.deviceCodes.insert(x);
        const [a1, a2] = [newAccess(grant, null, { expiresAt: PAST }), newAccess(grant, null, { expiresAt: LATER })];
        for (const x of [a1, a2]) await store.accessTokens.insert(x);

        for (const kind of ['sessions', 'interactions', 'device_codes', 'access_tokens'] as const) {
          assert.equal(await store.expired.purge(kind, BEFORE, 100), 1, kind);
          assert.equal(await store.expired.purge(kind, BEFORE, 100), 0, `${kind}: nothing left to do`);
        }
        assert.equal(await store.sessions.get(s1.idDigest, 0), undefined);
        assert.deepEqual(await store.sessions.get(s2.idDigest, 0), s2);
        assert.equal(await store.interactions.get(i1.id, 0), undefined);
        assert.ok(await store.interactions.get(i2.id, 0));
        assert.equal(await store.deviceCodes.get(d1.deviceDigest), undefined);
        assert.ok(await store.deviceCodes.get(d2.deviceDigest));
        assert.equal(await store.accessTokens.get(a1.digest), undefined);
        assert.deepEqual(await store.accessTokens.get(a2.digest), a2);
      });

      it('refresh tokens go only when their whole family expired; codes only when no token of their family is left', async () => {
        // store.ts PurgeKind: reuse detection keeps rotated tokens and used codes while they can revoke something.
        const { grant } = await seedGrant();
        const [dead, alive, tokenless] = [uid('family'), uid('family'), uid('family')];
        const deadRotated = newRefresh(grant, dead, { expiresAt: PAST, rotatedAt: PAST });
        const deadLast = newRefresh(grant, dead, { expiresAt: PAST + 1 });
        const aliveRotated = newRefresh(grant, alive, { expiresAt: PAST, rotatedAt: PAST });
        const aliveLast = newRefresh(grant, alive, { expiresAt: LATER });
        for (const x of [deadRotated, deadLast, aliveRotated, aliveLast]) await store.refreshTokens.insert(x);
        const codeOf = (familyId: string, expiresAt: number) => newCode(grant, { familyId, expiresAt, consumedAt: PAST });
        const [cDead, cAlive, cTokenless, cLive] = [codeOf(dead, PAST), codeOf(alive, PAST), codeOf(tokenless, PAST), codeOf(uid('family'), LATER)];
        for (const x of [cDead, cAlive, cTokenless, cLive]) await store.codes.insert(x);
        const accessOfTokenless = newAccess(grant, tokenless, { expiresAt: LATER });
        await store.accessTokens.insert(accessOfTokenless);

        assert.equal(await store.expired.purge('authorization_codes', BEFORE, 100), 0, 'every expired code still has tokens');
        assert.equal(await store.expired.purge('refresh_tokens', BEFORE, 100), 2);
        assert.equal(await store.refreshTokens.get(deadRotated.digest), undefined);
        assert.equal(await store.refreshTokens.get(deadLast.digest), undefined);
        assert.deepEqual(await store.refreshTokens.get(aliveRotated.digest), aliveRotated, 'its family can still be refreshed');
        assert.ok(await store.refreshTokens.get(aliveLast.digest));
        assert.equal(await store.expired.purge('authorization_codes', BEFORE, 100), 1, 'the dead family\'s code');
        assert.equal(await store.codes.get(cDead.digest), undefined);
        for (const c of [cAlive, cTokenless, cLive]) assert.ok(await store.codes.get(c.digest));
        await store.accessTokens.revoke(accessOfTokenless.digest, PAST);
        assert.equal(await store.expired.purge('authorization_codes', BEFORE, 100), 0, 'a revoked but unexpired token still counts');
      });

      it('throttles go once their window started and any block ended before `before`', async () => {
        // store.ts PurgeKind: throttles.
        const t = (windowStart: number, blockedUntil: number) => ({ key: uid('throttle'), failures: 3, windowStart, blockedUntil });
        const [done, blocked, recent] = [t(PAST, 0), t(PAST, LATER), t(LATER, 0)];
        for (const x of [done, blocked, recent]) await store.throttles.put(x);
        assert.equal(await store.expired.purge('throttles', BEFORE, 100), 1);
        assert.equal(await store.throttles.get(done.key), undefined);
        assert.deepEqual(await store.throttles.get(blocked.key), blocked);
        assert.deepEqual(await store.throttles.get(recent.key), recent);
      });

      it('logout deliveries go once delivered or failed and queued before `before`; pending ones stay', async () => {
        // store.ts PurgeKind: logout_deliveries.
        const { client } = await seedGrant();
        const d = (status: 'pending' | 'delivered' | 'failed', createdAt: number) => ({ id: uid('ld'), clientId: client.id, sub: 's',
          status, attempts: 1, nextAttemptAt: LATER, leaseUntil: null, lastError: null, createdAt });
        const rows = [d('delivered', PAST), d('failed', PAST), d('pending', PAST), d('delivered', LATER)];
        await store.logoutDeliveries.enqueue(rows);
        assert.equal(await store.expired.purge('logout_deliveries', BEFORE, 100), 2);
        assert.deepEqual(await Promise.all(rows.map(async (r) => (await store.logoutDeliveries.get(r.id)) !== undefined)),
          [false, false, true, true]);
      });

      it('deletes at most `limit` rows a call; two nodes purging at once delete each row once, without errors', async () => {
        // store.ts PurgeRepo.purge: bounded, safe on several nodes at once.
        const { grant } = await seedGrant();
        const tokens = Array.from({ length: 30 }, () => newAccess(grant, null, { expiresAt: PAST }));
        for (const x of tokens) await store.accessTokens.insert(x);
        assert.equal(await store.expired.purge('access_tokens', BEFORE, 4), 4);
        const other = kind.name === 'postgres' ? node2 : store;
        const drain = async (s: Store) => {
          let total = 0;
          for (let n = -1; n !== 0; total += n) n = await s.expired.purge('access_tokens', BEFORE, 5);
          return total;
        };
        const [a, b] = await Promise.all([drain(store), drain(other)]);
        assert.equal(a + b, 26);
        for (const x of tokens) assert.equal(await store.accessTokens.get(x.digest), undefined);
      });
    });

    describe('second factors (migration 013)', () => {
      it('sessions.setAmr replaces the methods a session records (step-up)', async () => {
        const u = newUser();
        await store.users.insert(u);
        const s: Session = { idDigest: uid('sid'), userId: u.id, authTime: NOW, createdAt: NOW, expiresAt: NOW + MINUTE,
          device: null, lastSeenAt: null, amr: ['pwd'] };
        await store.sessions.insert(s);
        await store.sessions.setAmr(s.idDigest, ['pwd', 'otp', 'mfa']);
        assert.deepEqual(await store.sessions.get(s.idDigest, NOW), { ...s, amr: ['pwd', 'otp', 'mfa'] });
      });

      it('a TOTP factor round-trips; a second insert changes nothing; delete removes it', async () => {
        // store.ts SecondFactorRepo.insertTotp: false (nothing changes) when the account has one already.
        const u = newUser();
        await store.users.insert(u);
        const f = { userId: u.id, secretSealed: 'v1.sealed', lastStep: 57_000_000, createdAt: NOW };
        assert.equal(await store.secondFactors.getTotp(u.id), undefined);
        assert.equal(await store.secondFactors.insertTotp(f), true);
        assert.equal(await store.secondFactors.insertTotp({ ...f, secretSealed: 'v1.other', lastStep: 1 }), false);
        assert.deepEqual(await store.secondFactors.getTotp(u.id), f);
        assert.equal(await store.secondFactors.deleteTotp(u.id), true);
        assert.equal(await store.secondFactors.deleteTotp(u.id), false);
        assert.equal(await store.secondFactors.getTotp(u.id), undefined);
      });

      it('useTotpStep accepts only a later step; of parallel uses of one step on two nodes exactly one wins', async () => {
        // store.ts SecondFactorRepo.useTotpStep (RFC 6238 §5.2: the second attempt of the same OTP is not accepted).
        const u = newUser();
        await store.users.insert(u);
        await store.secondFactors.insertTotp({ userId: u.id, secretSealed: 'x', lastStep: 100, createdAt: NOW });
        assert.equal(await store.secondFactors.useTotpStep(u.id, 100), false, 'the same step');
        assert.equal(await store.secondFactors.useTotpStep(u.id, 99), false, 'an older step');
        const wins = await Promise.all(Array.from({ length: RACERS }, (_, i) => (i % 2 ? node2 : store).secondFactors.useTotpStep(u.id, 101)));
        assert.equal(wins.filter(Boolean).length, 1);
        assert.equal((await store.secondFactors.getTotp(u.id))?.lastStep, 101);
        assert.equal(await store.secondFactors.useTotpStep(uid('nobody'), 500), false, 'no factor');
      });

      it('recovery codes: replace, use once (one winner in a race), count the unused, a new set kills the old one, delete', async () => {
        const u = newUser();
        await store.users.insert(u);
        await store.secondFactors.replaceRecoveryCodes(u.id, ['d1', 'd2', 'd3'], NOW);
        assert.equal(await store.secondFactors.countRecoveryCodes(u.id), 3);
        const wins = await Promise.all(Array.from({ length: RACERS }, (_, i) => (i % 2 ? node2 : store).secondFactors.useRecoveryCode(u.id, 'd1', NOW + 1)));
        assert.equal(wins.filter(Boolean).length, 1);
        assert.equal(await store.secondFactors.useRecoveryCode(u.id, 'nope', NOW), false);
        assert.equal(await store.secondFactors.countRecoveryCodes(u.id), 2);
        const other = newUser();
        await store.users.insert(other);
        assert.equal(await store.secondFactors.useRecoveryCode(other.id, 'd2', NOW), false, 'another account’s code');
        await store.secondFactors.replaceRecoveryCodes(u.id, ['e1'], NOW);
        assert.equal(await store.secondFactors.useRecoveryCode(u.id, 'd2', NOW), false, 'the old set is gone');
        assert.equal(await store.secondFactors.countRecoveryCodes(u.id), 1);
        await store.secondFactors.deleteRecoveryCodes(u.id);
        assert.equal(await store.secondFactors.countRecoveryCodes(u.id), 0);
      });

      it('deleting the account deletes its factor and codes', async () => {
        const u = newUser();
        await store.users.insert(u);
        await store.secondFactors.insertTotp({ userId: u.id, secretSealed: 'x', lastStep: 1, createdAt: NOW });
        await store.secondFactors.replaceRecoveryCodes(u.id, ['a', 'b'], NOW);
        assert.equal(await store.users.delete(u.id), true);
        assert.equal(await store.secondFactors.getTotp(u.id), undefined);
        assert.equal(await store.secondFactors.countRecoveryCodes(u.id), 0);
      });
    });
  });
}
