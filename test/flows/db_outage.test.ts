// The database goes away while Alias serves, and comes back: API endpoints answer 503
// with Retry-After and `temporarily_unavailable` (RFC 6749 §4.1.2.1), pages answer a
// readable 503 page, nothing crashes, and the same requests succeed once the database
// is back, without a restart. PostgreSQL through a TCP proxy the test cuts (the shared
// server keeps running); SQLite with another connection holding the write lock.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import SQLite from 'better-sqlite3';
import { postgres, databaseKinds, sqlite, PG_URL } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';
import { openDatabase, type Db } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql/index.js';
import { KEY_CACHE_MS } from '../../src/tokens/keys.js';
import { CONNECT_TIMEOUT_MS } from '../../src/store/postgres/pool.js';
import { basic } from '../helpers/bad_input.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pgKind = databaseKinds().find((k) => k.name === 'postgres')!;

/** The requests a relying party and a browser make, each answering its Response. */
function requests(alias: Alias, c: { id: string; secret: string }, accessToken: () => string) {
  const url = (path: string) => `${alias.issuer}${path}`;
  return {
    token: () => fetch(url('/api/oauth2/token'), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.id, c.secret) },
      body: 'grant_type=client_credentials',
    }),
    userinfo: () => fetch(url('/api/oauth2/userinfo'), { headers: { authorization: `Bearer ${accessToken()}` } }),
    jwks: () => fetch(url('/oauth2/jwks')),
    discovery: () => fetch(url('/.well-known/openid-configuration')),
    healthz: () => fetch(url('/healthz')),
    authorize: () => fetch(url(`/oauth2/authorize?response_type=code&client_id=${c.id}` +
      `&redirect_uri=${encodeURIComponent('https://app.example/cb')}&scope=openid&state=s`), { redirect: 'manual' }),
  };
}

async function assertApi503(res: Response, what: string) {
  const text = await res.text();
  assert.equal(res.status, 503, `${what}: ${res.status} ${text}`);
  assert.equal(res.headers.get('retry-after'), '5', `${what}: Retry-After`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, what);
  assert.equal(res.headers.get('cache-control'), 'no-store', what);
  const body = JSON.parse(text) as Record<string, string>;
  assert.equal(body.error, 'temporarily_unavailable', what);
  assert.ok(body.error_description, what);
  assert.doesNotMatch(text, /ECONN|terminated|at \//, `${what}: no internals in the body`);
}

async function assertPage503(res: Response, what: string) {
  const html = await res.text();
  assert.equal(res.status, 503, `${what}: ${res.status} ${html.slice(0, 300)}`);
  assert.equal(res.headers.get('retry-after'), '5', `${what}: Retry-After`);
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/, what);
  assert.match(html, /temporarily unavailable/i, what);
  assert.match(html, /try again/i, what);
  assert.doesNotMatch(html, /<form/i, `${what}: no form`);
}

describe('PostgreSQL outage while serving (through a TCP proxy)', { skip: pgKind.skip }, () => {
  let proxy: TcpProxy;
  let alias: Alias;
  /** A direct connection, past the proxy: the database itself never went away. */
  let direct: Db;
  let c: { id: string; secret: string };
  let accessToken = '';
  let r: ReturnType<typeof requests>;

  before(async () => {
    const target = new URL(PG_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    alias = await startAlias(postgres, { via: (location) => proxy.via(location) });
    direct = openDatabase(alias.db.location, { schema: alias.db.schema });
    const { client, secret } = await alias.client({ grantTypes: ['client_credentials', 'password', 'authorization_code'] });
    c = { id: client.id, secret: secret! };
    const user = await alias.user();
    const res = await fetch(`${alias.issuer}/api/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.id, c.secret) },
      body: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password, scope: 'openid' }),
    });
    assert.equal(res.status, 200);
    accessToken = ((await res.json()) as { access_token: string }).access_token;
    r = requests(alias, c, () => accessToken);
  });
  after(async () => {
    await proxy?.restore();
    await alias?.close();
    await direct?.close();
    await proxy?.close();
  });

  it('answers 503 + Retry-After at once, pages included; the same requests succeed once it is back', async () => {
    for (const [name, call] of Object.entries(r)) {
      const res = await call();
      assert.ok(res.status < 400, `${name} works before the outage: ${res.status}`);
      await res.arrayBuffer();
    }
    await proxy.cut();
    const cutAt = Date.now();
    await assertApi503(await r.token(), 'token');
    const firstAnswerMs = Date.now() - cutAt;
    await assertApi503(await r.userinfo(), 'userinfo');
    await assertApi503(await r.healthz(), 'healthz');
    // JWKS comes from a key list each node re-reads every KEY_CACHE_MS.
    alias.advance(KEY_CACHE_MS + 1);
    await assertApi503(await r.jwks(), 'jwks');
    await assertPage503(await r.authorize(), 'authorize');
    const discovery = await r.discovery();
    assert.equal(discovery.status, 200, 'discovery needs no database');
    await discovery.arrayBuffer();
    assert.ok(firstAnswerMs < 1_000, `503 within a second of the outage (took ${firstAnswerMs} ms)`);

    await proxy.restore();
    const restoredAt = Date.now();
    const token = await r.token();
    const recoverMs = Date.now() - restoredAt;
    assert.equal(token.status, 200, await token.clone().text());
    assert.ok(((await token.json()) as { access_token?: string }).access_token);
    const info = await r.userinfo();
    assert.equal(info.status, 200);
    assert.ok(((await info.json()) as { sub?: string }).sub, 'the token issued before the outage still works');
    alias.advance(KEY_CACHE_MS + 1);
    const jwks = await r.jwks();
    assert.equal(jwks.status, 200);
    assert.ok(((await jwks.json()) as { keys: unknown[] }).keys.length >= 1);
    const healthz = await r.healthz();
    assert.deepEqual(await healthz.json(), { status: 'ok' });
    const authorize = await r.authorize();
    assert.equal(authorize.status, 303, 'on to the sign-in page');
    assert.ok(recoverMs < 1_000, `the first request after the outage succeeds at once (took ${recoverMs} ms)`);
    process.stderr.write(`# postgres outage: first 503 after ${firstAnswerMs} ms; first 200 after restore ${recoverMs} ms\n`);
  });

  it('connections dropped under load: every answer is 200 or 503, the process lives on', async () => {
    const inFlight = Array.from({ length: 30 }, () => r.token().then(async (res) => {
      await res.arrayBuffer();
      return res.status;
    }));
    await sleep(5);
    await proxy.cut();
    const statuses = await Promise.all(inFlight);
    assert.ok(statuses.every((s) => s === 200 || s === 503), `only 200 and 503: ${statuses.join(' ')}`);
    await proxy.restore();
    const after = await r.token();
    assert.equal(after.status, 200);
    await after.arrayBuffer();
  });

  it('a network that drops packets: answers 503 within the connect timeout, not never', async () => {
    await proxy.blackhole();
    await sleep(200); // the pool notices its dropped connections: the next query needs a new one
    const accepted = proxy.accepted;
    const started = Date.now();
    await assertApi503(await r.token(), 'token over a silent network');
    const took = Date.now() - started;
    assert.ok(proxy.accepted > accepted, 'a new connection was tried (and held unanswered)');
    assert.ok(took >= CONNECT_TIMEOUT_MS - 100 && took < CONNECT_TIMEOUT_MS + 2_000, `failed after the connect timeout (${took} ms)`);
    await proxy.restore();
    const res = await r.token();
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    process.stderr.write(`# postgres blackhole: 503 after ${took} ms\n`);
  });

  it('the relay worker backs off during the outage and delivers what was queued once it is back', async () => {
    const user = await alias.user();
    const grant = await alias.s.consent.record({ userId: user.id, clientId: c.id,
      requestedScopes: ['openid', 'contact'], requestedChannels: [], approvedScopes: ['openid', 'contact'], approvedChannels: [] });
    assert.ok(grant.sub);
    alias.s.relayWorker.start(200);
    try {
      await proxy.cut();
      // Queued past the proxy while Alias cannot reach the database.
      const t = Date.now();
      const id = `outage-${t}`;
      await createSqlStore(direct).messages.insert({ id, clientId: c.id, userId: user.id, channel: '_meta', subject: 'Hi',
        body: 'Queued during an outage.', idempotencyKey: null, status: 'queued', attempts: 0, nextAttemptAt: t,
        leaseUntil: null, lastError: null, createdAt: t, deliveredAt: null });
      await sleep(2_500); // several failed polls, backing off
      await proxy.restore();
      const restoredAt = Date.now();
      let m = await createSqlStore(direct).messages.get(id);
      while (m?.status !== 'sent' && Date.now() - restoredAt < 20_000) {
        await sleep(100);
        m = await createSqlStore(direct).messages.get(id);
      }
      assert.equal(m?.status, 'sent', 'delivered (to the inbox: no SMTP here) after the outage');
      assert.equal(m?.attempts, 1, 'the outage cost no attempt');
      process.stderr.write(`# relay worker resumed ${Date.now() - restoredAt} ms after the database came back\n`);
    } finally {
      await alias.s.relayWorker.stop();
    }
  });
});

describe('SQLite: a writer holding the database beyond busy_timeout', () => {
  let alias: Alias;
  let other: SQLite.Database;
  let r: ReturnType<typeof requests>;

  before(async () => {
    alias = await startAlias(sqlite);
    const { client, secret } = await alias.client({ grantTypes: ['client_credentials'] });
    r = requests(alias, { id: client.id, secret: secret! }, () => 'none');
    other = new SQLite(alias.db.location);
  });
  after(async () => {
    if (other?.inTransaction) other.exec('rollback');
    other?.close();
    await alias?.close();
  });

  it('a write answers 503 + Retry-After after busy_timeout; reads go on; the write succeeds once the lock is gone', async () => {
    // Another process (an admin command, a second node) holds the write lock.
    other.exec('begin immediate');
    const started = Date.now();
    await assertApi503(await r.token(), 'token (writes an access token)');
    const took = Date.now() - started;
    const jwks = await r.jwks();
    assert.equal(jwks.status, 200, 'readers are not blocked in WAL mode');
    await jwks.arrayBuffer();
    other.exec('commit');
    const res = await r.token();
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    process.stderr.write(`# sqlite busy: 503 after ${took} ms\n`);
  });

  it('waiting for the lock never freezes the process (issue 16): other requests are answered meanwhile; the write goes through once the lock is free', async () => {
    // better-sqlite3 waits for a lock synchronously: with SQLite's own busy_timeout of 5 s
    // the whole event loop (this process is the server) stood still until the lock was free.
    other.exec('begin immediate');
    let maxGap = 0;
    let last = performance.now();
    const ticker = setInterval(() => {
      const t = performance.now();
      maxGap = Math.max(maxGap, t - last);
      last = t;
    }, 5);
    try {
      const pending = r.token();
      await new Promise((res) => setTimeout(res, 300));
      const t0 = performance.now();
      const discovery = await r.discovery();
      assert.equal(discovery.status, 200);
      await discovery.arrayBuffer();
      const discoveryMs = performance.now() - t0;
      await new Promise((res) => setTimeout(res, 500));
      other.exec('commit');
      const res = await pending;
      assert.equal(res.status, 200, 'the write waited for the lock and succeeded');
      await res.arrayBuffer();
      assert.ok(discoveryMs < 250, `discovery answered in ${discoveryMs.toFixed(0)} ms while a write waited`);
      assert.ok(maxGap < 250, `the event loop stood still for ${maxGap.toFixed(0)} ms`);
    } finally {
      clearInterval(ticker);
      if (other.inTransaction) other.exec('rollback');
    }
  });
});
