// RFC 8628 device authorization grant over HTTP, through the device pages, with
// openid-client as the independent device.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

for (const kind of databaseKinds()) {
  describe(`device authorization grant (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias.close());

    async function post(path: string, form: Record<string, string>, auth?: { id: string; secret?: string }) {
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      const body = new URLSearchParams(form);
      if (auth?.secret) headers.authorization = 'Basic ' + Buffer.from(`${auth.id}:${auth.secret}`).toString('base64');
      else if (auth) body.set('client_id', auth.id);
      const res = await fetch(alias.issuer + path, { method: 'POST', headers, body });
      return { res, json: await res.json().catch(() => undefined) as Record<string, any> };
    }

    /** Enters the code, signs in and decides on the consent page. */
    async function approve(verificationUriComplete: string, user: { email: string; password: string }, decision: 'allow' | 'deny', untick: string[] = []) {
      const browser = new Browser(alias.issuer);
      const entry = await browser.follow(verificationUriComplete);
      assert.match(entry.html, /name="user_code"[^>]*value="[B-Z]{4}-[B-Z]{4}"/, 'pre-filled from verification_uri_complete');
      const login = await browser.submit(entry, {});
      assert.match(login.html, /name="password"/);
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      assert.match(consent.html, /Continue only if you started this on your own device/, 'the consent page warns');
      assert.match(consent.html, /Device app/, 'the consent page names the client');
      const done = await browser.submit(consent, {
        decision, scope: checkboxes(consent.html, 'scope').map((c) => c.value).filter((v) => !untick.includes(v)),
      });
      assert.equal(done.status, 200);
      assert.doesNotMatch(done.html, /name="user_code"/, 'the done page has no user_code form');
      return done;
    }

    it('a public device signs a user in; openid-client polls and validates the ID token', async () => {
      const { client } = await alias.client({ name: 'Device app', isPublic: true, redirectUris: [], grantTypes: [DEVICE] });
      const user = await alias.user({ nickname: 'Tee' });
      const config = await oidc.discovery(new URL(alias.issuer), client.id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      const start = await oidc.initiateDeviceAuthorization(config, { scope: 'openid nickname' });
      assert.equal(start.interval, 5);
      assert.match(start.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
      assert.equal(start.verification_uri, `${alias.issuer}/device`);
      const polling = oidc.pollDeviceAuthorizationGrant(config, start);
      await approve(start.verification_uri_complete!, user, 'allow');
      const tokens = await polling;
      const claims = tokens.claims()!;
      assert.equal(claims.nickname, 'Tee');
      assert.equal(tokens.refresh_token, undefined, 'public clients never get refresh tokens');
    });

    it('polling answers authorization_pending, slow_down (+5 s), access_denied, expired_token; a code is redeemed once', async () => {
      const { client, secret } = await alias.client({ name: 'Device app', redirectUris: [], grantTypes: [DEVICE, 'refresh_token'] });
      const auth = { id: client.id, secret };
      const user = await alias.user();
      const start = (await post('/api/oauth2/device_authorization', { scope: 'openid offline_access' }, auth));
      assert.equal(start.res.headers.get('cache-control'), 'no-store');
      const dc = start.json.device_code;
      const poll = () => post('/api/oauth2/token', { grant_type: DEVICE, device_code: dc }, auth);
      assert.equal((await poll()).json.error, 'authorization_pending');
      assert.equal((await poll()).json.error, 'slow_down', 'RFC 8628 §3.5: polling too fast');
      alias.advance(6_000);
      assert.equal((await poll()).json.error, 'slow_down', 'the interval grew by 5 s to 10 s, and 6 s is too soon');
      alias.advance(15_500);
      assert.equal((await poll()).json.error, 'authorization_pending', 'polling at the grown interval (15 s) is fine');
      await approve(start.json.verification_uri_complete, user, 'allow');
      alias.advance(15_500);
      const ok = await poll();
      assert.equal(ok.res.status, 200);
      assert.ok(ok.json.access_token && ok.json.id_token && ok.json.refresh_token);
      alias.advance(15_500);
      assert.equal((await poll()).json.error, 'invalid_grant', 'a device code is redeemed once');

      const denied = await post('/api/oauth2/device_authorization', { scope: 'openid' }, auth);
      await approve(denied.json.verification_uri_complete, user, 'deny');
      assert.equal((await post('/api/oauth2/token', { grant_type: DEVICE, device_code: denied.json.device_code }, auth)).json.error, 'access_denied');

      const late = await post('/api/oauth2/device_authorization', { scope: 'openid' }, auth);
      alias.advance(601_000);
      assert.equal((await post('/api/oauth2/token', { grant_type: DEVICE, device_code: late.json.device_code }, auth)).json.error, 'expired_token');
    });

    it('user codes are entered case- and dash-insensitively; wrong codes are refused and counted', async () => {
      const { client } = await alias.client({ name: 'Device app', isPublic: true, redirectUris: [], grantTypes: [DEVICE] });
      const start = await post('/api/oauth2/device_authorization', { scope: 'openid' }, { id: client.id });
      const browser = new Browser(alias.issuer);
      const entry = await browser.follow('/device');
      const sloppy = start.json.user_code.replace('-', '').toLowerCase();
      const login = await browser.submit(entry, { user_code: sloppy });
      assert.match(login.html, /name="password"/, 'lower case without the dash is accepted');
      const wrong = await browser.submit(await browser.follow('/device'), { user_code: 'BBBB-BBBB' });
      assert.equal(wrong.status, 400);
      assert.match(wrong.html, /not valid or has expired/);
      const noCsrf = await browser.follow('/device', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ user_code: start.json.user_code }).toString() });
      assert.equal(noCsrf.status, 403, 'CSRF check on the code form');
    });

    it('bad requests get OAuth errors (RFC 8628 §3.1, RFC 6749 §5.2)', async () => {
      const { client } = await alias.client({ name: 'Device app', isPublic: true, redirectUris: [], grantTypes: [DEVICE] });
      const { client: other } = await alias.client({ name: 'Web', isPublic: true, redirectUris: ['https://x.example/cb'] });
      assert.equal((await post('/api/oauth2/device_authorization', { scope: 'openid' }, { id: other.id })).json.error, 'unauthorized_client');
      assert.equal((await post('/api/oauth2/device_authorization', { scope: 'openid bogus' }, { id: client.id })).json.error, 'invalid_scope');
      assert.equal((await post('/api/oauth2/device_authorization', { scope: 'email' }, { id: client.id })).json.error, 'invalid_scope');
      assert.equal((await post('/api/oauth2/device_authorization', { scope: 'openid' }, { id: 'nope' })).res.status, 401);
      assert.equal((await post('/api/oauth2/token', { grant_type: DEVICE, device_code: 'nope' }, { id: client.id })).json.error, 'invalid_grant');
      assert.equal((await post('/api/oauth2/token', { grant_type: DEVICE }, { id: client.id })).json.error, 'invalid_request');
    });
  });
}
