// The authorization code flow end to end over HTTP, through the real pages, checked by
// an independent client (oauth4webapi) on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';

for (const kind of databaseKinds()) {
  describe(`authorization code flow (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    before(async () => {
      alias = await startAlias(kind);
      const issuer = new URL(alias.issuer);
      as = await oauth.processDiscoveryResponse(issuer,
        await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    });
    after(() => alias.close());

    async function signIn(opts: { pkce: boolean; scope: string; channels?: string; untick?: string[] }) {
      const { client, secret } = await alias.client({
        redirectUris: ['http://127.0.0.1:9/cb'], grantTypes: ['authorization_code', 'refresh_token'],
        channels: ['news:Product news', 'billing:Invoices'],
      });
      const user = await alias.user({ nickname: 'Zed' });
      const verifier = oauth.generateRandomCodeVerifier();
      const nonce = oauth.generateRandomNonce();
      const state = oauth.generateRandomState();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({
        response_type: 'code', client_id: client.id, redirect_uri: 'http://127.0.0.1:9/cb', scope: opts.scope,
        state, nonce, ...(opts.channels ? { channels: opts.channels } : {}),
        ...(opts.pkce ? { code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' } : {}),
      }).toString();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url.href);
      assert.equal(login.status, 200);
      assert.match(login.html, /name="email"/);
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      assert.equal(consent.status, 200, consent.html);
      assert.match(consent.html, /name="decision" value="allow"/);
      const scopes = checkboxes(consent.html, 'scope');
      assert.ok(!scopes.some((c) => c.value === 'openid'), 'openid is text, not a checkbox');
      const done = await browser.submit(consent, {
        decision: 'allow',
        scope: scopes.map((c) => c.value).filter((v) => !opts.untick?.includes(v)),
        channel: checkboxes(consent.html, 'channel').map((c) => c.value).filter((v) => !opts.untick?.includes(v)),
      });
      const callback = new URL(done.url);
      const oclient: oauth.Client = { client_id: client.id };
      const params = oauth.validateAuthResponse(as, oclient, callback, state);
      const response = await oauth.authorizationCodeGrantRequest(as, oclient, oauth.ClientSecretBasic(secret!), params,
        'http://127.0.0.1:9/cb', opts.pkce ? verifier : oauth.nopkce, { [oauth.allowInsecureRequests]: true });
      const raw = await response.clone().json();
      const result = await oauth.processAuthorizationCodeResponse(as, oclient, response, { expectedNonce: nonce, requireIdToken: true });
      return { client, secret: secret!, user, result, raw, browser, oclient };
    }

    it('issues tokens an independent client accepts (PKCE, nickname, refresh)', async () => {
      const { result, raw } = await signIn({ pkce: true, scope: 'openid nickname offline_access' });
      assert.equal(result.token_type, 'bearer');
      assert.equal(raw.expires_in, 1800);
      assert.equal(raw.scope, 'openid offline_access nickname'.split(' ').sort().join(' ') === raw.scope ? raw.scope : raw.scope);
      assert.deepEqual(new Set(raw.scope.split(' ')), new Set(['openid', 'nickname', 'offline_access']));
      assert.ok(raw.refresh_token, 'confidential client with offline_access gets a refresh token');
      assert.ok(raw.access_token.length >= 43, 'opaque token carries >= 256 bits');
      const claims = oauth.getValidatedIdTokenClaims(result)!;
      assert.equal(claims.nickname, 'Zed');
      assert.ok(claims.auth_time);
      // OIDC Core §2 amr/acr: a password sign-in (RFC 8176 "pwd") reaches the password level.
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(claims.acr, 'urn:alias:acr:password');
      assert.ok(claims.at_hash);
      assert.ok(claims.jti);
    });

    it('works without PKCE for a confidential client, and the sub is pairwise', async () => {
      const a = await signIn({ pkce: false, scope: 'openid' });
      const claimsA = oauth.getValidatedIdTokenClaims(a.result)!;
      assert.equal(a.raw.refresh_token, undefined, 'no refresh token without offline_access');
      assert.equal(claimsA.nickname, undefined);
      // The same user at a second client gets a different alias ID.
      const { client: other, secret } = await alias.client({ redirectUris: ['http://127.0.0.1:9/cb'] });
      const state = 'st';
      const url = `/oauth2/authorize?response_type=code&client_id=${other.id}&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/cb')}&scope=openid&state=${state}`;
      const consent = await a.browser.follow(url);
      const done = await a.browser.submit(consent, { decision: 'allow' });
      const code = new URL(done.url).searchParams.get('code')!;
      const res = await fetch(as.token_endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${other.id}:${secret}`).toString('base64') },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:9/cb' }),
      });
      const body = await res.json();
      const sub2 = JSON.parse(Buffer.from(body.id_token.split('.')[1], 'base64url').toString()).sub;
      assert.notEqual(sub2, claimsA.sub);
      assert.equal(new URL(done.url).searchParams.get('iss'), alias.issuer, 'RFC 9207 iss in the response');
    });

    it('userinfo returns sub and nickname; refresh rotates and reuse revokes the family', async () => {
      const { result, raw, oclient, secret } = await signIn({ pkce: true, scope: 'openid nickname offline_access' });
      const claims = oauth.getValidatedIdTokenClaims(result)!;
      const ui = await oauth.userInfoRequest(as, oclient, raw.access_token, { [oauth.allowInsecureRequests]: true });
      const info = await oauth.processUserInfoResponse(as, oclient, claims.sub, ui);
      assert.equal(info.sub, claims.sub);
      assert.equal(info.nickname, 'Zed');

      const auth = oauth.ClientSecretBasic(secret);
      const r1 = await oauth.processRefreshTokenResponse(as, oclient,
        await oauth.refreshTokenGrantRequest(as, oclient, auth, raw.refresh_token, { [oauth.allowInsecureRequests]: true }));
      assert.ok(r1.refresh_token && r1.refresh_token !== raw.refresh_token, 'rotated');
      const r2 = await oauth.processRefreshTokenResponse(as, oclient,
        await oauth.refreshTokenGrantRequest(as, oclient, auth, r1.refresh_token!, { [oauth.allowInsecureRequests]: true }));
      // Reusing the old refresh token once its successor was used (so no retry after a lost
      // answer, docs/security.md) fails and revokes the whole family (RFC 9700 §4.14.2).
      const reuse = await oauth.refreshTokenGrantRequest(as, oclient, auth, raw.refresh_token, { [oauth.allowInsecureRequests]: true });
      assert.equal(reuse.status, 400);
      assert.equal((await reuse.json()).error, 'invalid_grant');
      const after = await oauth.refreshTokenGrantRequest(as, oclient, auth, r2.refresh_token!, { [oauth.allowInsecureRequests]: true });
      assert.equal((await after.json()).error, 'invalid_grant', 'the rotated token died with its family');
      const ui2 = await fetch(as.userinfo_endpoint!, { headers: { authorization: `Bearer ${r1.access_token}` } });
      assert.equal(ui2.status, 401);
      assert.match(ui2.headers.get('www-authenticate')!, /error="invalid_token"/);
    });

    it('the user can untick scopes and channels; channels appear only with contact, never _meta', async () => {
      const { raw } = await signIn({ pkce: true, scope: 'openid nickname contact', channels: 'news billing', untick: ['nickname', 'billing'] });
      assert.deepEqual(new Set(raw.scope.split(' ')), new Set(['openid', 'contact']));
      assert.equal(raw.channels, 'news');
    });

    it('a remembered grant skips consent; prompt=none works with a session', async () => {
      const { client, browser } = await signIn({ pkce: false, scope: 'openid nickname' });
      const q = (extra: Record<string, string>) => '/oauth2/authorize?' + new URLSearchParams({
        response_type: 'code', client_id: client.id, redirect_uri: 'http://127.0.0.1:9/cb', scope: 'openid', state: 'x', ...extra,
      });
      const silent = await browser.follow(q({ prompt: 'none' }));
      assert.ok(new URL(silent.url).searchParams.get('code'), 'code without any page');
      const wider = await browser.follow(q({ prompt: 'none', scope: 'openid contact' }));
      assert.equal(new URL(wider.url).searchParams.get('error'), 'consent_required');
      const fresh = new Browser(alias.issuer);
      const anon = await fresh.follow(q({ prompt: 'none' }));
      assert.equal(new URL(anon.url).searchParams.get('error'), 'login_required');
      assert.equal(new URL(anon.url).searchParams.get('state'), 'x');
      const forced = await browser.follow(q({ prompt: 'login' }));
      assert.match(forced.html, /name="password"/, 'prompt=login shows the login form');
      const consentAgain = await browser.follow(q({ prompt: 'consent' }));
      assert.match(consentAgain.html, /name="decision"/, 'prompt=consent shows consent');
      const select = await browser.follow(q({ prompt: 'select_account' }));
      assert.match(select.html, /name="account" value="current"/);
      const chosen = await browser.submit(select, { account: 'current' });
      assert.ok(new URL(chosen.url).searchParams.get('code'));
      const maxAge = await browser.follow(q({ max_age: '0' }));
      assert.match(maxAge.html, /name="password"/, 'max_age=0 forces a new sign-in');
    });
  });
}
