// The resource owner password credentials grant (RFC 6749 §4.3) over HTTP, checked by an
// independent client library (openid-client), on SQLite and PostgreSQL. It shares the
// sign-in page's password check and lockout.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, type Page } from '../helpers/browser.js';
import { oauthError } from '../helpers/oidc_errors.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const words = (s: unknown) => new Set(String(s ?? '').split(' ').filter(Boolean));

for (const kind of databaseKinds()) {
  describe(`resource owner password grant (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    /** Seconds Alias's clock was moved forward; openid-client is told, so ID tokens validate. */
    let skew = 0;
    before(async () => {
      alias = await startAlias(kind);
    });
    after(() => alias?.close());

    function advance(seconds: number) {
      alias.advance(seconds * 1000);
      skew += seconds;
    }

    const configFor = (clientId: string, secret: string) => oidc.discovery(new URL(alias.issuer), clientId,
      { client_secret: secret, [oidc.clockSkew]: skew }, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });

    async function setup(grantTypes = ['password', 'refresh_token'], scopes = ['reports.read']) {
      const { client, secret } = await alias.client({ grantTypes, scopes, redirectUris: [REDIRECT] });
      const config = await configFor(client.id, secret!);
      const seen: { last?: Response } = {};
      config[oidc.customFetch] = async (url, options) => {
        const res = await fetch(url, options as RequestInit);
        seen.last = res.clone();
        return res;
      };
      return { client, secret: secret!, config, seen };
    }

    const grant = (config: oidc.Configuration, username: string, password: string, scope?: string) =>
      oidc.genericGrantRequest(config, 'password', { username, password, ...(scope ? { scope } : {}) });

    /** The raw token endpoint, for status and headers openid-client does not expose on errors. */
    async function rawGrant(clientId: string, secret: string, username: string, password: string) {
      return fetch(`${alias.issuer}/api/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64') },
        body: new URLSearchParams({ grant_type: 'password', username, password, scope: 'openid' }),
      });
    }

    /** Alias's sign-in page, for an authorization code request of another (web) client. */
    async function loginPage(): Promise<{ browser: Browser; page: Page }> {
      const { client: web } = await alias.client({ redirectUris: [REDIRECT] });
      const clientId = web.id;
      const browser = new Browser(alias.issuer);
      const page = await browser.follow('/oauth2/authorize?' + new URLSearchParams({
        response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'openid', state: 's',
      }));
      assert.equal(page.status, 200);
      assert.match(page.html, /name="password"/);
      return { browser, page };
    }

    it('issues access, refresh and ID tokens for the user (§4.3.3); sub/auth_time; no-store (§5.1)', async () => {
      const { client, config, seen } = await setup();
      const user = await alias.user({ nickname: 'Pat' });
      const before = Math.floor(Date.now() / 1000);
      const tokens = await grant(config, user.email, user.password, 'openid nickname offline_access');
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.expires_in, 1800);
      assert.deepEqual(words(tokens.scope), new Set(['openid', 'nickname', 'offline_access']));
      assert.match(seen.last!.headers.get('cache-control') ?? '', /no-store/);
      assert.ok(tokens.refresh_token, 'offline_access + refresh_token grant → refresh token');
      const claims = tokens.claims()!;
      assert.ok(claims, 'openid → ID token, validated by openid-client');
      assert.equal(claims.aud, client.id);
      assert.equal(claims.iss, alias.issuer);
      assert.equal(typeof claims.sub, 'string');
      assert.notEqual(claims.sub, user.id, 'sub is the pairwise alias ID, not the internal id');
      assert.equal(typeof claims.auth_time, 'number');
      assert.ok(claims.auth_time! >= before - 5 && claims.auth_time! <= Math.floor(Date.now() / 1000) + 5);
      assert.equal(claims.nickname, 'Pat');
      // RFC 8176 §2: the password grant is a password sign-in.
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(claims.acr, 'urn:alias:acr:password');
      // The access token works at userinfo for the same subject.
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.sub, claims.sub);
      // And the refresh token rotates (RFC 6749 §6).
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
      // Provider docs: "New user and refresh tokens are returned - new ID tokens are not."
      assert.equal(refreshed.id_token, undefined);
      assert.equal(refreshed.claims(), undefined);
      const introspected = await oidc.tokenIntrospection(config, refreshed.access_token);
      assert.equal(introspected.active, true);
      assert.equal(introspected.sub, claims.sub);
    });

    it('no offline_access → no refresh token; no openid → no ID token; client scopes allowed', async () => {
      const { config } = await setup();
      const user = await alias.user();
      const a = await grant(config, user.email, user.password, 'openid');
      assert.equal(a.refresh_token, undefined);
      assert.ok(a.id_token);
      const b = await grant(config, user.email, user.password, 'reports.read');
      assert.deepEqual(words(b.scope), new Set(['reports.read']));
      assert.equal(b.id_token, undefined);
      assert.equal(b.refresh_token, undefined);
      // A client without the refresh_token grant gets no refresh token (RFC 6749 §4.3.3: OPTIONAL).
      const noRefresh = await setup(['password']);
      const c = await grant(noRefresh.config, user.email, user.password, 'openid offline_access');
      assert.equal(c.refresh_token, undefined);
    });

    it('a wrong password or unknown user is invalid_grant (§5.2), indistinguishably', async () => {
      const { config } = await setup();
      const user = await alias.user();
      const wrong = await oauthError(grant(config, user.email, 'not the password at all', 'openid'));
      assert.equal(wrong.status, 400);
      assert.equal(wrong.error, 'invalid_grant');
      const unknown = await oauthError(grant(config, `nobody-${Date.now()}@example.com`, 'not the password at all', 'openid'));
      assert.equal(unknown.error, 'invalid_grant');
      assert.equal(unknown.error_description, wrong.error_description);
      // Missing credentials are invalid_request (§4.3.2: username and password are REQUIRED).
      const missing = await oauthError(oidc.genericGrantRequest(config, 'password', { username: user.email }));
      assert.equal(missing.error, 'invalid_request');
    });

    it('contact, unknown and unregistered scopes are invalid_scope (§5.2)', async () => {
      const { config } = await setup();
      const user = await alias.user();
      for (const scope of ['contact', 'openid contact', 'reports.write', 'no-such-scope']) {
        const err = await oauthError(grant(config, user.email, user.password, scope));
        assert.equal(err.status, 400, scope);
        assert.equal(err.error, 'invalid_scope', scope);
      }
      // No channels were ever granted.
      const ok = await grant(config, user.email, user.password, 'openid');
      assert.equal((ok as Record<string, unknown>).channels, undefined);
    });

    it('a client not given the password grant gets unauthorized_client (§5.2)', async () => {
      const { config } = await setup(['authorization_code']);
      const user = await alias.user();
      const err = await oauthError(grant(config, user.email, user.password, 'openid'));
      assert.equal(err.status, 400);
      assert.equal(err.error, 'unauthorized_client');
      // A public client (never allowed the password grant) is refused the same way.
      const { client } = await alias.client({ isPublic: true, redirectUris: [REDIRECT] });
      const pub = await oidc.discovery(new URL(alias.issuer), client.id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      assert.equal((await oauthError(grant(pub, user.email, user.password, 'openid'))).error, 'unauthorized_client');
    });

    it('repeated wrong passwords lock the account out (429 + Retry-After) on the grant and the sign-in page; the lockout ends', async () => {
      const { client, secret, config } = await setup();
      const user = await alias.user();
      const bystander = await alias.user();

      /** Wrong passwords until a 429; returns its Retry-After (seconds). */
      async function failUntilThrottled(): Promise<number> {
        for (let i = 0; i < 30; i++) {
          const res = await rawGrant(client.id, secret, user.email, `wrong password ${i}`);
          const body = await res.json();
          if (res.status === 429) {
            const retryAfter = Number(res.headers.get('retry-after'));
            assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After ${res.headers.get('retry-after')}`);
            assert.equal(typeof body.error, 'string');
            return retryAfter;
          }
          assert.equal(res.status, 400, JSON.stringify(body));
          assert.equal(body.error, 'invalid_grant');
        }
        assert.fail('30 wrong passwords and still no 429');
      }

      let retryAfter = await failUntilThrottled();
      // Make the block long enough that real time cannot end it during the checks below.
      for (let i = 0; i < 8 && retryAfter < 8; i++) {
        advance(retryAfter);
        retryAfter = await failUntilThrottled();
      }
      assert.ok(retryAfter >= 8, `a lockout of ${retryAfter}s`);

      // While locked, even the right password is refused, at once (no held request).
      const started = Date.now();
      const locked = await rawGrant(client.id, secret, user.email, user.password);
      assert.equal(locked.status, 429);
      assert.ok(Number(locked.headers.get('retry-after')) > 0);
      assert.ok(Date.now() - started < 2000, 'a throttled answer comes at once');
      // openid-client sees a 429 error response.
      assert.equal((await oauthError(grant(config, user.email, user.password, 'openid'))).status, 429);
      // The lockout is per account: another user signs in fine.
      assert.ok((await grant(config, bystander.email, bystander.password, 'openid')).access_token);

      // The sign-in page shares the lockout.
      const { browser, page } = await loginPage();
      const answer = await browser.submit(page, { email: user.email, password: user.password });
      assert.equal(answer.status, 429);
      assert.ok(Number(answer.headers.get('retry-after')) > 0);
      assert.match(answer.html, /name="password"/, 'the form is shown again');
      assert.match(answer.html, /try again/i, 'the page says when to try again');

      // The lockout ends (RFC 9700 §4.15 / DESIGN: lockouts always end).
      advance(Number(locked.headers.get('retry-after')) + 1);
      const tokens = await grant(await configFor(client.id, secret), user.email, user.password, 'openid');
      assert.ok(tokens.access_token);
      assert.ok(tokens.claims()?.sub);
    });

    it('failures on the sign-in page lock the password grant too (one shared lockout)', async () => {
      const { client, secret } = await setup();
      const user = await alias.user();
      const { browser, page } = await loginPage();
      let current = page;
      /** Wrong passwords on the page until a 429; returns its Retry-After (seconds). */
      async function failUntilThrottled(): Promise<number> {
        for (let i = 0; i < 30; i++) {
          const answer = await browser.submit(current, { email: user.email, password: `wrong password ${i}` });
          current = answer;
          if (answer.status === 429) {
            assert.match(answer.html, /name="password"/, 'the form is shown again');
            return Number(answer.headers.get('retry-after'));
          }
          assert.equal(answer.status, 401, answer.html.slice(0, 500));
          assert.match(answer.html, /name="password"/);
        }
        assert.fail('30 wrong passwords on the page and still no 429');
      }
      let retryAfter = await failUntilThrottled();
      assert.ok(retryAfter > 0, 'Retry-After on the throttled page');
      for (let i = 0; i < 8 && retryAfter < 8; i++) {
        advance(retryAfter);
        retryAfter = await failUntilThrottled();
      }
      const res = await rawGrant(client.id, secret, user.email, user.password);
      assert.equal(res.status, 429);
      assert.ok(Number(res.headers.get('retry-after')) > 0);
    });
  });
}
