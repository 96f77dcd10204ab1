// The refresh token request exactly as the provider documentation defines it (issue 17 §1):
// - "New user and refresh tokens are returned - new ID tokens are not."
// - a `scope` with any scope "that weren't one of the original scopes - or that have
//   subsequently been revoked" fails (invalid_scope), and the refresh token stays usable;
// - "The openid scope must be included in all requests";
// - "The updated refresh token returned always has the same functionality … as the one used."
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { basic } from '../helpers/bad_input.js';
import { Browser, checkboxes } from '../helpers/browser.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

for (const kind of databaseKinds()) {
  describe(`refresh token request (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      alias = await startAlias(kind);
    });
    after(async () => alias?.close());

    async function setUp(scope = 'openid nickname offline_access contact') {
      const { client, secret } = await alias.client({ grantTypes: ['password', 'refresh_token'], channels: ['news'] });
      const user = await alias.user({ nickname: 'Ria' });
      const token = async (body: Record<string, string>) => {
        const res = await fetch(`${alias.issuer}/api/oauth2/token`, {
          method: 'POST', headers: { authorization: basic(client.id, secret!), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(body),
        });
        return { status: res.status, headers: res.headers, json: await res.json() as Record<string, string> };
      };
      const first = await token({ grant_type: 'password', username: user.email, password: user.password, scope });
      assert.equal(first.status, 200, JSON.stringify(first.json));
      return { client, secret: secret!, user, token, first: first.json };
    }

    it('answers access_token, token_type, expires_in, scope, channels and a rotated refresh_token, and no id_token', async () => {
      // The code flow on the real pages, so the user grants contact and a channel.
      const { client, secret } = await alias.client({ redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'],
        channels: ['news:News'] });
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id,
        redirect_uri: REDIRECT, scope: 'openid offline_access contact', channels: 'news', state: 's' }));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value),
        channel: checkboxes(consent.html, 'channel').map((c) => c.value) });
      const code = new URL(done.url).searchParams.get('code')!;
      const post = (body: Record<string, string>) => fetch(`${alias.issuer}/api/oauth2/token`, {
        method: 'POST', headers: { authorization: basic(client.id, secret!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(body) });
      const first = await (await post({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT })).json() as Record<string, string>;
      assert.ok(first.id_token, 'the code exchange answers with an ID token');
      const res = await post({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
      const r = await res.json() as Record<string, string>;
      assert.equal(res.status, 200, JSON.stringify(r));
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.deepEqual(Object.keys(r).sort(), ['access_token', 'channels', 'expires_in', 'refresh_token', 'scope', 'token_type']);
      assert.equal(r.token_type, 'Bearer');
      assert.equal(r.expires_in, 1800 as unknown as string);
      assert.equal(r.channels, 'news', '_meta is never listed');
      assert.deepEqual(new Set(r.scope!.split(' ')), new Set(['openid', 'offline_access', 'contact']));
      assert.notEqual(r.refresh_token, first.refresh_token);
    });

    it('openid-client (an independent client) refreshes without an ID token', async () => {
      const { client, secret, first } = await setUp('openid offline_access');
      const config = new oidc.Configuration({ issuer: alias.issuer, token_endpoint: `${alias.issuer}/api/oauth2/token` },
        client.id, secret, oidc.ClientSecretBasic(secret));
      oidc.allowInsecureRequests(config);
      const refreshed = await oidc.refreshTokenGrant(config, first.refresh_token!);
      assert.ok(refreshed.access_token && refreshed.refresh_token);
      assert.equal(refreshed.id_token, undefined);
    });

    it('a scope the user revoked since fails with invalid_scope, and the refresh token stays usable', async () => {
      const { user, client, token, first } = await setUp('openid nickname offline_access');
      const grant = (await alias.s.consent.find(user.id, client.id))!;
      assert.equal(await alias.s.consent.revokeScope(user.id, grant.id, 'nickname'), true);
      const refused = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, scope: 'openid nickname' });
      assert.equal(refused.status, 400);
      assert.equal(refused.json.error, 'invalid_scope');
      // Not rotated: the same refresh token still works, without the revoked scope.
      const ok = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
      assert.equal(ok.status, 200, JSON.stringify(ok.json));
      assert.deepEqual(new Set(ok.json.scope!.split(' ')), new Set(['openid', 'offline_access']));
    });

    it('a scope without openid, or beyond the original scopes, fails with invalid_scope; the token stays usable', async () => {
      const { token, first } = await setUp('openid nickname offline_access');
      for (const scope of ['nickname offline_access', 'offline_access', 'openid contact', 'openid nickname bogus']) {
        const r = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, scope });
        assert.equal(r.status, 400, scope);
        assert.equal(r.json.error, 'invalid_scope', scope);
      }
      const ok = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
      assert.equal(ok.status, 200);
    });

    it('a narrowed scope narrows the access token only: the rotated refresh token keeps the full scopes', async () => {
      const { token, first } = await setUp('openid nickname offline_access');
      const narrow = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token!, scope: 'openid' });
      assert.equal(narrow.status, 200);
      assert.equal(narrow.json.scope, 'openid');
      const full = await token({ grant_type: 'refresh_token', refresh_token: narrow.json.refresh_token! });
      assert.equal(full.status, 200);
      assert.deepEqual(new Set(full.json.scope!.split(' ')), new Set(['openid', 'nickname', 'offline_access']));
    });

    it('a scope revoked and then granted again is usable again by the rotated token', async () => {
      const { user, client, token, first } = await setUp('openid nickname offline_access');
      const grant = (await alias.s.consent.find(user.id, client.id))!;
      await alias.s.consent.revokeScope(user.id, grant.id, 'nickname');
      const without = await token({ grant_type: 'refresh_token', refresh_token: first.refresh_token! });
      assert.equal(without.json.scope, 'openid offline_access');
      await alias.s.consent.record({ userId: user.id, clientId: client.id, requestedScopes: ['openid', 'nickname'],
        requestedChannels: [], approvedScopes: ['openid', 'nickname'], approvedChannels: [] });
      const again = await token({ grant_type: 'refresh_token', refresh_token: without.json.refresh_token! });
      assert.deepEqual(new Set(again.json.scope!.split(' ')), new Set(['openid', 'nickname', 'offline_access']));
    });
  });
}
