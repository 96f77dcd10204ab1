// RFC 9126 Pushed Authorization Requests end to end over HTTP, with oauth4webapi and
// openid-client as independent clients, on SQLite and PostgreSQL: push → authorize with
// request_uri → code → tokens; one-time use and expiry of request_uri; another client's
// request_uri; require_pushed_authorization_requests per client and for the server; a
// DPoP proof at the push binding the code (RFC 9449 §10.1); private_key_jwt at the push;
// every bad push a JSON error that stores nothing, never a 500.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { exportJWK, generateKeyPair } from 'jose';
import { databaseKinds, type DatabaseKind } from '../helpers/databases.js';
import { startAlias, type Alias, discoverAlias } from '../helpers/harness.js';
import { Browser, checkboxes, type Page } from '../helpers/browser.js';
import { basic } from '../helpers/bad_input.js';
import type { Client } from '../../src/store/types.js';
import { digest } from '../../src/tokens/opaque.js';
import { addressBlock } from '../../src/authorize/park.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices } from '../../src/services.js';
import { buildApp } from '../../src/http/app.js';
import { TEST_SECRET } from '../helpers/databases.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const FORM = 'application/x-www-form-urlencoded';
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
const URN = /^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]{43}$/;

for (const kind of databaseKinds()) {
  describe(`pushed authorization requests (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    let parUrl: string;
    before(async () => {
      alias = await startAlias(kind);
      parUrl = `${alias.issuer}/api/oauth2/par`;
      as = await discoverAlias(alias);
    });
    after(() => alias?.close());

    const confidential = (over: Parameters<Alias['client']>[0] = {}) =>
      alias.client({ redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'], channels: ['news'], ...over });
    const push = (body: Record<string, string> | string, headers: Record<string, string> = {}) => alias.app.inject({
      method: 'POST', url: '/api/oauth2/par', headers: { 'content-type': FORM, ...headers },
      payload: typeof body === 'string' ? body : new URLSearchParams(body).toString() });
    const pushedRows = async () => (await alias.s.db.kysely.selectFrom('pushed_authorization_requests').select('digest').execute()).length;
    const authorizeUrl = (params: Record<string, string>) => `${as.authorization_endpoint}?${new URLSearchParams(params)}`;
    async function signIn(url: string, user?: { email: string; password: string }): Promise<Page> {
      const u = user ?? await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url);
      assert.equal(login.status, 200, login.html.slice(0, 500));
      const consent = await browser.submit(login, { email: u.email, password: u.password });
      return browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
    }
    async function codeParams(client: Client, verifier: string, extra: Record<string, string> = {}) {
      return { response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, scope: 'openid nickname', state: 'st',
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra };
    }

    it('discovery advertises the endpoint and the server flag (RFC 9126 §5)', () => {
      assert.equal(as.pushed_authorization_request_endpoint, parUrl);
      assert.equal(as.require_pushed_authorization_requests, false);
    });

    it('oauth4webapi: push → 201 no-store request_uri → authorize with client_id + request_uri → code → tokens; the request_uri is single use (RFC 9126 §2.2, §4)', async () => {
      const { client, secret } = await confidential();
      const oclient: oauth.Client = { client_id: client.id };
      const auth = oauth.ClientSecretBasic(secret!);
      const verifier = oauth.generateRandomCodeVerifier();
      const res = await oauth.pushedAuthorizationRequest(as, oclient, auth, await codeParams(client, verifier, { nonce: 'n-1' }), INSECURE);
      assert.equal(res.status, 201);
      assert.match(res.headers.get('cache-control') ?? '', /no-store/);
      const pushed = await oauth.processPushedAuthorizationResponse(as, oclient, res);
      assert.match(pushed.request_uri, URN);
      assert.equal(pushed.expires_in, 60);
      // Stored as a digest only.
      const rows = await alias.s.db.kysely.selectFrom('pushed_authorization_requests').selectAll().execute();
      assert.ok(!JSON.stringify(rows).includes(pushed.request_uri.split(':').pop()!), 'the request_uri is kept only as a digest');

      const url = authorizeUrl({ client_id: client.id, request_uri: pushed.request_uri });
      const done = await signIn(url);
      const params = oauth.validateAuthResponse(as, oclient, new URL(done.url), 'st');
      const tokens = await oauth.processAuthorizationCodeResponse(as, oclient,
        await oauth.authorizationCodeGrantRequest(as, oclient, auth, params, REDIRECT, verifier, INSECURE), { expectedNonce: 'n-1' });
      assert.ok(tokens.access_token);
      assert.ok(oauth.getValidatedIdTokenClaims(tokens)?.sub);

      // §4: one-time use. A second use is Alias's own page, never a redirect.
      const again = await fetch(url, { redirect: 'manual' });
      assert.equal(again.status, 400);
      assert.equal(again.headers.get('location'), null);
      assert.match(again.headers.get('content-type') ?? '', /text\/html/);
      assert.match(await again.text(), /expired or was already used/);
    });

    it('openid-client: buildAuthorizationUrlWithPAR → code → tokens', async () => {
      const { client, secret } = await confidential();
      const config = await oidc.discovery(new URL(alias.issuer), client.id, undefined, oidc.ClientSecretPost(secret!),
        { execute: [oidc.allowInsecureRequests] });
      // ClientSecretPost is not what the client registered: refused at the push like at the token endpoint.
      await assert.rejects(oidc.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'openid' }),
        // 401 invalid_client with a Basic challenge (oauth4webapi reports the challenge).
        (err: unknown) => (err as { status?: number }).status === 401);
      const right = await oidc.discovery(new URL(alias.issuer), client.id, undefined, oidc.ClientSecretBasic(secret!),
        { execute: [oidc.allowInsecureRequests] });
      const verifier = oidc.randomPKCECodeVerifier();
      const url = await oidc.buildAuthorizationUrlWithPAR(right, { redirect_uri: REDIRECT, scope: 'openid nickname', state: 'st2',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      assert.deepEqual([...url.searchParams.keys()].sort(), ['client_id', 'request_uri']);
      const done = await signIn(url.href);
      const tokens = await oidc.authorizationCodeGrant(right, new URL(done.url), { pkceCodeVerifier: verifier, expectedState: 'st2' });
      assert.ok(tokens.access_token);
      assert.ok(tokens.claims()?.sub);
    });

    it('other query parameters beside request_uri are ignored: the pushed request is the request (RFC 9126 §4)', async () => {
      const { client, secret } = await confidential();
      const verifier = oauth.generateRandomCodeVerifier();
      const res = await push(await codeParams(client, verifier, { state: 'pushed' }), { authorization: basic(client.id, secret!) });
      assert.equal(res.statusCode, 201, res.body);
      const done = await signIn(authorizeUrl({ client_id: client.id, request_uri: res.json().request_uri,
        redirect_uri: 'https://evil.example/cb', state: 'other', scope: 'openid contact', response_type: 'id_token' }));
      const back = new URL(done.url);
      assert.equal(back.origin + back.pathname, REDIRECT);
      assert.equal(back.searchParams.get('state'), 'pushed');
      assert.ok(back.searchParams.get('code'));
    });

    it('an expired request_uri, another client\'s, or a made-up one: a readable page, no redirect; the owner can still use its own (RFC 9126 §4)', async () => {
      const { client, secret } = await confidential();
      const { client: other } = await confidential();
      const verifier = oauth.generateRandomCodeVerifier();
      const res = await push(await codeParams(client, verifier), { authorization: basic(client.id, secret!) });
      const requestUri = res.json().request_uri as string;
      for (const url of [
        authorizeUrl({ client_id: other.id, request_uri: requestUri }),
        authorizeUrl({ client_id: client.id, request_uri: 'urn:ietf:params:oauth:request_uri:made-up' }),
        authorizeUrl({ client_id: client.id, request_uri: 'https://app.example/request.jwt' }),
        authorizeUrl({ request_uri: requestUri }),
        authorizeUrl({ client_id: 'nobody', request_uri: requestUri }),
        `${as.authorization_endpoint}?client_id=${client.id}&request_uri=a&request_uri=b`,
      ]) {
        const r = await fetch(url, { redirect: 'manual' });
        assert.equal(r.status, 400, url);
        assert.equal(r.headers.get('location'), null, url);
        assert.match(r.headers.get('content-type') ?? '', /text\/html/);
      }
      // None of the refusals spent it.
      const done = await signIn(authorizeUrl({ client_id: client.id, request_uri: requestUri }));
      assert.ok(new URL(done.url).searchParams.get('code'));

      // §2.2 expires_in 60: after that, gone (and the janitor purges the row later).
      const late = await push(await codeParams(client, verifier), { authorization: basic(client.id, secret!) });
      alias.advance(61_000);
      try {
        const r = await fetch(authorizeUrl({ client_id: client.id, request_uri: late.json().request_uri }), { redirect: 'manual' });
        assert.equal(r.status, 400);
        assert.equal(r.headers.get('location'), null);
      } finally {
        alias.advance(-61_000);
      }
    });

    it('a client registered with require_pushed_authorization_requests: direct requests refused, pushed ones work (RFC 9126 §6)', async () => {
      const { client, secret } = await confidential({ requirePushedAuthorizationRequests: true });
      const verifier = oauth.generateRandomCodeVerifier();
      const direct = await fetch(authorizeUrl(await codeParams(client, verifier)), { redirect: 'manual' });
      assert.equal(direct.status, 303);
      const back = new URL(direct.headers.get('location')!);
      assert.equal(back.searchParams.get('error'), 'invalid_request');
      assert.equal(back.searchParams.get('state'), 'st');
      const res = await push(await codeParams(client, verifier), { authorization: basic(client.id, secret!) });
      assert.equal(res.statusCode, 201);
      const done = await signIn(authorizeUrl({ client_id: client.id, request_uri: res.json().request_uri }));
      assert.ok(new URL(done.url).searchParams.get('code'));
    });

    it('a DPoP proof at the push binds the code to its key (RFC 9449 §10.1); a dpop_jkt of another key is refused', async () => {
      const { client, secret } = await confidential();
      const oclient: oauth.Client = { client_id: client.id };
      const auth = oauth.ClientSecretBasic(secret!);
      const dpop = oauth.DPoP(oclient, await oauth.generateKeyPair('ES256'));
      const verifier = oauth.generateRandomCodeVerifier();
      const params = await codeParams(client, verifier);
      const pushOnce = () => oauth.pushedAuthorizationRequest(as, oclient, auth, params, { DPoP: dpop, ...INSECURE });
      let pushed: oauth.PushedAuthorizationResponse;
      try {
        pushed = await oauth.processPushedAuthorizationResponse(as, oclient, await pushOnce());
        assert.fail('the first push has no nonce (RFC 9449 §8)');
      } catch (err) {
        assert.ok(oauth.isDPoPNonceError(err), String(err));
        pushed = await oauth.processPushedAuthorizationResponse(as, oclient, await pushOnce());
      }
      const done = await signIn(authorizeUrl({ client_id: client.id, request_uri: pushed.request_uri }));
      const cb = oauth.validateAuthResponse(as, oclient, new URL(done.url), 'st');
      const code = await alias.s.db.kysely.selectFrom('authorization_codes').select('dpop_jkt').where('client_id', '=', client.id).executeTakeFirst();
      assert.equal(code?.dpop_jkt, await dpop.calculateThumbprint(), 'the code is bound to the proof\'s key');
      const tokens = await oauth.processAuthorizationCodeResponse(as, oclient,
        await oauth.authorizationCodeGrantRequest(as, oclient, auth, cb, REDIRECT, verifier, { DPoP: dpop, ...INSECURE }));
      assert.equal(tokens.token_type, 'dpop');

      // dpop_jkt naming another key than the proof's.
      const other = oauth.DPoP(oclient, await oauth.generateKeyPair('ES256'));
      const before = await pushedRows();
      const mismatch = await oauth.pushedAuthorizationRequest(as, oclient, auth, { ...params, dpop_jkt: await other.calculateThumbprint() },
        { DPoP: dpop, ...INSECURE });
      assert.equal(mismatch.status, 400);
      assert.equal((await mismatch.json()).error, 'invalid_dpop_proof');
      assert.equal(await pushedRows(), before);
    });

    it('private_key_jwt authenticates at the push as at the token endpoint (RFC 9126 §2, RFC 7523)', async () => {
      const keys = await generateKeyPair('ES256');
      const jwk = { ...await exportJWK(keys.publicKey), kid: 'k1', alg: 'ES256', use: 'sig' };
      const { client } = await alias.client({ redirectUris: [REDIRECT], tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] } });
      const oclient: oauth.Client = { client_id: client.id };
      const auth = oauth.PrivateKeyJwt({ key: keys.privateKey, kid: 'k1' });
      const verifier = oauth.generateRandomCodeVerifier();
      const pushed = await oauth.processPushedAuthorizationResponse(as, oclient,
        await oauth.pushedAuthorizationRequest(as, oclient, auth, await codeParams(client, verifier), INSECURE));
      assert.match(pushed.request_uri, URN);
      // A public client pushes with client_id alone (and must use PKCE).
      const { client: pub } = await alias.client({ redirectUris: [REDIRECT], isPublic: true });
      const ok = await push(await codeParams(pub, verifier));
      assert.equal(ok.statusCode, 201, ok.body);
      const noPkce = await push({ response_type: 'code', client_id: pub.id, redirect_uri: REDIRECT, scope: 'openid' });
      assert.equal(noPkce.statusCode, 400);
      assert.equal(noPkce.json().error, 'invalid_request');
    });

    it('a single-page app pushes from its registered origin (CORS, like the token endpoint)', async () => {
      const { client: spa } = await alias.client({ redirectUris: ['https://spa.example/cb'], isPublic: true });
      const verifier = oauth.generateRandomCodeVerifier();
      const res = await push({ ...await codeParams(spa, verifier), redirect_uri: 'https://spa.example/cb' }, { origin: 'https://spa.example' });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers['access-control-allow-origin'], 'https://spa.example');
      const stranger = await push({ ...await codeParams(spa, verifier), redirect_uri: 'https://spa.example/cb' }, { origin: 'https://evil.example' });
      assert.equal(stranger.headers['access-control-allow-origin'], undefined);
    });

    it('bad pushes: the RFC\'s JSON error, nothing stored, never a 500 (RFC 9126 §2.3)', async () => {
      const { client, secret } = await confidential();
      const verifier = oauth.generateRandomCodeVerifier();
      const good = await codeParams(client, verifier);
      const auth = { authorization: basic(client.id, secret!) };
      const before = await pushedRows();
      const cases: [string, () => Promise<Awaited<ReturnType<typeof push>>>, number, string][] = [
        ['unregistered redirect_uri (§2.3: invalid_request where RFC 6749 forbids a redirect)', () => push({ ...good, redirect_uri: 'https://evil.example/cb' }, auth), 400, 'invalid_request'],
        ['missing redirect_uri', () => push({ ...good, redirect_uri: '' }, auth), 400, 'invalid_request'],
        ['missing response_type', () => push({ ...good, response_type: '' }, auth), 400, 'invalid_request'],
        ['unsupported response_type', () => push({ ...good, response_type: 'token' }, auth), 400, 'unsupported_response_type'],
        ['unknown scope', () => push({ ...good, scope: 'openid admin' }, auth), 400, 'invalid_scope'],
        ['plain PKCE', () => push({ ...good, code_challenge_method: 'plain' }, auth), 400, 'invalid_request'],
        ['a request object (RFC 9126 §3, JAR not supported)', () => push({ ...good, request: 'eyJhbGciOiJub25lIn0.e30.' }, auth), 400, 'request_not_supported'],
        ['request_uri inside a push (§2.1: MUST NOT be provided)', () => push({ ...good, request_uri: 'urn:ietf:params:oauth:request_uri:x' }, auth), 400, 'invalid_request'],
        ['a repeated parameter', () => push(`${new URLSearchParams(good)}&scope=openid`, auth), 400, 'invalid_request'],
        ['another client_id than the authenticated one', () => push({ ...good, client_id: 'someone-else' }, auth), 400, 'invalid_request'],
        ['a wrong secret', () => push(good, { authorization: basic(client.id, 'wrong') }), 401, 'invalid_client'],
        ['the secret in the body of a client_secret_basic client', () => push({ ...good, client_secret: secret! }), 401, 'invalid_client'],
        ['an unknown client', () => push({ ...good, client_id: 'nobody' }), 401, 'invalid_client'],
        ['no client at all', () => push({ response_type: 'code' }), 401, 'invalid_client'],
        ['a JSON body', () => alias.app.inject({ method: 'POST', url: '/api/oauth2/par', headers: { ...auth, 'content-type': 'application/json' },
          payload: JSON.stringify(good) }), 400, 'invalid_request'],
        ['a malformed DPoP header', () => push(good, { ...auth, dpop: 'not-a-jwt' }), 400, 'invalid_dpop_proof'],
        ['GET (§2.3: 405)', () => alias.app.inject({ method: 'GET', url: '/api/oauth2/par', headers: auth }), 405, 'invalid_request'],
      ];
      for (const [name, send, status, error] of cases) {
        const res = await send();
        assert.equal(res.statusCode, status, `${name}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /application\/json/, name);
        assert.equal(res.json().error, error, `${name}: ${res.body}`);
        assert.match(String(res.headers['cache-control']), /no-store/, name);
        if (status === 401) assert.match(String(res.headers['www-authenticate']), /^Basic/, name);
      }
      assert.equal(await pushedRows(), before, 'no refused push stored anything');
    });

    it('too many pushes from one address: 429 with Retry-After, nothing stored (RFC 9126 §2.3)', async () => {
      const { client, secret } = await confidential();
      const key = `par-source:${digest(addressBlock('127.0.0.1'))}`;
      const now = alias.s.now();
      await alias.s.store.throttles.put({ key, failures: 300, windowStart: now, blockedUntil: now + 60_000 });
      try {
        const before = await pushedRows();
        const res = await push(await codeParams(client, oauth.generateRandomCodeVerifier()), { authorization: basic(client.id, secret!) });
        assert.equal(res.statusCode, 429);
        assert.equal(res.json().error, 'too_many_requests');
        assert.ok(Number(res.headers['retry-after']) > 0);
        assert.equal(await pushedRows(), before);
      } finally {
        await alias.s.store.throttles.put({ key, failures: 0, windowStart: now, blockedUntil: 0 });
        alias.s.db.readCache?.changed();
      }
    });

    it('pushed at one node, used at another; single use across both (all state in the database)', async () => {
      const config = loadConfig({ db: alias.db.location, issuer: alias.issuer }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' });
      const s2 = await createServices(config, { now: alias.s.now, schema: alias.db.schema, migrate: false });
      const app2 = await buildApp(s2, {});
      try {
        const { client, secret } = await confidential();
        const res = await push(await codeParams(client, oauth.generateRandomCodeVerifier()), { authorization: basic(client.id, secret!) });
        const url = `/oauth2/authorize?${new URLSearchParams({ client_id: client.id, request_uri: res.json().request_uri })}`;
        const there = await app2.inject({ method: 'GET', url });
        assert.equal(there.statusCode, 303, there.body);
        assert.match(String(there.headers.location), /^\/interaction\//);
        const again = await alias.app.inject({ method: 'GET', url });
        assert.equal(again.statusCode, 400);
        assert.equal(again.headers.location, undefined);
      } finally {
        await app2.close();
        await s2.close();
      }
    });

    it('the janitor purges expired pushed requests', async () => {
      const { client, secret } = await confidential();
      await push(await codeParams(client, oauth.generateRandomCodeVerifier()), { authorization: basic(client.id, secret!) });
      const { createJanitor } = await import('../../src/maintenance/janitor.js');
      const janitor = createJanitor({ store: alias.s.store, now: () => Date.now() + 3_600_000, auditRetentionDays: 90 });
      const report = await janitor.runOnce();
      assert.ok(report.pushed_authorization_requests >= 1);
      assert.equal(await pushedRows(), 0);
    });
  });

  serverSwitch(kind);
}

/** serve --require-par / ALIAS_REQUIRE_PAR: every client must push (RFC 9126 §6). */
function serverSwitch(kind: DatabaseKind) {
  describe(`serve --require-par (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind, { env: { ALIAS_REQUIRE_PAR: 'true' } }); });
    after(() => alias?.close());

    it('discovery says so, a direct request is refused back to the client, a pushed one works', async () => {
      const issuer = new URL(alias.issuer);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, INSECURE));
      assert.equal(as.require_pushed_authorization_requests, true);
      const { client, secret } = await alias.client({ redirectUris: [REDIRECT] });
      const params = { response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, scope: 'openid', state: 's' };
      const direct = await fetch(`${as.authorization_endpoint}?${new URLSearchParams(params)}`, { redirect: 'manual' });
      assert.equal(new URL(direct.headers.get('location')!).searchParams.get('error'), 'invalid_request');
      // openid-client discovers the flag; it pushes with buildAuthorizationUrlWithPAR.
      const config = await oidc.discovery(issuer, client.id, undefined, oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
      const url = await oidc.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, scope: 'openid', state: 's' });
      const page = await fetch(url, { redirect: 'manual' });
      assert.equal(page.status, 303);
      assert.match(page.headers.get('location') ?? '', /^\/interaction\//, 'on to sign-in');
    });
  });
}
