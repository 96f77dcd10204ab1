// Passkeys as a way in over HTTP, on SQLite and PostgreSQL, with a software authenticator
// (test/helpers/webauthn.ts): sign-up with a passkey instead of a password (issue 15 §1,
// issue 14 §1's rules: unverified, mailed, enumeration-safe, CSRF, closed sign-up), the
// account without a password everywhere a password is assumed (password grant, password
// form, reset link adding a passkey, export, the last way in), and re-authentication and
// step-up with a passkey (issue 15 §3: ID token acr urn:alias:acr:mfa, verified with jose).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { basic } from '../helpers/bad_input.js';
import { SoftAuthenticator } from '../helpers/webauthn.js';
import { api, csrfOf, jsonError } from '../helpers/passkey_http.js';
import { REAUTH_WINDOW_MS } from '../../src/accounts/reauth.js';
import { ACR_MFA } from '../../src/oauth/acr.js';

const CB = 'https://rp.example/cb';
const PASSWORD = 'quartz meadow lantern 41';

for (const kind of databaseKinds()) {
  describe(`passkeys as a way in: sign-up, no password, re-authentication, step-up (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(async () => { await alias?.close(); });

    /** A fresh browser on `path`, with the page's CSRF token. */
    async function open(path: string) {
      const b = new Browser(alias.issuer);
      const page = await b.follow(path);
      return { b, page, csrf: csrfOf(page.html) };
    }

    /** Signs up with a passkey from /signup; returns the browser, the authenticator and the answer. */
    async function signUp(email: string, extra: Record<string, unknown> = {}) {
      const { b, csrf } = await open('/signup');
      const auth = new SoftAuthenticator(alias.issuer);
      const options = await api(b, '/api/passkeys/signup/options', { csrf, email, ...extra });
      assert.equal(options.status, 200, JSON.stringify(options.body));
      const done = await api(b, '/api/passkeys/signup/verify', { csrf, email, response: auth.register(options.body), ...extra });
      return { b, auth, options, done };
    }

    async function signInWith(auth: SoftAuthenticator, path = '/account', extra: Record<string, unknown> = {}) {
      const s = await open(path);
      const options = await api(s.b, '/api/passkeys/authenticate/options', { csrf: s.csrf });
      const done = await api(s.b, '/api/passkeys/authenticate/verify', { csrf: s.csrf, response: auth.assert(options.body), ...extra });
      return { ...s, done };
    }

    /** A passkey-only account, verified, signed in in a browser. */
    async function passkeyPerson() {
      const email = `only-${Date.now()}-${Math.random().toString(36).slice(2, 6)}@example.com`;
      const { auth } = await signUp(email);
      const user = (await alias.s.store.users.getByEmail(email))!;
      await alias.s.store.users.update({ ...user, emailVerified: true });
      const { b, done } = await signInWith(auth);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      return { user, auth, b };
    }

    it('§1 sign-up with a passkey: unverified, no password, mailed its link; the link verifies; the passkey signs in', async () => {
      const email = `new-${Date.now()}@example.com`;
      const { options, done } = await signUp(email, { nickname: 'Kay' });
      assert.equal(options.headers.get('cache-control'), 'no-store');
      assert.equal(options.body.user.name, email);
      assert.equal(options.body.authenticatorSelection.residentKey, 'required');
      assert.equal(options.body.authenticatorSelection.userVerification, 'required');
      assert.deepEqual(done.body, { location: '/signup/sent' });
      const user = await alias.s.store.users.getByEmail(email);
      assert.ok(user);
      assert.equal(user.emailVerified, false, 'created unverified, as a password sign-up');
      assert.equal(user.passwordHash, null, 'no password');
      assert.equal(user.nickname, 'Kay');
      assert.equal(Buffer.from(options.body.user.id, 'base64url').toString(), user.id, 'the user handle is the account id');
      assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 1);
      assert.ok((await alias.s.store.mailOutbox.listByUser(user.id)).some((m) => m.purpose === 'verify_email'), 'verification mail queued');
      const sent = await new Browser(alias.issuer).follow('/signup/sent');
      assert.match(sent.html, /Check your mail/);
      assert.doesNotMatch(sent.html, new RegExp(email), 'the address is not in a URL or on that page');
      // The link (as mailed) verifies the address.
      const secret = await alias.s.links.issue(alias.s.store.linkTokens, 'verify_email', user.id, { email });
      const verified = await new Browser(alias.issuer).follow(`/verify-email/${secret}`);
      assert.equal((await alias.s.store.users.get(user.id))!.emailVerified, true);
      // No session from the link: it would claim amr pwd for an account without a password.
      assert.match(verified.html, /Sign in with your passkey to go on\./);
      assert.deepEqual(await alias.s.store.sessions.listByUser(user.id, alias.s.now()), [], 'the link signs nobody in');
      const { auth } = await signUp(`other-${Date.now()}@example.com`);
      void auth;
    });

    it('§1 a passkey sign-up signs in with the passkey alone (amr hwk + user)', async () => {
      const { user, b } = await passkeyPerson();
      const page = await b.follow('/account');
      assert.match(page.html, new RegExp(`Signed in as <strong>${user.email}`));
      assert.match(page.html, />Set a password</);
      assert.doesNotMatch(page.html, /name="current_password"/, 'no field asks for a password the account does not have');
      const [session] = await alias.s.store.sessions.listByUser(user.id, alias.s.now());
      assert.deepEqual(session!.amr, ['hwk', 'user']);
    });

    it('§1 enumeration: a taken address gets the same answer, its owner a mail; no account or passkey is made', async () => {
      const owner = await alias.user();
      const before = (await alias.s.store.users.list()).length;
      const { done } = await signUp(owner.email);
      assert.deepEqual(done.body, { location: '/signup/sent' });
      assert.equal((await alias.s.store.users.list()).length, before);
      assert.equal((await alias.s.store.passkeys.listByUser(owner.id)).length, 0);
      assert.ok((await alias.s.store.mailOutbox.listByUser(owner.id)).some((m) => m.purpose === 'signup_attempt'));
    });

    it('§1 sign-up with a passkey: CSRF, bad address, foreign challenge, malformed bodies → 4xx JSON, nothing made', async () => {
      const { b, csrf } = await open('/signup');
      jsonError(await api(b, '/api/passkeys/signup/options', { email: 'a@example.com' }), 403, 'access_denied');
      jsonError(await api(b, '/api/passkeys/signup/options', { csrf, email: 'not an address' }), 400, 'invalid_request', /e-mail address/);
      jsonError(await api(b, '/api/passkeys/signup/options', { csrf, email: 5 }), 400, 'invalid_request');
      jsonError(await api(b, '/api/passkeys/signup/options', { csrf, email: 'a@example.com', nickname: 'a\u202Eb' }), 400, 'invalid_request', /nickname/);
      jsonError(await api(b, '/api/passkeys/signup/verify', { csrf, email: 'a@example.com', response: {} }), 400, 'invalid_request');
      // A challenge from another browser is refused.
      const auth = new SoftAuthenticator(alias.issuer);
      const options = await api(b, '/api/passkeys/signup/options', { csrf, email: 'b@example.com' });
      const thief = await open('/signup');
      jsonError(await api(thief.b, '/api/passkeys/signup/verify', { csrf: thief.csrf, email: 'b@example.com', response: auth.register(options.body) }),
        400, 'invalid_request', /challenge/);
      assert.equal(await alias.s.store.users.getByEmail('b@example.com'), undefined);
      // A sign-in challenge cannot make an account.
      const signIn = await api(b, '/api/passkeys/authenticate/options', { csrf });
      jsonError(await api(b, '/api/passkeys/signup/verify', { csrf, email: 'c@example.com', response: auth.register({ challenge: signIn.body.challenge, user: { id: 'x' } }) }),
        400, 'invalid_request', /challenge/);
    });

    it('§1 closed sign-up: the passkey sign-up answers 404 too', async () => {
      const closed = await startAlias(kind, { env: { ALIAS_SIGNUP: 'closed' } });
      try {
        const b = new Browser(closed.issuer);
        const page = await b.follow('/account');
        jsonError(await api(b, '/api/passkeys/signup/options', { csrf: csrfOf(page.html), email: 'a@example.com' }), 404, 'invalid_request');
        assert.equal((await b.follow('/signup/sent')).status, 404);
      } finally {
        await closed.close();
      }
    });

    it('no password: the password grant says invalid_grant; the password form sets a first password after a recent sign-in', async () => {
      const { user, b } = await passkeyPerson();
      const { client, secret } = await alias.client({ grantTypes: ['password'], redirectUris: [] });
      const grant = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, secret!) },
        body: new URLSearchParams({ grant_type: 'password', username: user.email, password: '' + 'anything at all 1' }) });
      assert.equal(grant.status, 400);
      assert.equal((await grant.json() as { error: string }).error, 'invalid_grant', 'RFC 6749 §5.2: no password matches');
      const account = await b.follow('/account');
      const set = (password: string) => b.follow('/account/password', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: csrfOf(account.html), new_password: password }).toString() });
      assert.equal((await set('password')).status, 400, 'checked like sign-up');
      alias.advance(REAUTH_WINDOW_MS + 60_000);
      assert.match((await set(PASSWORD)).url, /\/account\/reauth\?next=%2Faccount$/, 'a recent sign-in first');
      assert.equal((await alias.s.store.users.get(user.id))!.passwordHash, null);
      const reauth = await b.follow('/account/reauth?next=/account');
      assert.doesNotMatch(reauth.html, /name="password"/, 'the re-authentication offers the passkey only');
      assert.match(reauth.html, /id="passkey-reauth"/);
    });

    it('re-authentication with a passkey: a new recent session; only the signed-in person\'s own passkey; then a first password', async () => {
      const { user, auth, b } = await passkeyPerson();
      const other = await passkeyPerson();
      alias.advance(REAUTH_WINDOW_MS + 60_000);
      const page = await b.follow('/account/reauth?next=%2Faccount');
      const csrf = csrfOf(page.html);
      const reauth = async (who: SoftAuthenticator, next?: string) => {
        const options = await api(b, '/api/passkeys/authenticate/options', { csrf });
        return api(b, '/api/passkeys/reauth/verify', { csrf, response: who.assert(options.body), ...(next ? { next } : {}) });
      };
      jsonError(await reauth(other.auth), 400, 'invalid_request', /another account/);
      const done = await reauth(auth, 'https://evil.example/');
      assert.deepEqual(done.body, { location: '/account' }, 'next is one of REAUTH_NEXT, else /account');
      const set = await b.follow('/account/password', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: csrfOf((await b.follow('/account')).html), new_password: PASSWORD }).toString() });
      assert.match(set.html, /Password set/);
      const login = await alias.s.accounts.login(user.email, PASSWORD, '203.0.113.9');
      assert.equal(login.ok, true, 'the new password signs in');
      const events = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(user.id) }, limit: 50 });
      assert.ok(events.some((e) => e.type === 'password.changed' && /first=yes/.test(e.detail ?? '')), 'audited');
      assert.ok((await alias.s.store.mailOutbox.listByUser(user.id)).some((m) => m.purpose === 'password.set'), 'mailed');
      // No session: 401.
      const anon = await open('/account');
      jsonError(await api(anon.b, '/api/passkeys/reauth/verify', { csrf: anon.csrf, response: {} }), 401, 'login_required');
    });

    it('the last way in stays: an account without a password cannot remove its only passkey (409); with two it can', async () => {
      const { user, auth, b } = await passkeyPerson();
      const [only] = await alias.s.store.passkeys.listByUser(user.id);
      const remove = async (id: string) => b.follow(`/account/passkeys/${id}/remove`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: csrfOf((await b.follow('/account')).html) }).toString() });
      const refused = await remove(only!.id);
      assert.equal(refused.status, 409);
      assert.match(refused.html, /only way to sign in/);
      assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 1);
      const csrf = csrfOf((await b.follow('/account')).html);
      const second = new SoftAuthenticator(alias.issuer);
      const options = await api(b, '/api/passkeys/register/options', { csrf });
      assert.equal((await api(b, '/api/passkeys/register/verify', { csrf, response: second.register(options.body) })).status, 200);
      assert.match((await remove(only!.id)).html, /Passkey removed/);
      void auth;
    });

    it('a reset link adds a new passkey instead of a password: every session ends, the passkey signs in; the link works once', async () => {
      const { user, b } = await passkeyPerson();
      const secret = await alias.s.links.issue(alias.s.store.linkTokens, 'reset_password', user.id);
      const { b: r, page } = await open(`/reset/${secret}`);
      assert.match(page.html, /id="passkey-reset"[^>]*data-token="/);
      const csrf = csrfOf(page.html);
      jsonError(await api(r, '/api/passkeys/reset/options', { csrf, token: 'A'.repeat(43) }), 400, 'invalid_request', /unknown/);
      const fresh = new SoftAuthenticator(alias.issuer);
      const options = await api(r, '/api/passkeys/reset/options', { csrf, token: secret });
      assert.equal(options.status, 200);
      assert.equal(options.body.excludeCredentials.length, 1, 'the passkey it has is excluded');
      const done = await api(r, '/api/passkeys/reset/verify', { csrf, token: secret, response: fresh.register(options.body) });
      assert.deepEqual(done.body, { location: '/account?reset=passkey' });
      assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 2);
      assert.doesNotMatch((await b.follow('/account')).html, /Your Alias account/, 'the other browser was signed out');
      assert.match((await r.follow('/account?reset=passkey')).html, /Passkey added\. Every browser was signed out/);
      assert.equal((await signInWith(fresh)).done.status, 200, 'the new passkey signs in');
      const again = await api(r, '/api/passkeys/reset/options', { csrf, token: secret });
      jsonError(again, 400, 'invalid_request', /already used/);
      assert.ok((await alias.s.store.mailOutbox.listByUser(user.id)).some((m) => m.purpose === 'password.reset'), 'the address is told');
    });

    it('the export says has_password false (never a hash)', async () => {
      const { b } = await passkeyPerson();
      const doc = JSON.parse((await b.follow('/account/export')).html);
      assert.equal(doc.profile.has_password, false);
    });

    it('§3 step-up with a passkey: a password session, acr_values=mfa → the passkey → ID token acr mfa, amr pwd hwk user (jose)', async () => {
      const user = await alias.user();
      const { client, secret } = await alias.client({ name: 'Vault', redirectUris: [CB] });
      const b = new Browser(alias.issuer);
      const login = await b.follow('/account');
      const account = await b.submit(login, { email: user.email, password: user.password });
      const auth = new SoftAuthenticator(alias.issuer);
      const csrf = csrfOf(account.html);
      const options = await api(b, '/api/passkeys/register/options', { csrf });
      await api(b, '/api/passkeys/register/verify', { csrf, response: auth.register(options.body) });
      // A session made by the password alone.
      const p = new Browser(alias.issuer);
      await p.submit(await p.follow('/account'), { email: user.email, password: user.password });
      const query = { response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid', nonce: 'n-9', acr_values: ACR_MFA };
      const silent = await p.follow('/oauth2/authorize?' + new URLSearchParams({ ...query, prompt: 'none' }));
      assert.equal(new URL(silent.url).searchParams.get('error'), 'interaction_required', 'OIDC Core §3.1.2.6 under prompt=none');
      const step = await p.follow('/oauth2/authorize?' + new URLSearchParams(query));
      assert.match(step.html, /id="passkey-step-up"/);
      assert.doesNotMatch(step.html, /name="code"/, 'no code form without TOTP');
      const interaction = /\/interaction\/([A-Za-z0-9_-]+)/.exec(step.url)![1]!;
      const sc = csrfOf(step.html);
      const stepUp = async (extra: Record<string, unknown>, who = auth) => {
        const o = await api(p, '/api/passkeys/authenticate/options', { csrf: sc });
        return api(p, '/api/passkeys/step-up/verify', { csrf: sc, response: who.assert(o.body), ...extra });
      };
      jsonError(await stepUp({ interaction: 'nope' }), 400, 'invalid_request', /expired/);
      const stranger = await passkeyPerson();
      jsonError(await stepUp({ interaction }, stranger.auth), 400, 'invalid_request', /another account/);
      const done = await stepUp({ interaction });
      assert.deepEqual(done.body, { location: `/interaction/${interaction}` });
      const consent = await p.follow(done.body.location);
      const back = await p.submit(consent, { decision: 'allow' });
      const code = new URL(back.url).searchParams.get('code')!;
      const token = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, secret!) },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB }) });
      const { id_token } = await token.json() as { id_token: string };
      const { payload } = await jwtVerify(id_token, createRemoteJWKSet(new URL(`${alias.issuer}/oauth2/jwks`)), { issuer: alias.issuer, audience: client.id });
      assert.equal(payload.acr, ACR_MFA);
      assert.deepEqual([...(payload.amr as string[])].sort(), ['hwk', 'pwd', 'user']);
    });

    it('§3 a --require-mfa app and a person with neither TOTP nor a passkey: the page names both ways, never a dead end', async () => {
      const user = await alias.user();
      const { client } = await alias.client({ name: 'Strict', redirectUris: [CB], requireMfa: true });
      const b = new Browser(alias.issuer);
      const login = await b.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid' }));
      const page = await b.submit(login, { email: user.email, password: user.password });
      assert.match(page.html, /Two-step sign-in needed/);
      assert.match(page.html, /id="passkey-add"[^>]*data-interaction="[A-Za-z0-9_-]+"/);
      assert.match(page.html, /Set up an authenticator app/);
      // Adding the passkey there gives this session both factors and goes back to the request.
      const csrf = csrfOf(page.html);
      const interaction = /data-interaction="([A-Za-z0-9_-]+)"/.exec(page.html)![1]!;
      const auth = new SoftAuthenticator(alias.issuer);
      const options = await api(b, '/api/passkeys/register/options', { csrf });
      const done = await api(b, '/api/passkeys/register/verify', { csrf, response: auth.register(options.body), interaction });
      assert.equal(done.body.location, `/interaction/${interaction}`);
      assert.match((await b.follow(done.body.location)).html, /name="decision" value="allow"/, 'on to the consent page');
    });
  });
}
