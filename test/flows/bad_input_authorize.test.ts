// Bad input at the authorization endpoint (and the HTTP edges around it: CORS, 404s):
// every refusal is the right OAuth error in the right place, never a 500, and never a
// change to stored state. SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import {
  encode, expectErrorPage, expectErrorRedirect, expectJsonError, expectUnchanged, rig, snapshot, verifierPair, type Params,
} from '../helpers/bad_input.js';
import type { Client } from '../../src/store/types.js';
import { Browser } from '../helpers/browser.js';

const APP_CB = 'https://app.example/cb';
const APP_CB_QUERY = 'https://app.example/cb2?tenant=1';
const LOOPBACK = 'http://127.0.0.1/cb';
const SPA_CB = 'https://spa.example/callback';

for (const kind of databaseKinds()) {
  describe(`bad input: authorization endpoint (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let r: ReturnType<typeof rig>;
    let conf: Client;
    let pub: Client;
    let confLoopback: Client;
    let noCodeGrant: Client;
    const pkce = verifierPair();

    before(async () => {
      alias = await startAlias(kind);
      r = rig(alias);
      conf = (await alias.client({ redirectUris: [APP_CB, APP_CB_QUERY], channels: ['news:Product news'] })).client;
      pub = (await alias.client({ redirectUris: [LOOPBACK], isPublic: true })).client;
      confLoopback = (await alias.client({ redirectUris: [LOOPBACK] })).client;
      noCodeGrant = (await alias.client({ redirectUris: ['https://cc.example/cb'], grantTypes: ['client_credentials'] })).client;
      await alias.client({ redirectUris: [SPA_CB] });
    });
    after(() => alias.close());

    const valid = (extra: Params = {}): Params => ({
      response_type: 'code', client_id: conf.id, redirect_uri: APP_CB, scope: 'openid', state: 'xyz', ...extra,
    });

    /** Sends a request that must be refused without touching stored state. */
    async function refused(params: Params, init?: RequestInit) {
      const before = await snapshot(alias);
      const res = await r.authorize(params, init);
      await expectUnchanged(alias, before, `refused authorization request ${encode(params).slice(0, 200)}`);
      return res;
    }

    it('accepts the baseline request (so each refusal below is caused by its one change)', async () => {
      const res = await r.authorize(valid());
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location')!, /^\/interaction\//);
    });

    describe('RFC 6749 §4.1.2.1: bad client_id or redirect_uri → error page on Alias, MUST NOT redirect', () => {
      const cases: [string, () => Params][] = [
        ['client_id missing (§4.1.1 REQUIRED)', () => valid({ client_id: undefined })],
        ['client_id empty (§3.1: empty = omitted)', () => valid({ client_id: '' })],
        ['client_id unknown (§2.2)', () => valid({ client_id: 'no-such-client' })],
        ['client_id repeated (§3.1: MUST NOT be included more than once)', () => valid({ client_id: [conf.id, conf.id] })],
        ['client_id repeated with different values', () => valid({ client_id: [conf.id, pub.id] })],
        ['client_id oversized (5000 characters)', () => valid({ client_id: 'a'.repeat(5000) })],
        ['client_id with a NUL byte', () => valid({ client_id: `${conf.id}\u0000` })],
        ['client_id with non-ASCII characters', () => valid({ client_id: 'é\u{1F600}' })],
        ['redirect_uri missing (OIDC Core §3.1.2.1 REQUIRED)', () => valid({ redirect_uri: undefined })],
        ['redirect_uri empty', () => valid({ redirect_uri: '' })],
        ['redirect_uri repeated (§3.1)', () => valid({ redirect_uri: [APP_CB, APP_CB] })],
        ['redirect_uri unregistered (§3.1.2.3)', () => valid({ redirect_uri: 'https://evil.example/cb' })],
        ['redirect_uri not a URI', () => valid({ redirect_uri: 'not a uri' })],
        ['redirect_uri javascript:', () => valid({ redirect_uri: 'javascript:alert(1)' })],
        ['redirect_uri of another client', () => valid({ redirect_uri: LOOPBACK })],
        ['redirect_uri oversized', () => valid({ redirect_uri: APP_CB + '?' + 'a'.repeat(5000) })],
        ['bad client_id wins over every other error (no redirect even with response_type=token)',
          () => valid({ client_id: 'no-such-client', response_type: 'token', redirect_uri: 'https://evil.example/cb' })],
        ['bad redirect_uri wins over every other error', () => valid({ response_type: 'token', scope: 'bogus', redirect_uri: 'https://evil.example/cb' })],
      ];
      for (const [name, params] of cases) {
        it(name, async () => {
          await expectErrorPage(await refused(params()), 400, ['evil.example', 'javascript:']);
        });
      }

      it('POST with a JSON body (OIDC Core §3.1.2.1 allows only form POST) → error page, not 415/500', async () => {
        const before = await snapshot(alias);
        const res = await fetch(`${alias.issuer}/oauth2/authorize`, {
          method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: JSON.stringify(valid()),
        });
        await expectErrorPage(res, 400);
        await expectUnchanged(alias, before, 'a JSON authorization request');
      });
    });

    describe('RFC 6749 §3.1.2 / RFC 9700 §4.1.3: redirect URIs match exactly (string equality)', () => {
      for (const uri of [
        'https://app.example/cb?extra=1', 'https://app.example/cb/', 'https://APP.example/cb', 'https://app.example/CB',
        'https://app.example:443/cb', 'https://app.example/cb#frag', 'https://app.example/cb2', 'https://app.example/cb2?tenant=2',
        'https://app.example/cb2?tenant=1&x=1', 'https://app.example/x/../cb', 'http://app.example/cb', 'https://app.example./cb',
        'https://user@app.example/cb',
      ]) {
        it(`rejects ${uri}`, async () => {
          await expectErrorPage(await refused(valid({ redirect_uri: uri })), 400);
        });
      }

      it('accepts a registered URI with a query, and keeps that query in error redirects (§3.1.2)', async () => {
        const res = await refused(valid({ redirect_uri: APP_CB_QUERY, response_type: 'token' }));
        expectErrorRedirect(res, { redirectUri: APP_CB_QUERY, error: 'unsupported_response_type', state: 'xyz', issuer: alias.issuer });
      });
    });

    describe('RFC 8252 §7.3: loopback redirects may use any port, for native (public) clients only', () => {
      const pubParams = (redirectUri: string, extra: Params = {}) => valid({
        client_id: pub.id, redirect_uri: redirectUri, code_challenge: pkce.challenge, code_challenge_method: 'S256', ...extra,
      });

      it('a public client registered with http://127.0.0.1/cb may use http://127.0.0.1:51234/cb', async () => {
        const res = await r.authorize(pubParams('http://127.0.0.1:51234/cb'));
        assert.equal(res.status, 303);
        assert.match(res.headers.get('location')!, /^\/interaction\//);
        // Errors after that go back to the port the client asked for.
        const err = await refused(pubParams('http://127.0.0.1:51234/cb', { scope: 'openid bogus' }));
        expectErrorRedirect(err, { redirectUri: 'http://127.0.0.1:51234/cb', error: 'invalid_scope', state: 'xyz', issuer: alias.issuer });
      });

      it('…and the registered URI itself, without a port', async () => {
        const res = await r.authorize(pubParams(LOOPBACK));
        assert.equal(res.status, 303);
        assert.match(res.headers.get('location')!, /^\/interaction\//);
      });

      for (const uri of [
        'http://127.0.0.1:51234/other', 'http://127.0.0.1:51234/cb/', 'http://127.0.0.1:51234/cb?x=1',
        'http://localhost:51234/cb', 'http://[::1]:51234/cb', 'https://127.0.0.1:51234/cb', 'http://127.0.0.1:51234/cb#x',
        'http://127.0.0.1:51234/x/../cb', 'http://127.0.0.1:51234\\cb', 'http://user@127.0.0.1:51234/cb', 'HTTP://127.0.0.1:51234/cb',
        'http://127.0.0.1:99999/cb',
      ]) {
        it(`only the port may differ: rejects ${uri}`, async () => {
          await expectErrorPage(await refused(pubParams(uri)), 400);
        });
      }

      it('a confidential client registered with http://127.0.0.1/cb may NOT change the port', async () => {
        await expectErrorPage(await refused(valid({ client_id: confLoopback.id, redirect_uri: 'http://127.0.0.1:51234/cb' })), 400);
        const ok = await r.authorize(valid({ client_id: confLoopback.id, redirect_uri: LOOPBACK }));
        assert.equal(ok.status, 303);
        assert.match(ok.headers.get('location')!, /^\/interaction\//);
      });
    });

    describe('RFC 6749 §4.1.2.1: other errors redirect with error, error_description, state and iss (RFC 9207)', () => {
      const cases: [string, () => Params, string][] = [
        ['response_type missing (§4.1.1 REQUIRED)', () => valid({ response_type: undefined }), 'invalid_request'],
        ['response_type repeated (§3.1)', () => valid({ response_type: ['code', 'code'] }), 'invalid_request'],
        ['response_type=token (§4.1.2.1; Alias issues no implicit access tokens)', () => valid({ response_type: 'token' }), 'unsupported_response_type'],
        ['response_type=code id_token (hybrid, not supported)', () => valid({ response_type: 'code id_token' }), 'unsupported_response_type'],
        ['response_type=bogus', () => valid({ response_type: 'bogus' }), 'unsupported_response_type'],
        ['client not registered for the code flow (§4.1.2.1 unauthorized_client)', () => valid({ client_id: noCodeGrant.id, redirect_uri: 'https://cc.example/cb' }), 'unauthorized_client'],
        ['scope missing: openid is required (OIDC Core §3.1.2.1)', () => valid({ scope: undefined }), 'invalid_scope'],
        ['scope without openid', () => valid({ scope: 'nickname' }), 'invalid_scope'],
        ['unknown scope (§3.3, §4.1.2.1 invalid_scope)', () => valid({ scope: 'openid profile' }), 'invalid_scope'],
        ['scope with a character outside scope-token (§3.3)', () => valid({ scope: 'openid "x' }), 'invalid_scope'],
        ['scope repeated (§3.1)', () => valid({ scope: ['openid', 'openid'] }), 'invalid_request'],
        ['unknown channel', () => valid({ scope: 'openid contact', channels: 'news nope' }), 'invalid_scope'],
        ['_meta requested explicitly (reserved, comes with contact)', () => valid({ scope: 'openid contact', channels: '_meta' }), 'invalid_scope'],
        ['channels repeated (§3.1)', () => valid({ scope: 'openid contact', channels: ['news', 'news'] }), 'invalid_request'],
        ['code_challenge_method=plain (RFC 7636 §4.4.1: unsupported method → invalid_request)',
          () => valid({ code_challenge: pkce.verifier, code_challenge_method: 'plain' }), 'invalid_request'],
        ['code_challenge without method (RFC 7636 §4.3 defaults to plain)', () => valid({ code_challenge: pkce.challenge }), 'invalid_request'],
        ['code_challenge malformed (RFC 7636 §4.2: 43 base64url characters)',
          () => valid({ code_challenge: 'short', code_challenge_method: 'S256' }), 'invalid_request'],
        ['code_challenge_method without code_challenge', () => valid({ code_challenge_method: 'S256' }), 'invalid_request'],
        ['public client without PKCE (RFC 7636 §4.4.1, RFC 9700 §2.1.1)',
          () => valid({ client_id: pub.id, redirect_uri: LOOPBACK }), 'invalid_request'],
        ['prompt=none combined with login (OIDC Core §3.1.2.1)', () => valid({ prompt: 'none login' }), 'invalid_request'],
        ['prompt with an unknown value', () => valid({ prompt: 'bogus' }), 'invalid_request'],
        ['max_age negative (OIDC Core §3.1.2.1: non-negative integer)', () => valid({ max_age: '-1' }), 'invalid_request'],
        ['max_age not a number', () => valid({ max_age: 'abc' }), 'invalid_request'],
        ['max_age fractional', () => valid({ max_age: '1.5' }), 'invalid_request'],
        ['max_age absurdly large', () => valid({ max_age: '1'.repeat(40) }), 'invalid_request'],
        ['request object (OIDC Core §3.1.2.6 request_not_supported)', () => valid({ request: 'eyJhbGciOiJub25lIn0.e30.' }), 'request_not_supported'],
        ['request_uri (OIDC Core §3.1.2.6 request_uri_not_supported)', () => valid({ request_uri: 'https://app.example/req.jwt' }), 'request_uri_not_supported'],
        ['registration (OIDC Core §3.1.2.6 registration_not_supported)', () => valid({ registration: '{}' }), 'registration_not_supported'],
        ['unknown response_mode', () => valid({ response_mode: 'bogus' }), 'invalid_request'],
        ['include_granted_scopes neither true nor false', () => valid({ include_granted_scopes: 'yes' }), 'invalid_request'],
        ['nonce oversized', () => valid({ nonce: 'n'.repeat(5000) }), 'invalid_request'],
        ['any other parameter repeated (§3.1)', () => valid({ nonce: ['a', 'b'] }), 'invalid_request'],
      ];
      for (const [name, params, error] of cases) {
        it(name, async () => {
          const p = params();
          const res = await refused(p);
          expectErrorRedirect(res, { redirectUri: String(p.redirect_uri), error, state: 'xyz', issuer: alias.issuer });
        });
      }

      it('the same errors arrive by POST (OIDC Core §3.1.2.1)', async () => {
        const before = await snapshot(alias);
        const res = await fetch(`${alias.issuer}/oauth2/authorize`, {
          method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: encode(valid({ response_type: 'token' })),
        });
        expectErrorRedirect(res, { redirectUri: APP_CB, error: 'unsupported_response_type', state: 'xyz', issuer: alias.issuer });
        await expectUnchanged(alias, before, 'a POSTed bad request');
      });

      it('state is echoed exactly, whatever characters it holds (§4.1.2.1)', async () => {
        const state = 'a b&c=d/é?#%';
        const res = await refused(valid({ response_type: 'token', state }));
        expectErrorRedirect(res, { redirectUri: APP_CB, error: 'unsupported_response_type', state, issuer: alias.issuer });
      });

      it('no state in the request → none in the error', async () => {
        const res = await refused(valid({ response_type: 'token', state: undefined }));
        expectErrorRedirect(res, { redirectUri: APP_CB, error: 'unsupported_response_type', issuer: alias.issuer });
      });

      it('a repeated state is not echoed (it has no single value) and is refused (§3.1)', async () => {
        const res = await refused(valid({ state: ['a', 'b'] }));
        expectErrorRedirect(res, { redirectUri: APP_CB, error: 'invalid_request', issuer: alias.issuer });
      });

      it('an oversized state is refused, not silently dropped (§4.1.2: state REQUIRED in the answer if it was sent)', async () => {
        const res = await refused(valid({ state: 's'.repeat(5000) }));
        expectErrorRedirect(res, { redirectUri: APP_CB, error: 'invalid_request', issuer: alias.issuer });
      });

      it('error_description never reflects characters RFC 6749 §4.1.2.1 forbids', async () => {
        for (const p of [
          valid({ response_type: 'to"ken\\é' }), valid({ response_mode: 'q"uery\u00e9' }),
          valid({ ['pa"ram\u00e9']: ['1', '2'] }), valid({ prompt: 'login\tnone' }),
        ]) {
          const res = await refused(p);
          assert.ok(res.status === 303, `redirect for ${encode(p)}`);
          const description = new URL(res.headers.get('location')!).searchParams.get('error_description')!;
          assert.match(description, /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/, description);
        }
      });

      it('channels are ignored unless contact is requested (DESIGN: channels)', async () => {
        const res = await r.authorize(valid({ channels: 'nope _meta' }));
        assert.equal(res.status, 303);
        assert.match(res.headers.get('location')!, /^\/interaction\//);
      });
    });

    describe('never a 500', () => {
      const raw = [
        '', 'client_id', '%00', '%ff%fe', 'client_id=%ED%A0%80', 'client_id[]=x', 'client_id[a]=b', '__proto__=x', 'constructor=x',
        'client_id=%00&redirect_uri=%00', `client_id=CONF&redirect_uri=${encodeURIComponent(APP_CB)}&__proto__[x]=1&response_type=code&scope=openid`,
        `client_id=CONF&redirect_uri=${encodeURIComponent(APP_CB)}&response_type=code&scope=openid&state=%00%ff`,
        `client_id=CONF&redirect_uri=${encodeURIComponent(APP_CB)}&response_type=code&scope=openid&nonce=%00&max_age=%00`,
        `client_id=CONF&redirect_uri=${encodeURIComponent(APP_CB)}&response_type=%00&scope=openid%00`,
        `client_id=CONF&redirect_uri=${encodeURIComponent(APP_CB)}&response_type=code&scope=openid&${'x'.repeat(4000)}=1&${'x'.repeat(4000)}=2`,
      ];
      for (const q of raw) {
        it(`GET /oauth2/authorize?${q.slice(0, 60)}`, async () => {
          const res = await fetch(`${alias.issuer}/oauth2/authorize?${q.replaceAll('CONF', conf.id)}`, { redirect: 'manual' });
          await res.arrayBuffer();
          assert.ok(res.status < 500, `status ${res.status}`);
        });
      }

      for (const path of ['/interaction/%00', '/interaction/' + 'x'.repeat(64), '/interaction/a%20b', '/interaction/%C3%A9']) {
        it(`GET/POST ${path.slice(0, 40)} → 4xx page`, async () => {
          const get = await fetch(alias.issuer + path, { redirect: 'manual' });
          assert.ok(get.status >= 400 && get.status < 500, `GET ${get.status}`);
          assert.match(get.headers.get('content-type') ?? '', /^text\/html/);
          await get.arrayBuffer();
          const post = await fetch(alias.issuer + path + '/login', {
            method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=x',
          });
          assert.ok(post.status >= 400 && post.status < 500, `POST ${post.status}`);
          assert.match(post.headers.get('content-type') ?? '', /^text\/html/);
          await post.arrayBuffer();
        });
      }

      // URLs the router itself refuses (undecodable, or a path parameter over fastify's
      // maxParamLength): still 4xx, never 500.
      const badUrls = ['/interaction/%ff/login', '/interaction/' + 'x'.repeat(5000), '/api/oauth2/%ff', '/oauth2/authorize/%ff'];
      for (const path of badUrls) {
        it(`GET ${path.slice(0, 40)} → 4xx`, async () => {
          const res = await fetch(alias.issuer + path, { redirect: 'manual' });
          assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
          await res.arrayBuffer();
        });
      }
      // DESIGN: errors are OAuth JSON on API endpoints and readable pages elsewhere, also
      // for URLs the router refuses before any route runs.
      it('router-level refusals use the same error shapes (page / OAuth JSON)', async () => {
        await expectErrorPage(await fetch(alias.issuer + '/interaction/%ff/login', { redirect: 'manual' }), 400);
        await expectErrorPage(await fetch(alias.issuer + '/interaction/' + 'x'.repeat(5000), { redirect: 'manual' }), 400);
        const api = await fetch(alias.issuer + '/api/oauth2/%ff');
        await expectJsonError(api, 400, 'invalid_request');
      });

      it('a login form with a NUL in the e-mail address → the form again, not a 500', async () => {
        const browser = new Browser(alias.issuer);
        const login = await browser.follow(`/oauth2/authorize?${encode(valid())}`);
        assert.match(login.html, /name="password"/);
        const again = await browser.submit(login, { email: 'a\u0000@example.com', password: 'whatever' });
        assert.ok(again.status >= 400 && again.status < 500, String(again.status));
        assert.match(again.html, /name="password"/);
      });

      it('a body over 1 MiB → 413 page (DESIGN: request bodies are limited to 1 MiB)', async () => {
        const res = await fetch(`${alias.issuer}/oauth2/authorize`, {
          method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'state=' + 'a'.repeat(1024 * 1024 + 10),
        });
        assert.equal(res.status, 413);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
        await res.arrayBuffer();
      });
    });

    describe('CORS (DESIGN: token and userinfo for registered redirect origins; discovery and JWKS public)', () => {
      const preflight = (path: string, origin: string, method = 'POST') => fetch(alias.issuer + path, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
      });

      for (const path of ['/api/oauth2/token', '/api/oauth2/userinfo']) {
        it(`preflight on ${path} from a registered redirect origin → that origin (Fetch §3.2.2)`, async () => {
          const res = await preflight(path, 'https://spa.example');
          assert.ok(res.status === 200 || res.status === 204, String(res.status));
          assert.equal(res.headers.get('access-control-allow-origin'), 'https://spa.example');
          assert.match(res.headers.get('access-control-allow-methods') ?? '', /POST/);
          assert.match(res.headers.get('access-control-allow-headers') ?? '', /authorization/i);
          assert.match(res.headers.get('vary') ?? '', /origin/i);
        });

        it(`preflight on ${path} from an unregistered origin → no Access-Control-Allow-Origin`, async () => {
          for (const origin of ['https://evil.example', 'https://spa.example.evil.example', 'http://spa.example', 'null', 'https://spa.example:444']) {
            const res = await preflight(path, origin);
            assert.ok(res.status < 500);
            assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
          }
        });
      }

      it('an error from the token endpoint is readable by a registered origin', async () => {
        const res = await fetch(`${alias.issuer}/api/oauth2/token`, {
          method: 'POST', headers: { origin: 'https://spa.example', 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=x',
        });
        assert.equal(res.headers.get('access-control-allow-origin'), 'https://spa.example');
        await expectJsonError(res, 401, 'invalid_client');
      });

      for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/oauth2/jwks']) {
        it(`${path} is public: Access-Control-Allow-Origin *`, async () => {
          const pre = await preflight(path, 'https://anyone.example', 'GET');
          assert.equal(pre.headers.get('access-control-allow-origin'), '*');
          const get = await fetch(alias.issuer + path, { headers: { origin: 'https://anyone.example' } });
          assert.equal(get.status, 200);
          assert.equal(get.headers.get('access-control-allow-origin'), '*');
          await get.arrayBuffer();
        });
      }

      it('no CORS on the authorization endpoint (a page, never read by scripts)', async () => {
        const res = await preflight('/oauth2/authorize', 'https://spa.example', 'GET');
        assert.equal(res.headers.get('access-control-allow-origin'), null);
      });
    });

    describe('unknown paths', () => {
      it('an unknown /api path → JSON 404', async () => {
        const res = await fetch(`${alias.issuer}/api/nope`);
        const body = await expectJsonError(res, 404, 'invalid_request');
        assert.ok(body.error_description);
        const post = await fetch(`${alias.issuer}/api/oauth2/nope`, { method: 'POST', body: 'x=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        assert.equal(post.status, 404);
        assert.match(post.headers.get('content-type') ?? '', /^application\/json/);
        await post.arrayBuffer();
      });

      it('an unknown page → HTML 404 without a form', async () => {
        await expectErrorPage(await fetch(`${alias.issuer}/nope`, { redirect: 'manual' }), 404);
      });
    });
  });
}
