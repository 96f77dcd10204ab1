// The janitor (src/maintenance/janitor.ts) on SQLite and PostgreSQL: expired rows go,
// live rows and what reuse detection still needs stay, audit retention is honoured, runs
// are bounded, two nodes can run it at once, and `serve` runs it.
// No top-level await: Node 20's test runner ignores suites declared after one.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createJanitor, GRACE_MS, LONGEST_WINDOW_MS, SETTLED_QUEUE_MS } from '../../src/maintenance/janitor.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices } from '../../src/services.js';
import { startServer } from '../../src/main.js';
import type { Store } from '../../src/store/store.js';
import type { AuditEvent, Grant } from '../../src/store/types.js';
import { databaseKinds, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { openTwoNodes, type TwoNodes } from '../helpers/two_nodes.js';
import { CLIENT_METADATA_DEFAULTS } from '../../src/clients/registry.js';

const NOW = 1_800_000_000_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const id = (p: string) => `${p}-${randomBytes(6).toString('hex')}`;

for (const kind of databaseKinds()) {
  describe(`janitor (${kind.name})`, { skip: kind.skip }, () => {
    let nodes: TwoNodes | undefined;
    let t: TestDatabase;
    let store: Store;
    let node2: Store;
    before(async () => {
      nodes = await openTwoNodes(kind);
      ({ t, store, node2 } = nodes);
    });
    after(async () => {
      await nodes?.close();
    });

    async function seed(): Promise<Grant> {
      const user = { id: id('user'), email: `${id('u')}@example.com`, passwordHash: 'x', nickname: null, emailVerified: true, createdAt: NOW, updatedAt: NOW };
      const client = { id: id('client'), name: 'c', secretDigest: 'd', previousSecretDigest: null, previousSecretExpiresAt: null,
        isPublic: false, redirectUris: ['https://c.example/cb'], postLogoutRedirectUris: [], grantTypes: ['authorization_code'],
        scopes: [], channels: [], backchannelLogoutUri: null, idTokenSignedResponseAlg: 'RS256' as const,
        ...CLIENT_METADATA_DEFAULTS, tokenEndpointAuthMethod: 'client_secret_basic' as const, createdAt: NOW, updatedAt: NOW };
      await store.users.insert(user);
      await store.clients.insert(client);
      return store.grants.save({ id: id('grant'), userId: user.id, clientId: client.id, sub: id('sub'), scopes: ['openid'],
        channels: [], createdAt: NOW, updatedAt: NOW, lastUsedAt: null });
    }
    const access = (g: Grant, expiresAt: number, familyId: string | null = null) => ({ digest: id('at'), clientId: g.clientId,
      userId: g.userId, grantId: g.id, familyId, scopes: ['openid'], channels: [], createdAt: expiresAt - 30 * MINUTE, expiresAt, revokedAt: null });
    const refresh = (g: Grant, familyId: string, expiresAt: number, rotatedAt: number | null = null) => ({ digest: id('rt'),
      clientId: g.clientId, userId: g.userId, grantId: g.id, familyId, scopes: ['openid'], channels: [], authTime: NOW,
      createdAt: expiresAt - 30 * DAY, expiresAt, rotatedAt, revokedAt: null });
    const code = (g: Grant, familyId: string, expiresAt: number) => ({ digest: id('code'), clientId: g.clientId, userId: g.userId,
      grantId: g.id, familyId, redirectUri: 'https://c.example/cb', codeChallenge: null, scopes: ['openid'], channels: [], nonce: null, amr: ['pwd'],
      authTime: NOW, createdAt: expiresAt - MINUTE, expiresAt, consumedAt: expiresAt - MINUTE });
    const event = (at: number): AuditEvent => ({ id: id('ev'), at, type: 'login', outcome: 'success', clientId: null, sub: null,
      userRef: 'ref', ipDigest: null, detail: null });
    const gone = async <T>(p: Promise<T | undefined>) => (await p) === undefined;

    it('deletes what expired (after a grace period) and keeps what is live or still needed for reuse detection', async () => {
      const g = await seed();
      const long = NOW - GRACE_MS - 1;
      const recent = NOW - 1;
      const sessions = [long, recent, NOW + DAY].map((expiresAt) => ({ idDigest: id('sid'), userId: g.userId, authTime: NOW - DAY,
        createdAt: NOW - DAY, expiresAt, device: null, lastSeenAt: null, amr: ['pwd'] }));
      for (const x of sessions) await store.sessions.insert(x);
      const interactions = [long, NOW + MINUTE].map((expiresAt) => ({ id: id('i'), browserDigest: 'b', clientId: g.clientId, params: {},
        authenticatedSession: null, createdAt: NOW - DAY, expiresAt }));
      for (const x of interactions) await store.interactions.insert(x);
      const devices = [long, NOW + MINUTE].map((expiresAt) => ({ deviceDigest: id('dc'), userCode: id('UC'), clientId: g.clientId,
        scopes: ['openid'], channels: [], status: 'pending' as const, userId: null, grantId: null, approvedScopes: null,
        approvedChannels: null, authTime: null, amr: null, intervalS: 5, lastPolledAt: null, createdAt: NOW - DAY, expiresAt, consumedAt: null }));
      for (const x of devices) await store.deviceCodes.insert(x);
      const tokens = [access(g, long), access(g, recent), access(g, NOW + MINUTE)];
      for (const x of tokens) await store.accessTokens.insert(x);
      // A family that ended, and one still refreshed today whose first token was rotated long ago.
      const [ended, alive] = [id('fam'), id('fam')];
      const endedTokens = [refresh(g, ended, long - DAY, long - 2 * DAY), refresh(g, ended, long)];
      const aliveTokens = [refresh(g, alive, long, long - DAY), refresh(g, alive, NOW + 29 * DAY)];
      for (const x of [...endedTokens, ...aliveTokens]) await store.refreshTokens.insert(x);
      const codes = [code(g, ended, long - 30 * DAY), code(g, alive, long - 30 * DAY)];
      for (const x of codes) await store.codes.insert(x);
      const throttles = [
        { key: id('t'), failures: 9, windowStart: NOW - LONGEST_WINDOW_MS - GRACE_MS - 1, blockedUntil: 0 },
        { key: id('t'), failures: 9, windowStart: NOW - 5 * MINUTE, blockedUntil: 0 },
        { key: id('t'), failures: 9, windowStart: NOW - DAY, blockedUntil: NOW + MINUTE },
      ];
      for (const x of throttles) await store.throttles.put(x);
      const delivery = (status: 'pending' | 'delivered' | 'failed', createdAt: number) => ({ id: id('ld'), clientId: g.clientId, sub: g.sub,
        status, attempts: 1, nextAttemptAt: NOW, leaseUntil: null, lastError: null, createdAt });
      const deliveries = [delivery('delivered', NOW - SETTLED_QUEUE_MS - 1), delivery('failed', NOW - SETTLED_QUEUE_MS - 1),
        delivery('pending', NOW - SETTLED_QUEUE_MS - 1), delivery('delivered', NOW - DAY)];
      await store.logoutDeliveries.enqueue(deliveries);
      const events = [event(NOW - 91 * DAY), event(NOW - 89 * DAY)];
      for (const e of events) await store.audit.append(e);
      // WebAuthn challenges (issue 15): expired ones go after the grace period, like sessions.
      const challenges = [long, recent, NOW + MINUTE].map((expiresAt) => ({ digest: id('ch'), purpose: 'authenticate' as const,
        browserDigest: 'b', userId: null, createdAt: expiresAt - 5 * MINUTE, expiresAt }));
      for (const x of challenges) await store.webauthnChallenges.insert(x);

      // Used JWT ids (RFC 7523, RFC 9449): one long expired, one within the grace period, one live.
      const jtis = [long, recent, NOW + MINUTE].map((expiresAt) => ({ key: id('jti'), expiresAt }));
      for (const j of jtis) await store.jwtReplays.claim(j.key, j.expiresAt, 0);

      // Pushed authorization requests (RFC 9126): like challenges.
      const pushes = [long, recent, NOW + MINUTE].map((expiresAt) => ({ digest: id('par'), clientId: g.clientId, params: {},
        createdAt: expiresAt - MINUTE, expiresAt }));
      for (const x of pushes) await store.pushedRequests.insert(x);

      const report = await createJanitor({ store, now: () => NOW, auditRetentionDays: 90 }).runOnce();
      assert.deepEqual(report, { interactions: 1, sessions: 1, device_codes: 1, access_tokens: 1, refresh_tokens: 2,
        authorization_codes: 1, throttles: 1, logout_deliveries: 2, webauthn_challenges: 1, jwt_replays: 1,
        pushed_authorization_requests: 1, audit_events: 1 });
      assert.deepEqual(await Promise.all(pushes.map((x) => gone(store.pushedRequests.take(x.digest, g.clientId, 0)))),
        [true, false, false], 'only the push that expired before the grace period went');
      assert.deepEqual(await Promise.all(challenges.map((c) => gone(store.webauthnChallenges.take(c.digest, 'authenticate', 'b', 0)))),
        [true, false, false], 'only the challenge that expired before the grace period went');

      assert.deepEqual(await Promise.all(sessions.map((x) => gone(store.sessions.get(x.idDigest, 0)))), [true, false, false],
        'a session that expired within the grace period stays');
      assert.deepEqual(await Promise.all(interactions.map((x) => gone(store.interactions.get(x.id, 0)))), [true, false]);
      assert.deepEqual(await Promise.all(devices.map((x) => gone(store.deviceCodes.get(x.deviceDigest)))), [true, false]);
      assert.deepEqual(await Promise.all(tokens.map((x) => gone(store.accessTokens.get(x.digest)))), [true, false, false]);
      assert.deepEqual(await Promise.all([...endedTokens, ...aliveTokens].map((x) => gone(store.refreshTokens.get(x.digest)))),
        [true, true, false, false], 'a rotated token of a live family stays: presenting it again revokes the family');
      assert.deepEqual(await Promise.all(codes.map((x) => gone(store.codes.get(x.digest)))), [true, false],
        'a used code stays while its family has tokens');
      assert.deepEqual(await Promise.all(throttles.map((x) => gone(store.throttles.get(x.key)))), [true, false, false],
        'a counter whose window still runs, or whose block has not ended, stays');
      assert.deepEqual(await Promise.all(deliveries.map((x) => gone(store.logoutDeliveries.get(x.id)))), [true, true, false, false]);
      assert.deepEqual(await store.audit.query({ user: { subs: [], userRef: 'ref' }, limit: 10 }), [events[1]]);
      // A claim of a purged key succeeds again; a kept one is still refused.
      assert.deepEqual(await Promise.all(jtis.map((j) => store.jwtReplays.claim(j.key, NOW + DAY, 1))), [true, false, false]);

      const again = await createJanitor({ store, now: () => NOW, auditRetentionDays: 90 }).runOnce();
      assert.ok(Object.values(again).every((n) => n === 0), 'a second run finds nothing');
    });

    it('honours the audit retention it is given', async () => {
      const clientId = id('client');
      const events = [event(NOW - 2 * DAY), event(NOW - DAY / 2)].map((e) => ({ ...e, clientId }));
      for (const e of events) await store.audit.append(e);
      await createJanitor({ store, now: () => NOW, auditRetentionDays: 3 }).runOnce();
      assert.equal((await store.audit.query({ clientId, limit: 10 })).length, 2);
      await createJanitor({ store, now: () => NOW, auditRetentionDays: 1 }).runOnce();
      assert.deepEqual(await store.audit.query({ clientId, limit: 10 }), [events[1]]);
    });

    it('works in bounded batches: at most batch × maxBatches rows of a kind per run', async () => {
      const g = await seed();
      for (let i = 0; i < 7; i++) await store.accessTokens.insert(access(g, NOW - DAY));
      const janitor = createJanitor({ store, now: () => NOW, auditRetentionDays: 90, batch: 2, maxBatches: 2 });
      assert.equal((await janitor.runOnce()).access_tokens, 4);
      assert.equal((await janitor.runOnce()).access_tokens, 3);
      assert.equal((await janitor.runOnce()).access_tokens, 0);
    });

    it('two nodes running it at once delete every row once, without errors', async () => {
      const g = await seed();
      for (let i = 0; i < 40; i++) await store.sessions.insert({ idDigest: id('sid'), userId: g.userId, authTime: 0, createdAt: 0, expiresAt: NOW - DAY, device: null, lastSeenAt: null, amr: ['pwd'] });
      // Two SQLite connections in one process would block each other (the driver is
      // synchronous); SQLite nodes are separate processes in real life.
      const other = kind.name === 'postgres' ? node2 : store;
      const opts = { now: () => NOW, auditRetentionDays: 90, batch: 5, maxBatches: 100 };
      const [a, b] = await Promise.all([createJanitor({ ...opts, store }).runOnce(), createJanitor({ ...opts, store: other }).runOnce()]);
      assert.equal(a.sessions + b.sessions, 40);
    });

    it('serve runs it at start and stops it on shutdown', async () => {
      const location = t.env.ALIAS_DB!;
      const env = { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' };
      const clientId = id('client');
      const old = { ...event(Date.now() - 100 * DAY), clientId };
      const fresh = { ...event(Date.now() - DAY), clientId };
      const s = await createServices(loadConfig({ db: location }, env), { schema: t.schema });
      await s.store.audit.append(old);
      await s.store.audit.append(fresh);
      await s.close();
      const running = await startServer(loadConfig({ db: location, port: 0 }, env), () => {});
      try {
        const deadline = Date.now() + 10_000;
        while ((await running.services.store.audit.query({ clientId, limit: 10 })).length > 1 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.deepEqual(await running.services.store.audit.query({ clientId, limit: 10 }), [fresh]);
      } finally {
        await running.stop();
      }
    });
  });
}
