// Two `aliasid serve` processes (compiled, as operators run them) on one PostgreSQL
// database, behind a balancer on the issuer's address, with the steps of every flow
// alternating between them. DESIGN ("Data and scale"): nodes are stateless and any node
// serves any step; admin commands take effect on every node at once, and caches never
// serve stale or negative answers after a change. oauth4webapi is the independent
// client; jose checks ID token signatures against the *other* node's JWKS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { databaseKinds, postgres, type TestDatabase } from '../helpers/databases.js';
import { freePort } from '../helpers/harness.js';
import { Browser, checkboxes, type Page } from '../helpers/browser.js';
import { startBalancer, type Balancer } from '../../bench/lib/balancer.mjs';
import { aliasid, aliasidOk, ensureBuilt, startNode, type Node } from '../../bench/lib/nodes.mjs';
import { MIN_PUBLISH_WINDOW_MS, KEY_CACHE_MS } from '../../src/tokens/keys.js';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const BYE = 'http://127.0.0.1:9/bye';
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const insecure = { [oauth.allowInsecureRequests]: true } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Json = Record<string, any>;

const pgKind = databaseKinds().find((k) => k.name === 'postgres')!;

describe('two nodes on one PostgreSQL database, every flow alternating between them', { skip: pgKind.skip }, () => {
  let db: TestDatabase;
  let lb: Balancer;
  const nodes: Node[] = [];
  /** The node the balancer sends the next requests to: 0 (A) or 1 (B). */
  let route = 0;
  let as: oauth.AuthorizationServer;
  const user = { email: 'two-nodes@example.com', password: 'a long enough password', nickname: 'Twin' };
  let web: { id: string; secret: string };
  let device: { id: string };
  let lockout: { id: string; secret: string };
  let session: Browser;

  const A = 0;
  const B = 1;
  const name = (n: number) => (n === A ? 'A' : 'B');

  /**
   * Runs `fn` with every request going to node `n`, and checks that it did: the other
   * node served nothing meanwhile.
   */
  async function on<T>(n: number, fn: () => Promise<T>): Promise<T> {
    route = n;
    const before = lb.served();
    const result = await fn();
    const after = lb.served();
    assert.ok(after[n]! > before[n]!, `node ${name(n)} served the step`);
    assert.equal(after[1 - n], before[1 - n], `node ${name(1 - n)} served nothing of this step`);
    return result;
  }

  const basic = (c: { id: string; secret: string }) => 'Basic ' + Buffer.from(`${c.id}:${c.secret}`).toString('base64');
  async function post(path: string, form: Record<string, string>, authorization?: string) {
    const res = await fetch(lb.url + path, {
      method: 'POST', body: new URLSearchParams(form),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    });
    const text = await res.text();
    return { res, json: (text ? JSON.parse(text) : undefined) as Json };
  }
  const introspect = (token: string, c = web) => post('/api/oauth2/introspect', { token }, basic(c));
  const userinfo = (token: string) => fetch(`${lb.url}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${token}` } });
  const send = async (token: string, sub: string, channel: string) => {
    const res = await fetch(`${lb.url}/api/v1/messages`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: sub, channel, subject: 'Hello', body: 'From one of two nodes' }),
    });
    return { status: res.status, body: await res.json() as Json };
  };

  const jwksOf = async (n: number) => (await (await fetch(`${nodes[n]!.url}/oauth2/jwks`)).json()) as JSONWebKeySet;
  /** Verifies an ID token's signature and claims against node `n`'s JWKS, fetched now. */
  async function verifyOn(n: number, idToken: string, audience: string) {
    const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet(await jwksOf(n)),
      { issuer: lb.url, audience, algorithms: ['RS256'] });
    return { payload, kid: protectedHeader.kid! };
  }

  const authorizeUrl = (extra: Record<string, string> = {}, clientId = web.id) => '/oauth2/authorize?' + new URLSearchParams({
    response_type: 'code', client_id: clientId, redirect_uri: REDIRECT_URI, scope: 'openid', state: 'st', ...extra,
  });

  /** A code from the session's remembered grant (no page), then its tokens: both on node `n`. */
  async function quickTokens(n: number, scope = 'openid nickname contact offline_access') {
    return on(n, async () => {
      const done = await session.follow(authorizeUrl({ scope, channels: 'news' }));
      const code = new URL(done.url).searchParams.get('code');
      assert.ok(code, `a code without any page: ${done.status} ${done.url}`);
      const { res, json } = await post('/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, basic(web));
      assert.equal(res.status, 200, JSON.stringify(json));
      return json;
    });
  }

  before(async () => {
    await ensureBuilt();
    db = await postgres.create();
    const ports = [await freePort(), await freePort()];
    lb = await startBalancer({ nodes: [{ name: 'A', port: ports[0]! }, { name: 'B', port: ports[1]! }], pick: () => route });
    // Both start at once on the empty schema: two migrations and two first-key checks race,
    // as when a deployment starts its nodes together.
    const started = await Promise.allSettled(ports.map((port, i) => startNode({
      name: name(i), port, issuer: lb.url, db: db.env.ALIAS_DB!, env: { ALIAS_SECRET: db.env.ALIAS_SECRET! },
    })));
    for (const s of started) if (s.status === 'fulfilled') nodes.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    // An operator's set-up, while both serve.
    const [u, w, d, l] = await Promise.all([
      aliasidOk(['user', 'create', '--email', user.email, '--password', user.password, '--nickname', user.nickname, '--json'], db.env),
      aliasidOk(['client', 'create', '--name', 'Web app', '--redirect-uri', REDIRECT_URI, '--post-logout-redirect-uri', BYE,
        '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--grant-type', 'client_credentials',
        '--scope', 'reports:read', '--channel', 'news:Product news', '--json'], db.env),
      aliasidOk(['client', 'create', '--name', 'TV app', '--public', '--grant-type', DEVICE, '--json'], db.env),
      aliasidOk(['client', 'create', '--name', 'Locked app', '--grant-type', 'client_credentials', '--json'], db.env),
    ]);
    assert.equal(u.email, user.email);
    web = { id: w.client_id, secret: w.client_secret };
    device = { id: d.client_id };
    lockout = { id: l.client_id, secret: l.client_secret };
    const issuer = new URL(lb.url);
    as = await on(A, async () => oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure)));
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await lb?.close();
    await db?.cleanup();
  });

  it('both nodes publish the same discovery and, within the key cache time, the same JWKS of one key per algorithm', async () => {
    const [da, dbb] = [await on(A, () => fetch(`${lb.url}/.well-known/openid-configuration`).then((r) => r.json())),
      await on(B, () => fetch(`${lb.url}/.well-known/openid-configuration`).then((r) => r.json()))];
    assert.deepEqual(da, dbb);
    assert.equal(da.issuer, lb.url, 'the issuer is the balancer\'s address on both');
    await sleep(KEY_CACHE_MS + 100);
    const kids = async (n: number) => (await jwksOf(n)).keys.map((k) => k.kid).sort();
    assert.deepEqual(await kids(A), await kids(B));
    // Started together on an empty database, they still made one first key per algorithm (see test/store/first_key.test.ts).
    assert.deepEqual((await jwksOf(A)).keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
  });

  let first: { tokens: Json; sub: string };
  it('authorization code + PKCE: authorize, sign-in and consent on A; token on B; refresh on A; userinfo and relay on B', async () => {
    const client: oauth.Client = { client_id: web.id };
    const verifier = oauth.generateRandomCodeVerifier();
    const nonce = oauth.generateRandomNonce();
    const state = oauth.generateRandomState();
    session = new Browser(lb.url);
    const callback = await on(A, async () => {
      const login = await session.follow(authorizeUrl({
        scope: 'openid nickname offline_access contact', channels: 'news', state, nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      }));
      assert.match(login.html, /name="password"/, 'the sign-in page');
      const consent = await session.submit(login, { email: user.email, password: user.password });
      assert.match(consent.html, /name="decision"/, consent.html.slice(0, 500));
      const done = await session.submit(consent, {
        decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value), channel: ['news'],
      });
      return new URL(done.url);
    });
    const params = oauth.validateAuthResponse(as, client, callback, state);
    const result = await on(B, async () => {
      const res = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(web.secret), params, REDIRECT_URI, verifier, insecure);
      return oauth.processAuthorizationCodeResponse(as, client, res, { expectedNonce: nonce, requireIdToken: true });
    });
    const claims = oauth.getValidatedIdTokenClaims(result)!;
    assert.equal(claims.nickname, user.nickname);
    assert.ok(result.refresh_token);
    // Signed by B, verified with A's keys.
    await verifyOn(A, result.id_token!, web.id);

    const refreshed = await on(A, async () => oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.ClientSecretBasic(web.secret), result.refresh_token!, insecure)));
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== result.refresh_token, 'rotated on A');
    // Provider docs: a refresh returns no new ID token.
    assert.equal(refreshed.id_token, undefined);
    const info = await on(B, async () => oauth.processUserInfoResponse(as, client, claims.sub,
      await oauth.userInfoRequest(as, client, refreshed.access_token, insecure)));
    assert.equal(info.nickname, user.nickname);
    const sent = await on(B, () => send(refreshed.access_token, claims.sub, 'news'));
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    // The refresh token used on A is spent on B too: once its successor was used (on A), it
    // is a reuse, not a retry after a lost answer (docs/security.md).
    const next = await on(A, () => post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: refreshed.refresh_token! }, basic(web)));
    assert.equal(next.res.status, 200, JSON.stringify(next.json));
    const reuse = await on(B, () => post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: result.refresh_token! }, basic(web)));
    assert.equal(reuse.json.error, 'invalid_grant');
    first = { tokens: await quickTokens(A), sub: claims.sub };
  });

  it('revocation on B: inactive on A at once (introspection, userinfo), and refresh refused on A', async () => {
    const { access_token, refresh_token } = first.tokens;
    const active = await on(A, () => introspect(access_token));
    assert.equal(active.json.active, true);
    assert.equal(active.json.sub, first.sub);
    const revoked = await on(B, () => post('/api/oauth2/revoke', { token: refresh_token }, basic(web)));
    assert.equal(revoked.res.status, 200);
    assert.deepEqual((await on(A, () => introspect(access_token))).json, { active: false });
    assert.equal((await on(A, () => userinfo(access_token))).status, 401);
    const refresh = await on(A, () => post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token }, basic(web)));
    assert.equal(refresh.json.error, 'invalid_grant');
  });

  it('a code exchanged on B and replayed on A is refused, and what it issued is revoked', async () => {
    const code = await on(A, async () => new URL((await session.follow(authorizeUrl({ scope: 'openid offline_access' }))).url).searchParams.get('code')!);
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI };
    const issued = await on(B, () => post('/api/oauth2/token', form, basic(web)));
    assert.equal(issued.res.status, 200);
    const replay = await on(A, () => post('/api/oauth2/token', form, basic(web)));
    assert.equal(replay.res.status, 400);
    assert.equal(replay.json.error, 'invalid_grant');
    assert.deepEqual((await on(B, () => introspect(issued.json.access_token))).json, { active: false });
    const refresh = await on(B, () => post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: issued.json.refresh_token }, basic(web)));
    assert.equal(refresh.json.error, 'invalid_grant');
  });

  it('client credentials on A, introspection on B; revoked on A, inactive on B', async () => {
    const client: oauth.Client = { client_id: web.id };
    const auth = oauth.ClientSecretBasic(web.secret);
    const cc = await on(A, async () => oauth.processClientCredentialsResponse(as, client,
      await oauth.clientCredentialsGrantRequest(as, client, auth, {}, insecure)));
    assert.equal(cc.scope, 'reports:read');
    const seen = await on(B, async () => oauth.processIntrospectionResponse(as, client,
      await oauth.introspectionRequest(as, client, auth, cc.access_token, insecure)));
    assert.equal(seen.active, true);
    assert.equal(seen.client_id, web.id);
    await on(A, async () => oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, cc.access_token, insecure)));
    const gone = await on(B, async () => oauth.processIntrospectionResponse(as, client,
      await oauth.introspectionRequest(as, client, auth, cc.access_token, insecure)));
    assert.equal(gone.active, false);
  });

  it('wrong client secrets on A and on B add up to one lockout, seen by both', async () => {
    const wrong = basic({ id: lockout.id, secret: 'not-the-secret' });
    // Each node alone sees fewer failures than the 10 a client is allowed. Issue 16 item 1:
    // the attempt that uses the 10th free try starts the block (before: the 11th failure).
    for (let i = 0; i < 10; i++) {
      const n = i % 2 === 0 ? A : B;
      const r = await on(n, () => post('/api/oauth2/token', { grant_type: 'client_credentials' }, wrong));
      assert.equal(r.res.status, 401, `failure ${i + 1} on ${name(n)}: ${JSON.stringify(r.json)}`);
    }
    for (const n of [A, B]) {
      const r = await on(n, () => post('/api/oauth2/token', { grant_type: 'client_credentials' }, basic(lockout)));
      assert.equal(r.res.status, 429, `node ${name(n)} throttles even the right secret now`);
      assert.ok(Number(r.res.headers.get('retry-after')) > 0);
    }
  });

  it('device authorization on A, approval pages on B, polling on A; polling state is shared', async () => {
    const client: oauth.Client = { client_id: device.id };
    const none = oauth.None();
    const start = await on(A, async () => oauth.processDeviceAuthorizationResponse(as, client,
      await oauth.deviceAuthorizationRequest(as, client, none, { scope: 'openid nickname' }, insecure)));
    const poll = () => post('/api/oauth2/token', { grant_type: DEVICE, device_code: start.device_code, client_id: device.id });
    assert.equal((await on(A, poll)).json.error, 'authorization_pending');
    // Polling again at once, on the other node, is too fast: the state is in the database.
    assert.equal((await on(B, poll)).json.error, 'slow_down');

    // A second device: approved on B, then redeemed on A with its first poll.
    const second = await on(A, async () => oauth.processDeviceAuthorizationResponse(as, client,
      await oauth.deviceAuthorizationRequest(as, client, none, { scope: 'openid nickname' }, insecure)));
    await on(B, async () => {
      const entry = await session.follow(second.verification_uri_complete!);
      assert.match(entry.html, /name="user_code"/);
      const consent = await session.submit(entry, {});
      assert.match(consent.html, /name="decision"/, 'signed in already: straight to consent');
      const done = await session.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
      assert.equal(done.status, 200);
      assert.doesNotMatch(done.html, /name="user_code"/);
    });
    const tokens = await on(A, async () => oauth.processDeviceCodeResponse(as, client,
      await oauth.deviceCodeGrantRequest(as, client, none, second.device_code, insecure)));
    const { payload } = await verifyOn(B, tokens.id_token!, device.id);
    assert.equal(payload.nickname, user.nickname);
    const again = await on(B, () => post('/api/oauth2/token', { grant_type: DEVICE, device_code: second.device_code, client_id: device.id }));
    assert.equal(again.json.error, 'invalid_grant', 'redeemed once, whichever node is asked');
  });

  it('keys rotate while both serve: every ID token either node signs verifies with the other\'s JWKS; the new key signs on both within 10 s', async (t) => {
    const before = (await jwksOf(A)).keys.map((k) => k.kid);
    // The shortest publish window: the invariant (a node signs only with keys every node
    // publishes) is tightest there; the default 120 s only adds time.
    const out = await aliasidOk(['keys', 'rotate', '--publish-window', `${MIN_PUBLISH_WINDOW_MS / 1000}s`], db.env);
    const rotated = Date.now();
    const kid = /key (\S+?):?\s/.exec(out)?.[1];
    assert.ok(kid && !before.includes(kid), out);
    const publishedAt: (number | undefined)[] = [undefined, undefined];
    const signingAt: (number | undefined)[] = [undefined, undefined];
    let checked = 0;
    while ((signingAt[A] === undefined || signingAt[B] === undefined) && Date.now() - rotated < 12_000) {
      for (const n of [A, B]) {
        const other = 1 - n;
        if (publishedAt[other] === undefined && (await jwksOf(other)).keys.some((k) => k.kid === kid)) publishedAt[other] = Date.now() - rotated;
        const tokens = await quickTokens(n, 'openid');
        // The invariant behind the activation delay: whatever a node signs, every node publishes.
        const verified = await verifyOn(other, tokens.id_token, web.id);
        assert.equal(verified.kid, decodeProtectedHeader(tokens.id_token).kid);
        checked++;
        if (verified.kid === kid) signingAt[n] ??= Date.now() - rotated;
        else assert.ok(signingAt[n] === undefined, `node ${name(n)} went back to an old key after signing with the new one`);
      }
      await sleep(200);
    }
    t.diagnostic(`new key in JWKS after A ${publishedAt[A]} ms, B ${publishedAt[B]} ms; signing on A after ${signingAt[A]} ms, ` +
      `on B after ${signingAt[B]} ms (publish window ${MIN_PUBLISH_WINDOW_MS} ms, key cache ${KEY_CACHE_MS} ms); ${checked} ID tokens cross-verified`);
    for (const n of [A, B]) {
      assert.ok(publishedAt[n] !== undefined && publishedAt[n]! <= KEY_CACHE_MS + 1_000, `node ${name(n)} publishes the new key within the key cache time`);
      assert.ok(signingAt[n] !== undefined && signingAt[n]! <= 10_000, `node ${name(n)} signs with the new key within 10 s (DESIGN)`);
      const kids = (await jwksOf(n)).keys.map((k) => k.kid);
      for (const old of before) assert.ok(kids.includes(old), `node ${name(n)} still publishes the previous key`);
    }
  });

  it('logout on A ends the session on B', async () => {
    const browser = new Browser(lb.url);
    const idToken = await on(B, async () => {
      const login = await browser.follow(authorizeUrl({ prompt: 'login' }));
      const done = await browser.submit(login, { email: user.email, password: user.password });
      const code = new URL(done.url).searchParams.get('code')!;
      assert.ok(code, done.url);
      return (await post('/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, basic(web))).json.id_token as string;
    });
    const silent = async () => new URL((await browser.follow(authorizeUrl({ prompt: 'none' }))).url).searchParams.get('error');
    assert.equal(await on(A, silent), null, 'signed in on A with the session made on B');
    const out = await on(A, () => browser.follow('/oauth2/logout?' + new URLSearchParams({
      id_token_hint: idToken, client_id: web.id, post_logout_redirect_uri: BYE, state: 'bye' })));
    assert.equal(out.url, `${BYE}?state=bye`);
    assert.equal(await on(B, silent), 'login_required', 'the session is gone on B too');
  });

  describe('admin commands take effect on both nodes at once (no stale or negative cache)', () => {
    /** Signs in through the pages on node `n`; the page after the sign-in form. */
    async function signInOn(n: number, email: string, password: string): Promise<Page> {
      return on(n, async () => {
        const browser = new Browser(lb.url);
        const login = await browser.follow(authorizeUrl({ prompt: 'login' }));
        return browser.submit(login, { email, password });
      });
    }

    it('user create: refused on both just before, signs in on both just after', async () => {
      const email = 'late-arrival@example.com';
      const password = 'another long password';
      for (const n of [A, B]) {
        const refused = await signInOn(n, email, password);
        assert.match(refused.html, /name="password"/, `node ${name(n)}: no such user yet`);
      }
      await aliasidOk(['user', 'create', '--email', email, '--password', password, '--json'], db.env);
      for (const n of [B, A]) {
        const page = await signInOn(n, email, password);
        assert.match(page.html, /name="decision"/, `node ${name(n)}: signed in, on to consent`);
      }
    });

    it('client update --remove-channel: relay refused on both nodes right after', async () => {
      const { access_token } = await quickTokens(A);
      for (const n of [A, B]) assert.equal((await on(n, () => send(access_token, first.sub, 'news'))).status, 202);
      await aliasidOk(['client', 'update', web.id, '--remove-channel', 'news'], db.env);
      for (const n of [B, A]) {
        const r = await on(n, () => send(access_token, first.sub, 'news'));
        assert.equal(r.status, 403, `node ${name(n)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error, 'insufficient_scope');
      }
    });

    it('client create and delete: usable on both at once, then gone from both at once', async () => {
      const created = await aliasidOk(['client', 'create', '--name', 'Short-lived app', '--redirect-uri', REDIRECT_URI,
        '--grant-type', 'authorization_code', '--grant-type', 'client_credentials', '--json'], db.env);
      const doomed = { id: created.client_id as string, secret: created.client_secret as string };
      const userTokens: Json[] = [];
      for (const n of [B, A]) {
        const cc = await on(n, () => post('/api/oauth2/token', { grant_type: 'client_credentials' }, basic(doomed)));
        assert.equal(cc.res.status, 200, `node ${name(n)} knows the new client at once`);
        const done = await on(n, () => session.follow(authorizeUrl({}, doomed.id)));
        const consent = done.html ? await on(n, () => session.submit(done, { decision: 'allow' })) : done;
        const code = new URL(consent.url).searchParams.get('code')!;
        assert.ok(code, `node ${name(n)}: ${consent.status} ${consent.url}`);
        const tokens = await on(n, () => post('/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }, basic(doomed)));
        userTokens.push(tokens.json);
        assert.equal((await on(1 - n, () => userinfo(tokens.json.access_token))).status, 200);
      }
      const r = await aliasid(['client', 'delete', doomed.id], db.env);
      assert.equal(r.code, 0, r.stderr);
      for (const n of [A, B]) {
        const cc = await on(n, () => post('/api/oauth2/token', { grant_type: 'client_credentials' }, basic(doomed)));
        assert.equal(cc.res.status, 401, `node ${name(n)} refuses the deleted client`);
        const page = await on(n, () => session.follow(authorizeUrl({}, doomed.id)));
        assert.equal(page.status, 400, `node ${name(n)}: an error page, not a redirect`);
        for (const tokens of userTokens) assert.equal((await on(n, () => userinfo(tokens.access_token))).status, 401);
      }
    });
  });

  it('both nodes are still up, and the balancer never failed to reach one', async () => {
    assert.deepEqual(lb.failures(), []);
    for (const n of nodes) assert.equal(n.exit, undefined, `${n.name} is running:\n${n.output()}`);
    const served = lb.served();
    assert.ok(served[A]! > 20 && served[B]! > 20, `both served: ${served}`);
    for (const n of nodes) assert.deepEqual(await n.stop(), { code: 0, signal: null }, `${n.name} stops cleanly on SIGTERM`);
  });
});
