// Passkeys over HTTP (issue 15 §1), on SQLite and PostgreSQL, with a software
// authenticator (test/helpers/webauthn.ts) in place of a browser's: registration needs a
// recent sign-in; a passkey alone signs the person in (amr hwk|swk + user, acr mfa) and
// continues a pending authorization request as the password form does; challenges are
// single use, bound to the browser and the ceremony, and expire after 5 minutes; a
// counter that goes backwards is refused and audited; every bad input is a 4xx JSON error.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { basic } from '../helpers/bad_input.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { api, csrfOf, jsonError, type Answer } from '../helpers/passkey_http.js';
import { REAUTH_WINDOW_MS } from '../../src/accounts/reauth.js';
import { CHALLENGE_TTL_MS } from '../../src/accounts/passkeys.js';
import { ACR_MFA } from '../../src/oauth/acr.js';
import { POLICIES } from '../../src/throttle/throttle.js';

const CB = 'https://rp.example/cb';
for (const kind of databaseKinds()) {
  describe(`passkeys (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let rp: { id: string; secret: string };
    before(async () => {
      alias = await startAlias(kind);
      const { client, secret } = await alias.client({ name: 'Keyed app', redirectUris: [CB] });
      rp = { id: client.id, secret: secret! };
    });
    after(async () => { await alias?.close(); });

    /** A person signed in with their password on /account, and the page's CSRF token. */
    async function signedIn(opts: { emailVerified?: boolean } = {}) {
      const user = await alias.user();
      if (opts.emailVerified === false) {
        await alias.s.store.users.update({ ...(await alias.s.store.users.get(user.id))!, emailVerified: false });
      }
      const b = new Browser(alias.issuer);
      const page = await b.submit(await b.follow('/account'), { email: user.email, password: user.password });
      assert.match(page.html, /Your Alias account/);
      return { user, b, csrf: csrfOf(page.html) };
    }

    /** A signed-in person with one passkey on a software authenticator. */
    async function withPasskey(opts: { emailVerified?: boolean } = {}) {
      const signed = await signedIn(opts);
      const auth = new SoftAuthenticator(alias.issuer);
      assert.equal((await addPasskey(signed.b, signed.csrf, auth)).status, 200);
      return { ...signed, auth };
    }

    async function addPasskey(b: Browser, csrf: string, auth: SoftAuthenticator, name?: string) {
      const options = await api(b, '/api/passkeys/register/options', { csrf });
      assert.equal(options.status, 200, JSON.stringify(options.body));
      return api(b, '/api/passkeys/register/verify', { csrf, response: auth.register(options.body), ...(name ? { name } : {}) });
    }

    /** A fresh browser on the sign-in page (of `path`), with its CSRF token. */
    async function stranger(path = '/account') {
      const b = new Browser(alias.issuer);
      const page = await b.follow(path);
      return { b, page, csrf: csrfOf(page.html) };
    }

    async function signInWith(b: Browser, csrf: string, auth: SoftAuthenticator, extra: Record<string, unknown> = {}) {
      const options = await api(b, '/api/passkeys/authenticate/options', { csrf });
      assert.equal(options.status, 200);
      return api(b, '/api/passkeys/authenticate/verify', { csrf, response: auth.assert(options.body), ...extra });
    }

    it('registers a discoverable, user-verified passkey, excluding ones already registered; audited and mailed', async () => {
      const { user, b, csrf } = await signedIn();
      const auth = new SoftAuthenticator(alias.issuer);
      const first = await api(b, '/api/passkeys/register/options', { csrf });
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('cache-control'), 'no-store');
      // Issue 15 §1: discoverable credential with user verification; RP ID = the issuer's host.
      assert.equal(first.body.authenticatorSelection.residentKey, 'required');
      assert.equal(first.body.authenticatorSelection.userVerification, 'required');
      assert.equal(first.body.rp.id, new URL(alias.issuer).hostname);
      assert.deepEqual(first.body.excludeCredentials, []);
      const done = await api(b, '/api/passkeys/register/verify', { csrf, response: auth.register(first.body), name: 'Laptop' });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.passkey.name, 'Laptop');
      const [stored] = await alias.s.store.passkeys.listByUser(user.id);
      assert.equal(stored!.credentialId, auth.credentials[0]!.id);
      assert.equal(stored!.deviceType, 'singleDevice');
      assert.deepEqual(stored!.transports, ['internal']);
      const again = await api(b, '/api/passkeys/register/options', { csrf });
      assert.deepEqual(again.body.excludeCredentials.map((c: { id: string }) => c.id), [auth.credentials[0]!.id]);
      const events = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(user.id) }, limit: 50 });
      assert.ok(events.some((e) => e.type === 'passkey.added'), 'audited');
      const mails = await alias.s.store.mailOutbox.listByUser(user.id);
      assert.ok(mails.some((m) => m.purpose === 'passkey_added'), 'the person is mailed');
      // The account page lists it with its name and dates.
      const page = await b.follow('/account');
      assert.match(page.html, /<strong>Laptop<\/strong>/);
      assert.match(page.html, /not used yet/);
    });

    it('registration needs a session, the CSRF token and a recent sign-in', async () => {
      const { b, csrf } = await signedIn();
      jsonError(await api(b, '/api/passkeys/register/options', {}), 403, 'access_denied');
      jsonError(await api(b, '/api/passkeys/register/options', { csrf: csrf + 'x' }), 403, 'access_denied');
      const { b: other, csrf: otherCsrf } = await stranger();
      jsonError(await api(other, '/api/passkeys/register/options', { csrf: otherCsrf }), 401, 'login_required');
      alias.advance(REAUTH_WINDOW_MS + 60_000);
      jsonError(await api(b, '/api/passkeys/register/options', { csrf }), 403, 'interaction_required');
      // Without a recent sign-in the page offers the re-authentication first.
      const page = await b.follow('/account');
      assert.match(page.html, /href="\/account\/reauth\?next=%2Faccount%23passkeys">Add a passkey/);
    });

    it('a passkey alone signs in: a new session with amr hwk+user (or swk+user when synced)', async () => {
      for (const synced of [false, true]) {
        const { user, b, csrf } = await signedIn();
        const auth = new SoftAuthenticator(alias.issuer, { synced });
        assert.equal((await addPasskey(b, csrf, auth)).status, 200);
        const s = await stranger();
        const done = await signInWith(s.b, s.csrf, auth);
        assert.equal(done.status, 200, JSON.stringify(done.body));
        assert.deepEqual(done.body, { location: '/account' });
        const account = await s.b.follow('/account');
        assert.match(account.html, new RegExp(`Signed in as <strong>${user.email}`));
        const sessions = await alias.s.store.sessions.listByUser(user.id, alias.s.now());
        const newest = sessions.sort((x, y) => y.createdAt - x.createdAt)[0]!;
        assert.deepEqual(newest.amr, [synced ? 'swk' : 'hwk', 'user']);
        const [stored] = await alias.s.store.passkeys.listByUser(user.id);
        assert.equal(stored!.counter, 1);
        assert.ok(stored!.lastUsedAt);
      }
    });

    it('continues a pending authorization request; the ID token says amr [hwk, user] and acr mfa', async () => {
      const { b, csrf, auth } = await withPasskey();
      const s = await stranger('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: rp.id, redirect_uri: CB,
        scope: 'openid', state: 'st', nonce: 'n-1' }));
      const interaction = /\/interaction\/([A-Za-z0-9_-]+)/.exec(s.page.url)![1]!;
      assert.match(s.page.html, /id="passkey-signin"[^>]*data-interaction="[A-Za-z0-9_-]+"/);
      assert.match(s.page.html, /autocomplete="username webauthn"/);
      const done = await signInWith(s.b, s.csrf, auth, { interaction });
      assert.deepEqual(done.body, { location: `/interaction/${interaction}` });
      const consent = await s.b.follow(done.body.location);
      const back = await s.b.submit(consent, { decision: 'allow' });
      const code = new URL(back.url).searchParams.get('code')!;
      const token = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(rp.id, rp.secret) },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB }) });
      const { id_token } = await token.json() as { id_token: string };
      const { payload } = await jwtVerify(id_token, createRemoteJWKSet(new URL(`${alias.issuer}/oauth2/jwks`)), { issuer: alias.issuer, audience: rp.id });
      assert.deepEqual(payload.amr, ['hwk', 'user']);
      assert.equal(payload.acr, ACR_MFA);
    });

    it('an unknown or foreign interaction is refused before anything is spent', async () => {
      const { b, csrf, auth } = await withPasskey();
      const s = await stranger();
      const options = await api(s.b, '/api/passkeys/authenticate/options', { csrf: s.csrf });
      const response = auth.assert(options.body);
      jsonError(await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response, interaction: 'nope' }), 400, 'invalid_request', /expired/);
      // The challenge is still there: the same response now signs in.
      assert.equal((await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response })).status, 200);
    });

    it('the unverified-address rule applies: a passkey sign-in reaches the "confirm your address" page, not the app', async () => {
      const { auth } = await withPasskey({ emailVerified: false });
      const s = await stranger('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: rp.id, redirect_uri: CB, scope: 'openid' }));
      const interaction = /\/interaction\/([A-Za-z0-9_-]+)/.exec(s.page.url)![1]!;
      const done = await signInWith(s.b, s.csrf, auth, { interaction });
      const next = await s.b.follow(done.body.location);
      assert.match(next.html, /Confirm your address/);
    });

    it('challenges are single use, bound to the browser and the ceremony, and expire after 5 minutes', async () => {
      const { b, csrf, auth } = await withPasskey();
      const s = await stranger();
      // Single use: the same response (and challenge) again is refused.
      const options = await api(s.b, '/api/passkeys/authenticate/options', { csrf: s.csrf });
      const response = auth.assert(options.body);
      assert.equal((await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response })).status, 200);
      jsonError(await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response }), 400, 'invalid_request', /challenge/);
      // Another browser cannot use this browser's challenge (and does not spend it).
      const o2 = await api(s.b, '/api/passkeys/authenticate/options', { csrf: s.csrf });
      const r2 = auth.assert(o2.body);
      const thief = await stranger();
      jsonError(await api(thief.b, '/api/passkeys/authenticate/verify', { csrf: thief.csrf, response: r2 }), 400, 'invalid_request', /challenge/);
      assert.equal((await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response: r2 })).status, 200);
      // Purpose: a registration challenge does not sign anyone in.
      const reg = await api(b, '/api/passkeys/register/options', { csrf });
      jsonError(await api(b, '/api/passkeys/authenticate/verify', { csrf, response: auth.assert({ challenge: reg.body.challenge }) }),
        400, 'invalid_request', /challenge/);
      // Expiry: 5 minutes.
      const o3 = await api(s.b, '/api/passkeys/authenticate/options', { csrf: s.csrf });
      alias.advance(CHALLENGE_TTL_MS + 1000);
      jsonError(await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response: auth.assert(o3.body) }), 400, 'invalid_request', /challenge/);
      // The janitor purges expired challenges.
      alias.advance(20 * 60_000);
      const report = await alias.s.janitor.runOnce();
      assert.ok(report.webauthn_challenges >= 1);
    });

    it('wrong origin, wrong RP ID, no user verification, unknown credential: 400, never a session', async () => {
      const { b, csrf, auth } = await withPasskey();
      const s = await stranger();
      const attempt = async (o: Parameters<SoftAuthenticator['assert']>[1], cred?: SoftAuthenticator['credentials'][number]) => {
        const options = await api(s.b, '/api/passkeys/authenticate/options', { csrf: s.csrf });
        return api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response: auth.assert(options.body, o, cred) });
      };
      jsonError(await attempt({ origin: 'https://evil.example' }), 400, 'invalid_request', /origin/);
      jsonError(await attempt({ rpId: 'evil.example' }), 400, 'invalid_request', /relying party/);
      jsonError(await attempt({ clearFlags: 0x04 }), 400, 'invalid_request', /user verification/);
      const stray = new SoftAuthenticator(alias.issuer);
      stray.register({ challenge: 'x', user: { id: 'nobody' } });
      jsonError(await attempt({}, stray.credentials[0]), 400, 'invalid_request', /not registered/);
      assert.equal(s.b.cookies.has('alias_session'), false);
      // Registration: wrong origin is refused too, and nothing is stored.
      const options = await api(b, '/api/passkeys/register/options', { csrf });
      jsonError(await api(b, '/api/passkeys/register/verify', { csrf, response: new SoftAuthenticator(alias.issuer).register(options.body, { origin: 'https://evil.example' }) }),
        400, 'invalid_request', /origin/);
    });

    it('malformed bodies and wrong types are 4xx JSON errors', async () => {
      const { b, csrf } = await signedIn();
      for (const path of ['/api/passkeys/authenticate/verify', '/api/passkeys/register/verify', '/api/passkeys/authenticate/options']) {
        const bad = await api(b, path, '{"csrf": ', 'application/json');
        assert.ok(bad.status === 400, `${path}: ${bad.status}`);
        jsonError(bad, 400, 'invalid_request');
        jsonError(await api(b, path, '[1,2]'), 400, 'invalid_request');
        jsonError(await api(b, path, `csrf=${csrf}`, 'application/x-www-form-urlencoded'), 400, 'invalid_request');
      }
      for (const response of [null, 1, 'x', [], {}, { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: '!!' } },
        { id: 'a', rawId: 'b', type: 'public-key', response: {} },
        { id: 'a', rawId: 'a', type: 'public-key', response: { clientDataJSON: Buffer.from('{"challenge": 5}').toString('base64url') } }]) {
        jsonError(await api(b, '/api/passkeys/authenticate/verify', { csrf, response }), 400, 'invalid_request');
        jsonError(await api(b, '/api/passkeys/register/verify', { csrf, response }), 400, 'invalid_request');
      }
      jsonError(await api(b, '/api/passkeys/register/verify', { csrf, response: {}, name: 5 }), 400, 'invalid_request');
    });

    it('a signature counter that goes backwards is refused as a possible clone and audited', async () => {
      const { user, auth } = await withPasskey();
      const s = await stranger();
      assert.equal((await signInWith(s.b, s.csrf, auth)).status, 200);
      assert.equal((await signInWith(s.b, s.csrf, auth)).status, 200);
      const options = await api(s.b, '/api/passkeys/authenticate/options', { csrf: s.csrf });
      const cloned = await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response: auth.assert(options.body, { counter: 1 }) });
      jsonError(cloned, 403, 'invalid_request', /counter/);
      const events = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(user.id) }, limit: 50 });
      const warning = events.find((e) => e.type === 'passkey.clone_warning');
      assert.ok(warning, 'clone warning audited');
      assert.match(warning!.detail ?? '', /stored=2 presented=1/);
      assert.equal((await alias.s.store.passkeys.listByUser(user.id))[0]!.counter, 2, 'the stored counter is unchanged');
    });

    it('sign-in verifications are rate limited per source, reserved before the check', async () => {
      const s = await stranger();
      let throttled: Answer | undefined;
      for (let i = 0; i <= POLICIES.source.allowed && !throttled; i++) {
        const r = await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response: {} });
        if (r.status === 429) throttled = r;
      }
      assert.ok(throttled, 'throttled within the allowance');
      jsonError(throttled!, 429, 'too_many_requests');
      assert.ok(Number(throttled!.headers.get('retry-after')) > 0);
      // Lockouts end, and do not outlive the test (other tests share the source).
      await alias.s.store.transaction(async () => undefined);
      await alias.s.db.kysely.deleteFrom('throttles').execute();
      alias.s.db.readCache?.changed();
    });

    it('rename and remove on /account: CSRF, remove needs a recent sign-in; removal is audited and mailed', async () => {
      const { user, b, csrf } = await signedIn();
      const auth = new SoftAuthenticator(alias.issuer);
      await addPasskey(b, csrf, auth, 'Phone');
      const [pk] = await alias.s.store.passkeys.listByUser(user.id);
      const form = (path: string, body: Record<string, string>) => b.follow(path, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
      assert.equal((await form(`/account/passkeys/${pk!.id}/rename`, { name: 'Work phone' })).status, 403, 'no CSRF token: refused');
      const renamed = await form(`/account/passkeys/${pk!.id}/rename`, { csrf, name: '  Work phone ' });
      assert.match(renamed.html, /Passkey renamed/);
      assert.equal((await alias.s.store.passkeys.listByUser(user.id))[0]!.name, 'Work phone');
      const bad = await form(`/account/passkeys/${pk!.id}/rename`, { csrf, name: 'a\u202Eb' });
      assert.equal(bad.status, 400);
      alias.advance(REAUTH_WINDOW_MS + 60_000);
      const asked = await form(`/account/passkeys/${pk!.id}/remove`, { csrf });
      assert.match(asked.url, /\/account\/reauth\?next=%2Faccount%23passkeys$/);
      assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 1, 'not removed without re-authentication');
      const back = await b.submit(asked, { password: user.password });
      assert.match(back.url, /\/account#passkeys$/);
      const removed = await form(`/account/passkeys/${pk!.id}/remove`, { csrf });
      assert.match(removed.html, /Passkey removed/);
      assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 0);
      const events = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(user.id) }, limit: 50 });
      assert.ok(events.some((e) => e.type === 'passkey.removed'));
      assert.ok((await alias.s.store.mailOutbox.listByUser(user.id)).some((m) => m.purpose === 'passkey_removed'));
      // The removed passkey no longer signs in.
      const s = await stranger();
      jsonError(await signInWith(s.b, s.csrf, auth), 400, 'invalid_request', /not registered/);
    });

    it('the export lists passkeys (no key material); deleting the account deletes them', async () => {
      const { user, b, csrf } = await signedIn();
      const auth = new SoftAuthenticator(alias.issuer);
      await addPasskey(b, csrf, auth, 'Key');
      const doc = JSON.parse((await b.follow('/account/export')).html);
      assert.equal(doc.passkeys.length, 1);
      assert.deepEqual(Object.keys(doc.passkeys[0]).sort(), ['created_at', 'credential_id', 'device_type', 'last_used_at', 'name']);
      assert.equal(doc.passkeys[0].name, 'Key');
      const stored = (await alias.s.store.passkeys.listByUser(user.id))[0]!;
      assert.doesNotMatch(JSON.stringify(doc), new RegExp(stored.publicKey.slice(0, 40)));
      const page = await b.follow('/account/delete');
      await b.submit(page, { confirm: user.email });
      assert.equal(await alias.s.store.passkeys.getByCredentialId(stored.credentialId), undefined);
    });

    it('pages: the scripts come from Alias with a long cache, and the CSP allows them without unsafe-inline', async () => {
      const s = await stranger();
      const csp = (await s.b.request('/account')).headers.get('content-security-policy')!;
      assert.match(csp, /script-src 'self'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      const scripts = [...s.page.html.matchAll(/<script src="([^"]+)"/g)].map((m) => m[1]!);
      assert.equal(scripts.length, 2);
      for (const src of scripts) {
        assert.match(src, /^\/static\/[a-z]+\.[0-9a-f]{12}\.js$/);
        const r = await s.b.request(src);
        assert.equal(r.status, 200);
        assert.match(r.headers.get('content-type') ?? '', /^text\/javascript/);
        assert.match(r.headers.get('cache-control') ?? '', /max-age=31536000, immutable/);
        assert.ok((await r.text()).length > 1000 || src.includes('passkeys'));
      }
      assert.doesNotMatch(s.page.html, /<script>/, 'no inline script');
    });
  });
}
