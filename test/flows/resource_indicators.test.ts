// RFC 8707 resource indicators over HTTP, with oauth4webapi and openid-client as the
// independent clients, on SQLite and PostgreSQL: `resource` at the authorization and token
// endpoints, one audience per access token, invalid_target for unknown, malformed and
// ungranted resources, a refresh that keeps the audience, and no 500 on junk.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias, discoverAlias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { oauthError } from '../helpers/oidc_errors.js';
import type { Resource } from '../../src/store/types.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const FORM = 'application/x-www-form-urlencoded';
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
const CALENDAR = 'https://calendar.example/api';
const CONTACTS = 'https://contacts.example/';
const words = (s: string | undefined) => new Set((s ?? '').split(' ').filter(Boolean));

for (const kind of databaseKinds()) {
  describe(`resource indicators, RFC 8707 (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    before(async () => {
      alias = await startAlias(kind);
      as = await discoverAlias(alias);
      const at = alias.s.now();
      const resources: Resource[] = [
        { uri: CALENDAR, name: 'Calendar API', scopes: ['calendar.read', 'calendar.write', 'shared'], tokenFormat: 'opaque', ttlS: 1800, createdAt: at },
        { uri: CONTACTS, name: 'Contacts API', scopes: ['contacts.read', 'shared'], tokenFormat: 'opaque', ttlS: 600, createdAt: at },
      ];
      for (const r of resources) await alias.s.store.resources.insert(r);
    });
    after(() => alias?.close());

    async function codeClient() {
      const { client, secret } = await alias.client({ redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'] });
      return { client, oclient: { client_id: client.id } as oauth.Client, auth: oauth.ClientSecretBasic(secret!) };
    }

    /** Signs in and consents (ticking `keep`, or everything offered); returns the callback and the consent page. */
    async function authorize(clientId: string, params: URLSearchParams, keep?: (value: string) => boolean) {
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(as.authorization_endpoint!);
      params.set('response_type', 'code');
      params.set('client_id', clientId);
      params.set('redirect_uri', REDIRECT);
      params.set('state', 'st');
      params.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
      params.set('code_challenge_method', 'S256');
      url.search = params.toString();
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url.href);
      if (login.status !== 200) return { callback: new URL(login.url), verifier, consent: undefined, browser };
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const offered = checkboxes(consent.html, 'scope').map((c) => c.value);
      const done = await browser.submit(consent, { decision: 'allow', scope: offered.filter(keep ?? (() => true)) });
      return { callback: new URL(done.url), verifier, consent, browser };
    }

    const tokenRequest = (body: URLSearchParams, auth: string) => alias.app.inject({
      method: 'POST', url: '/api/oauth2/token', headers: { 'content-type': FORM, authorization: auth }, payload: body.toString() });
    const basicOf = (clientId: string, secret: string) => `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;

    it('consent offers each resource scope with the resource name; the token is for the one resource, with its scopes only (§2, §2.2)', async () => {
      const { client, oclient, auth } = await codeClient();
      const params = new URLSearchParams({ scope: 'openid offline_access calendar.read shared' });
      params.append('resource', CALENDAR);
      params.append('resource', CONTACTS);
      const { callback, verifier, consent, browser } = await authorize(client.id, params);
      // The person sees the API's name next to its scope, and can untick it like other scopes.
      assert.match(consent!.html, /calendar\.read at Calendar API/);
      assert.match(consent!.html, /shared at Contacts API/);
      // The account page lists what was granted the same way, each revocable.
      const account = await browser.follow('/account');
      assert.match(account.html, /calendar\.read at Calendar API/);
      const cb = oauth.validateAuthResponse(as, oclient, callback, 'st');
      // §2.2: several resources were granted, so the token request must name one.
      const res = await oauth.authorizationCodeGrantRequest(as, oclient, auth, cb, REDIRECT, verifier,
        { ...INSECURE, additionalParameters: { resource: CALENDAR } });
      const tokens = await oauth.processAuthorizationCodeResponse(as, oclient, res);
      assert.deepEqual(words(tokens.scope), new Set(['calendar.read', 'shared']), 'only the resource\'s scopes');
      assert.ok(tokens.id_token, 'the ID token still comes with the code exchange');
      // A token for another resource is not a token for Alias's own userinfo.
      const ui = await fetch(as.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(ui.status, 401);

      // §2.2: a refresh may ask for the other granted resource, and gets its scopes only.
      const refreshed = await oauth.processRefreshTokenResponse(as, oclient, await oauth.refreshTokenGrantRequest(as, oclient, auth,
        tokens.refresh_token!, { ...INSECURE, additionalParameters: { resource: CONTACTS } }));
      assert.deepEqual(words(refreshed.scope), new Set(['shared']));
    });

    it('one resource granted: the code exchange and every refresh without `resource` keep its audience (§2.2)', async () => {
      const { client, secret } = await alias.client({ redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'],
        tokenEndpointAuthMethod: 'client_secret_post' });
      const params = new URLSearchParams({ scope: 'openid offline_access calendar.read calendar.write', resource: CALENDAR });
      // The person unticks calendar.write: the token never carries it.
      const { callback, verifier } = await authorize(client.id, params, (v) => !v.endsWith('#calendar.write'));
      const config = await oidc.discovery(new URL(alias.issuer), client.id, secret, undefined, { execute: [oidc.allowInsecureRequests] });
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'st' });
      assert.deepEqual(words(tokens.scope), new Set(['calendar.read']));
      assert.equal(tokens.expires_in, 1800);
      const introspect = await oidc.tokenIntrospection(config, tokens.access_token);
      assert.equal(introspect.active, true);
      assert.equal(introspect.aud, CALENDAR);
      assert.equal(introspect.scope, 'calendar.read');
      let refresh = tokens.refresh_token!;
      for (let i = 0; i < 2; i++) {
        const next = await oidc.refreshTokenGrant(config, refresh);
        assert.deepEqual(words(next.scope), new Set(['calendar.read']));
        const info = await oidc.tokenIntrospection(config, next.access_token);
        assert.equal(info.aud, CALENDAR, 'the refresh keeps the audience');
        refresh = next.refresh_token!;
      }
      // RFC 6749 §6 with §2.2: a refresh may narrow to the resource's scope names, never widen.
      assert.equal((await oauthError(oidc.refreshTokenGrant(config, refresh, { scope: 'calendar.write' }))).error, 'invalid_scope');
      // A resource that was not granted to this refresh token: invalid_target.
      assert.equal((await oauthError(oidc.refreshTokenGrant(config, refresh, { resource: CONTACTS }))).error, 'invalid_target');
    });

    it('no resource at all: tokens as before (user scopes, userinfo works)', async () => {
      const { client, oclient, auth } = await codeClient();
      const { callback, verifier } = await authorize(client.id, new URLSearchParams({ scope: 'openid nickname' }));
      const cb = oauth.validateAuthResponse(as, oclient, callback, 'st');
      const tokens = await oauth.processAuthorizationCodeResponse(as, oclient,
        await oauth.authorizationCodeGrantRequest(as, oclient, auth, cb, REDIRECT, verifier, INSECURE));
      assert.deepEqual(words(tokens.scope), new Set(['openid', 'nickname']));
      const ui = await fetch(as.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(ui.status, 200);
      // §2: a resource at the token endpoint that the code was not granted for → invalid_target.
      const { callback: cb2, verifier: v2 } = await authorize(client.id, new URLSearchParams({ scope: 'openid' }));
      const p2 = oauth.validateAuthResponse(as, oclient, cb2, 'st');
      const res = await oauth.authorizationCodeGrantRequest(as, oclient, auth, p2, REDIRECT, v2,
        { ...INSECURE, additionalParameters: { resource: CALENDAR } });
      const err = await oauth.processAuthorizationCodeResponse(as, oclient, res).catch((e: unknown) => e);
      assert.ok(err instanceof oauth.ResponseBodyError);
      assert.equal(err.error, 'invalid_target');
    });

    it('authorization endpoint: unknown, malformed, fragment and http (non-loopback) resources → invalid_target redirect (§2)', async () => {
      const { client } = await codeClient();
      for (const resource of ['https://unknown.example/', 'not a uri', '/relative', 'https://calendar.example/api#frag',
        'http://calendar.example/api', 'urn:x:y', 'https://u:p@calendar.example/api']) {
        const params = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, state: 'st',
          scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', resource });
        const res = await alias.app.inject({ method: 'GET', url: `/oauth2/authorize?${params}` });
        assert.equal(res.statusCode, 303, resource);
        const location = new URL(res.headers.location as string);
        assert.equal(location.origin + location.pathname, REDIRECT, resource);
        assert.equal(location.searchParams.get('error'), 'invalid_target', resource);
        assert.equal(location.searchParams.get('state'), 'st');
      }
      // A scope no requested resource defines stays invalid_scope.
      const params = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, state: 'st',
        scope: 'openid contacts.read', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', resource: CALENDAR });
      const res = await alias.app.inject({ method: 'GET', url: `/oauth2/authorize?${params}` });
      assert.equal(new URL(res.headers.location as string).searchParams.get('error'), 'invalid_scope');
    });

    it('client credentials: resource → audience-restricted token with the client\'s scopes the API understands (§2)', async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], scopes: ['calendar.read', 'reports'],
        tokenEndpointAuthMethod: 'client_secret_post' });
      const config = await oidc.discovery(new URL(alias.issuer), client.id, secret, undefined, { execute: [oidc.allowInsecureRequests] });
      const tokens = await oidc.clientCredentialsGrant(config, { resource: CALENDAR });
      assert.deepEqual(words(tokens.scope), new Set(['calendar.read']));
      const info = await oidc.tokenIntrospection(config, tokens.access_token);
      assert.equal(info.aud, CALENDAR);
      assert.equal((await oauthError(oidc.clientCredentialsGrant(config, { resource: CALENDAR, scope: 'reports' }))).error, 'invalid_scope');
      for (const resource of ['https://unknown.example/', 'junk', 'https://calendar.example/api#x']) {
        const err = await oauthError(oidc.clientCredentialsGrant(config, { resource }));
        assert.equal(err.error, 'invalid_target', resource);
        assert.equal(err.status, 400);
      }
    });

    it('token endpoint: two resources, resource with the password grant, and junk → invalid_target JSON, never 500', async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials', 'password'], scopes: ['calendar.read'] });
      const auth = basicOf(client.id, secret!);
      const two = new URLSearchParams({ grant_type: 'client_credentials' });
      two.append('resource', CALENDAR);
      two.append('resource', CONTACTS);
      let res = await tokenRequest(two, auth);
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error, 'invalid_target');
      assert.match(res.headers['cache-control'] as string, /no-store/);
      res = await tokenRequest(new URLSearchParams({ grant_type: 'password', username: 'a@b.example', password: 'x', resource: CALENDAR }), auth);
      assert.equal(res.json().error, 'invalid_target');
      for (const junk of ['\u0000', 'x'.repeat(5000), 'https://%zz', 'https://a.example/\u0001', '%', 'https://[::1', 'javascript:alert(1)']) {
        res = await tokenRequest(new URLSearchParams({ grant_type: 'client_credentials', resource: junk }), auth);
        assert.ok(res.statusCode === 400, `${JSON.stringify(junk.slice(0, 20))} → ${res.statusCode}`);
        assert.ok(['invalid_target', 'invalid_request'].includes(res.json().error));
      }
    });
  });
}
