// Issue 15 §2 and §3: TOTP (RFC 6238) and recovery codes on the account page and at sign-in,
// and step-up (OIDC Core §3.1.2.1 acr_values, §5.5.1.1 claims, --require-mfa). Over HTTP with
// the test browser, on SQLite and PostgreSQL; codes are computed with otpauth from the key the
// enrolment page shows; ID tokens are verified by oauth4webapi.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as OTPAuth from 'otpauth';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, allowAll, signedInBrowser as signedInBrowserAt, type Page } from '../helpers/browser.js';
import { cookieNames } from '../../src/http/cookies.js';
import { SECOND_FACTOR_POLICY } from '../../src/accounts/second_factor.js';
import { ACR_MFA, ACR_PASSWORD } from '../../src/oauth/acr.js';

const CB = 'https://app.example/cb';
const STEP = 30_000;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

for (const kind of databaseKinds()) {
  describe(`two-step sign-in: TOTP, recovery codes, step-up (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    before(async () => {
      alias = await startAlias(kind);
      const issuer = new URL(alias.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    });
    after(() => alias?.close());

    /** Moves Alias's clock to one second into a fresh time step, so a test never straddles a step boundary. */
    function freshStep() {
      const now = alias.s.now();
      alias.advance(STEP - (now % STEP) + 1_000);
    }
    /** The code an authenticator app shows `steps` steps from Alias's now. */
    const codeAt = (secret: string, steps = 0) =>
      new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' })
        .generate({ timestamp: alias.s.now() + steps * STEP });

    const signedInBrowser = (email: string, password: string) => signedInBrowserAt(alias.issuer, email, password);

    /** Enrols TOTP from the account page; returns the key as the page shows it and the recovery codes. */
    async function enrol(browser: Browser): Promise<{ secret: string; codes: string[]; page: Page }> {
      const setup = await browser.follow('/account/totp');
      assert.equal(setup.status, 200, setup.html);
      assert.match(setup.html, /<svg[^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/, 'the QR code is inline SVG');
      const secret = /data-totp-secret="([A-Z2-7]+)"/.exec(setup.html)?.[1];
      assert.ok(secret, 'the key is on the page as text');
      freshStep();
      const wrong = await browser.submit(setup, { code: String((Number(codeAt(secret)) + 1) % 1_000_000).padStart(6, '0') });
      assert.equal(wrong.status, 400, 'a wrong first code turns nothing on');
      assert.equal(await alias.s.store.secondFactors.getTotp(await userIdOf(browser)), undefined);
      const done = await browser.submit(wrong, { code: codeAt(secret) });
      assert.equal(done.status, 200, done.html);
      const codes = [...done.html.matchAll(/<li><code>([a-z2-7]{5}-[a-z2-7]{5})<\/code><\/li>/g)].map((m) => m[1]!);
      assert.equal(codes.length, 10, 'ten recovery codes, shown once');
      return { secret, codes, page: done };
    }

    async function userIdOf(browser: Browser): Promise<string> {
      const session = await alias.s.sessions.read(browser.cookies.get(cookieNames(alias.issuer).session));
      return session!.userId;
    }
    const sessionOf = (browser: Browser) => alias.s.sessions.read(browser.cookies.get(cookieNames(alias.issuer).session));

    /** A user with TOTP on, and a browser that is signed out again. */
    async function enrolledUser() {
      const user = await alias.user();
      const browser = await signedInBrowser(user.email, user.password);
      const { secret, codes } = await enrol(browser);
      return { user, secret, codes };
    }

    /** The password page of /account; returns the second-factor page. */
    async function passwordStep(email: string, password: string) {
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/account');
      const second = await browser.submit(login, { email, password });
      assert.equal(second.status, 200, second.html);
      assert.match(second.html, /name="code"/, 'the second page asks for the code');
      assert.equal(browser.cookies.get(cookieNames(alias.issuer).session), undefined, 'no session before the code');
      return { browser, second };
    }

    async function authorize(browser: Browser, clientId: string, extra: Record<string, string> = {}) {
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CB, scope: 'openid', state, nonce, ...extra }).toString();
      return { page: await browser.follow(url.href), state, nonce };
    }

    async function idTokenClaims(clientId: string, secret: string, done: Page, state: string, nonce: string) {
      const oclient: oauth.Client = { client_id: clientId };
      const params = oauth.validateAuthResponse(as, oclient, new URL(done.url), state);
      const response = await oauth.authorizationCodeGrantRequest(as, oclient, oauth.ClientSecretBasic(secret), params, CB, oauth.nopkce, insecure);
      const result = await oauth.processAuthorizationCodeResponse(as, oclient, response, { expectedNonce: nonce, requireIdToken: true });
      return oauth.getValidatedIdTokenClaims(result)!;
    }

    const allow = allowAll;

    /** A browser whose session was made by a password alone (amr ["pwd"]). */
    async function passwordSession(userId: string): Promise<Browser> {
      const browser = new Browser(alias.issuer);
      const { cookie } = await alias.s.sessions.start(userId, alias.s.now(), { amr: ['pwd'] });
      browser.cookies.set(cookieNames(alias.issuer).session, cookie);
      return browser;
    }

    it('§2 enrolment: QR code and key on the page, confirmed by a first code; the secret is sealed at rest; audited and mailed', async () => {
      const user = await alias.user();
      const browser = await signedInBrowser(user.email, user.password);
      const { secret, codes } = await enrol(browser);
      const stored = await alias.s.store.secondFactors.getTotp(user.id);
      assert.ok(stored, 'stored once confirmed');
      assert.ok(!stored.secretSealed.includes(secret), 'the key is not stored in the clear');
      assert.equal(alias.s.secrets.open(stored.secretSealed, 'totp-secrets'), secret, 'sealed with a key from ALIAS_SECRET');
      assert.equal(await alias.s.store.secondFactors.countRecoveryCodes(user.id), 10);
      assert.equal(new Set(codes).size, 10);
      const account = await browser.follow('/account');
      assert.match(account.html, /On \(authenticator app\)\. 10 unused recovery codes left/);
      const mails = await alias.s.store.mailOutbox.listByUser(user.id);
      assert.ok(mails.some((m) => m.purpose === 'mfa.enabled'), 'a notice mail is queued');
      const events = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(user.id) }, limit: 50 });
      assert.ok(events.some((e) => e.type === 'mfa.enabled'), 'audited');
      // The enrolling session proved the second factor.
      assert.deepEqual((await sessionOf(browser))!.amr.sort(), ['mfa', 'otp', 'pwd']);
    });

    it('§2 enrolment needs a recent sign-in (accounts/reauth.ts)', async () => {
      const user = await alias.user();
      const browser = await signedInBrowser(user.email, user.password);
      alias.advance(11 * 60_000);
      const res = await browser.request('/account/totp');
      assert.equal(res.status, 303);
      assert.match(res.headers.get('location')!, /^\/account\/reauth\?next=%2Faccount%2Ftotp$/);
    });

    it('§2 sign-in asks for the code on a second page; the session starts with amr pwd otp mfa; the code cannot be used twice', async () => {
      const { user, secret } = await enrolledUser();
      freshStep();
      const { browser, second } = await passwordStep(user.email, user.password);
      const code = codeAt(secret);
      const ok = await browser.submit(second, { code });
      assert.equal(ok.status, 200, ok.html);
      assert.match(ok.html, /Your Alias account/);
      assert.deepEqual((await sessionOf(browser))!.amr, ['pwd', 'otp', 'mfa']);
      // RFC 6238 §5.2: the same code again (same step, another sign-in) is refused.
      const again = await passwordStep(user.email, user.password);
      const replay = await again.browser.submit(again.second, { code });
      assert.equal(replay.status, 401);
      assert.match(replay.html, /not right, or was already used/);
      assert.equal(again.browser.cookies.get(cookieNames(alias.issuer).session), undefined);
      // The pending sign-in is single use: posting the used one again is refused.
      const reuse = await browser.submit(second, { code: codeAt(secret, 1) });
      assert.equal(reuse.status, 400);
      assert.match(reuse.html, /This sign-in has expired/);
    });

    it('§2 drift: one step either way is accepted, two are not', async () => {
      const { user, secret } = await enrolledUser();
      freshStep();
      alias.advance(STEP); // past the enrolment's step
      const { browser, second } = await passwordStep(user.email, user.password);
      for (const steps of [-2, 2]) {
        const page = await browser.submit(second, { code: codeAt(secret, steps) });
        assert.equal(page.status, 401, `${steps} steps away is refused`);
      }
      const back = await browser.submit(second, { code: codeAt(secret, -1) });
      assert.equal(back.status, 200, 'one step behind is accepted');
      assert.ok(await sessionOf(browser));
      const ahead = await passwordStep(user.email, user.password);
      const page = await ahead.browser.submit(ahead.second, { code: codeAt(secret, 1) });
      assert.equal(page.status, 200, 'one step ahead is accepted');
      // The later step was accepted: the earlier codes are now refused (no code twice, none older).
      const older = await passwordStep(user.email, user.password);
      assert.equal((await older.browser.submit(older.second, { code: codeAt(secret, 0) })).status, 401);
    });

    it(`§Security a burst of 40 parallel wrong codes gets at most ${SECOND_FACTOR_POLICY.allowed} checks (reserved before the check)`, async () => {
      const { user, secret } = await enrolledUser();
      // First: the clock moves no more during the test (a 30 s block must not end meanwhile).
      freshStep();
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
        alias.s.secondFactors.check(user.id, String(100000 + i), '192.0.2.50', 'sign_in')));
      const checked = results.filter((r) => !r.ok && r.reason === 'invalid').length;
      assert.ok(checked <= SECOND_FACTOR_POLICY.allowed, `${checked} of 40 codes were checked`);
      assert.equal(results.filter((r) => !r.ok && r.reason === 'throttled').length, 40 - checked);
      // Over HTTP: the right code is refused too while the block lasts (429, Retry-After).
      const { browser, second } = await passwordStep(user.email, user.password);
      const blocked = await browser.submit(second, { code: codeAt(secret) });
      assert.equal(blocked.status, 429);
      assert.ok(Number(blocked.headers.get('retry-after')) > 0);
      assert.equal(browser.cookies.get(cookieNames(alias.issuer).session), undefined);
    });

    it(`§Security over HTTP: 30 parallel wrong codes on the second page get at most ${SECOND_FACTOR_POLICY.allowed} checks (401), the rest 429`, async () => {
      const { user } = await enrolledUser();
      freshStep();
      const { browser, second } = await passwordStep(user.email, user.password);
      const form = Browser.form(second.html);
      const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => browser.request(form.action, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...form.fields, code: String(200000 + i) }).toString() })));
      const statuses = answers.map((r) => r.status);
      const checked = statuses.filter((x) => x === 401).length;
      assert.ok(checked <= SECOND_FACTOR_POLICY.allowed, `${checked} of 30 codes were checked`);
      assert.equal(statuses.filter((x) => x === 429).length, 30 - checked, `statuses: ${statuses.join(',')}`);
    });

    it('§2 a recovery code works once instead of a code (amr pwd mfa), is audited and mailed; a new set kills the old one', async () => {
      const { user, codes } = await enrolledUser();
      const { browser, second } = await passwordStep(user.email, user.password);
      const ok = await browser.submit(second, { code: codes[0]!.toUpperCase() });
      assert.equal(ok.status, 200, ok.html);
      assert.deepEqual((await sessionOf(browser))!.amr, ['pwd', 'mfa']);
      assert.equal(await alias.s.store.secondFactors.countRecoveryCodes(user.id), 9);
      const again = await passwordStep(user.email, user.password);
      assert.equal((await again.browser.submit(again.second, { code: codes[0]! })).status, 401, 'used once only');
      const mails = await alias.s.store.mailOutbox.listByUser(user.id);
      assert.ok(mails.some((m) => m.purpose === 'mfa.recovery_code.used'));
      const events = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(user.id) }, limit: 50 });
      assert.ok(events.some((e) => e.type === 'mfa.recovery_code.used'));
      // A new set (needs the recent sign-in the browser has).
      const manage = await browser.follow('/account/totp');
      assert.match(manage.html, /9 unused recovery codes left/);
      const renewed = await browser.submit(manage, {});
      const fresh = [...renewed.html.matchAll(/<li><code>([a-z2-7]{5}-[a-z2-7]{5})<\/code><\/li>/g)].map((m) => m[1]!);
      assert.equal(fresh.length, 10);
      const old = await passwordStep(user.email, user.password);
      assert.equal((await old.browser.submit(old.second, { code: codes[1]! })).status, 401, 'the old set is dead');
      const next = await passwordStep(user.email, user.password);
      assert.equal((await next.browser.submit(next.second, { code: fresh[0]! })).status, 200, 'the new set works');
      assert.ok((await alias.s.store.mailOutbox.listByUser(user.id)).some((m) => m.purpose === 'mfa.recovery_codes.renewed'));
    });

    it('§2 turning TOTP off needs a recent sign-in; then the password alone signs in; export and deletion', async () => {
      const { user, secret } = await enrolledUser();
      freshStep();
      const { browser, second } = await passwordStep(user.email, user.password);
      await browser.submit(second, { code: codeAt(secret) });
      // Data export: says it is on and how many codes remain, never the key.
      const exported = await browser.follow('/account/export');
      const doc = JSON.parse(exported.html) as { second_factor: { totp: boolean; recovery_codes_left: number } };
      assert.equal(doc.second_factor.totp, true);
      assert.equal(doc.second_factor.recovery_codes_left, 10);
      assert.ok(!exported.html.includes(secret));
      const manage = await browser.follow('/account/totp');
      alias.advance(11 * 60_000);
      const csrf = Browser.form(manage.html).fields.csrf!;
      const late = await browser.request('/account/totp/disable', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf }).toString() });
      assert.equal(late.status, 303);
      assert.match(late.headers.get('location')!, /^\/account\/reauth/);
      assert.ok(await alias.s.store.secondFactors.getTotp(user.id), 'still on');
      const reauth = await browser.follow(late.headers.get('location')!);
      const back = await browser.submit(reauth, { password: user.password });
      assert.match(back.html, /Turn off two-step sign-in/);
      const off = await browser.follow('/account/totp/disable', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf }).toString() });
      assert.equal(off.status, 200);
      assert.match(off.html, /Two-step sign-in is off/);
      assert.equal(await alias.s.store.secondFactors.getTotp(user.id), undefined);
      assert.equal(await alias.s.store.secondFactors.countRecoveryCodes(user.id), 0);
      assert.ok((await alias.s.store.mailOutbox.listByUser(user.id)).some((m) => m.purpose === 'mfa.disabled'));
      const plain = await signedInBrowser(user.email, user.password);
      assert.ok(await sessionOf(plain));
      // Deletion takes the factor with the account.
      const again = await enrolledUser();
      assert.ok(await alias.s.store.users.delete(again.user.id));
      assert.equal(await alias.s.store.secondFactors.getTotp(again.user.id), undefined);
      assert.equal(await alias.s.store.secondFactors.countRecoveryCodes(again.user.id), 0);
    });

    it('§2 an authorization request resumes after password and code; the ID token says acr mfa, amr pwd otp mfa', async () => {
      const { user, secret } = await enrolledUser();
      const { client, secret: clientSecret } = await alias.client({ name: 'Shop', redirectUris: [CB] });
      const browser = new Browser(alias.issuer);
      const { page: login, state, nonce } = await authorize(browser, client.id);
      const second = await browser.submit(login, { email: user.email, password: user.password });
      assert.match(second.html, /name="code"/);
      assert.match(second.html, /Shop/);
      freshStep();
      const consent = await browser.submit(second, { code: codeAt(secret) });
      const done = await allow(browser, consent);
      const claims = await idTokenClaims(client.id, clientSecret!, done, state, nonce);
      assert.equal(claims.acr, ACR_MFA);
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    });

    it('§2 the password grant refuses an account with TOTP on (invalid_grant) and a --require-mfa client (unauthorized_client)', async () => {
      const { user } = await enrolledUser();
      const { client, secret } = await alias.client({ grantTypes: ['password'], redirectUris: [] });
      const post = (id: string, sec: string, username: string, password: string) => fetch(`${alias.issuer}/api/oauth2/token`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${id}:${sec}`).toString('base64') },
        body: new URLSearchParams({ grant_type: 'password', username, password, scope: 'openid' }) });
      const res = await post(client.id, secret!, user.email, user.password);
      assert.equal(res.status, 400);
      assert.equal((await res.json() as { error: string }).error, 'invalid_grant');
      const plain = await alias.user();
      assert.equal((await post(client.id, secret!, plain.email, plain.password)).status, 200, 'without TOTP it works');
      const strict = await alias.client({ grantTypes: ['password'], redirectUris: [], requireMfa: true });
      const refused = await post(strict.client.id, strict.secret!, plain.email, plain.password);
      assert.equal(refused.status, 400);
      assert.equal((await refused.json() as { error: string }).error, 'unauthorized_client');
    });

    it('§3 step-up: a password-only session, acr_values=urn:alias:acr:mfa → the second-factor page → ID token acr mfa, amr with otp', async () => {
      const { user, secret } = await enrolledUser();
      const { client, secret: clientSecret } = await alias.client({ name: 'Bank', redirectUris: [CB] });
      const browser = await passwordSession(user.id);
      // Without acr_values the password session is enough (no step-up).
      const plain = await authorize(browser, client.id);
      assert.match(plain.page.html, /name="decision" value="allow"/);
      const plainDone = await allow(browser, plain.page);
      const plainClaims = await idTokenClaims(client.id, clientSecret!, plainDone, plain.state, plain.nonce);
      assert.equal(plainClaims.acr, ACR_PASSWORD);
      // prompt=none with an acr the session cannot meet: interaction_required (OIDC Core §3.1.2.6).
      const silent = await authorize(browser, client.id, { acr_values: ACR_MFA, prompt: 'none' });
      const err = new URL(silent.page.url);
      assert.equal(err.searchParams.get('error'), 'interaction_required');
      assert.equal(err.searchParams.get('state'), silent.state);
      // Interactive: Alias asks for the second factor.
      const { page, state, nonce } = await authorize(browser, client.id, { acr_values: `${ACR_MFA} ${ACR_PASSWORD}`, max_age: '3600' });
      assert.equal(page.status, 200);
      assert.match(page.html, /asks for a stronger sign-in/);
      freshStep();
      const wrong = await browser.submit(page, { code: '000000' === codeAt(secret) ? '111111' : '000000' });
      assert.equal(wrong.status, 401);
      const done = await browser.submit(wrong, { code: codeAt(secret) });
      assert.ok(done.url.startsWith(CB), `back at the app (remembered grant): ${done.url}`);
      const claims = await idTokenClaims(client.id, clientSecret!, done, state, nonce);
      assert.equal(claims.acr, ACR_MFA);
      assert.ok((claims.amr as string[]).includes('otp'));
      assert.ok((claims.amr as string[]).includes('pwd'));
      // The session was upgraded: prompt=none now succeeds for the same acr.
      const again = await authorize(browser, client.id, { acr_values: ACR_MFA, prompt: 'none' });
      assert.ok(new URL(again.page.url).searchParams.get('code'), again.page.url);
    });

    it('§3 claims {"id_token":{"acr":{"essential":true,"values":[mfa]}}} is a requirement; unknown essential values are unmet', async () => {
      const { user, secret } = await enrolledUser();
      const { client, secret: clientSecret } = await alias.client({ name: 'Claims', redirectUris: [CB] });
      const browser = await passwordSession(user.id);
      const claimsParam = JSON.stringify({ id_token: { acr: { essential: true, values: [ACR_MFA] } } });
      const { page, state, nonce } = await authorize(browser, client.id, { claims: claimsParam });
      assert.match(page.html, /asks for a stronger sign-in/);
      freshStep();
      const consent = await browser.submit(page, { code: codeAt(secret) });
      const done = await allow(browser, consent);
      assert.equal((await idTokenClaims(client.id, clientSecret!, done, state, nonce)).acr, ACR_MFA);
      const unmet = await authorize(browser, client.id, { claims: JSON.stringify({ id_token: { acr: { essential: true, value: 'urn:other:gold' } } }) });
      assert.equal(new URL(unmet.page.url).searchParams.get('error'), 'unmet_authentication_requirements');
      const bad = await authorize(browser, client.id, { claims: '[1' });
      assert.equal(new URL(bad.page.url).searchParams.get('error'), 'invalid_request');
    });

    it('§3 a voluntary acr_values without any second factor is answered with the password level', async () => {
      const user = await alias.user();
      const { client, secret } = await alias.client({ redirectUris: [CB] });
      const browser = await passwordSession(user.id);
      const { page, state, nonce } = await authorize(browser, client.id, { acr_values: ACR_MFA });
      const done = await allow(browser, page);
      assert.equal((await idTokenClaims(client.id, secret!, done, state, nonce)).acr, ACR_PASSWORD);
    });

    it('§3 a --require-mfa client: a person without a second factor is told so, enrols, and continues; the ID token says mfa', async () => {
      const user = await alias.user();
      const { client, secret } = await alias.client({ name: 'Strict', redirectUris: [CB], requireMfa: true });
      const browser = new Browser(alias.issuer);
      const { page: login, state, nonce } = await authorize(browser, client.id);
      const setup = await browser.submit(login, { email: user.email, password: user.password });
      assert.equal(setup.status, 200);
      assert.match(setup.html, /only accepts people who sign in with two steps/);
      const href = /<a href="([^"]*)">Set up an authenticator app<\/a>/.exec(setup.html)![1]!.replace(/&amp;/g, '&');
      const enrolPage = await browser.follow(href);
      const key = /data-totp-secret="([A-Z2-7]+)"/.exec(enrolPage.html)![1]!;
      freshStep();
      const codesPage = await browser.submit(enrolPage, { code: codeAt(key) });
      const cont = /<a href="(\/interaction\/[^"]+)">Continue to Strict<\/a>/.exec(codesPage.html)?.[1];
      assert.ok(cont, codesPage.html);
      const consent = await browser.follow(cont);
      const done = await allow(browser, consent);
      const claims = await idTokenClaims(client.id, secret!, done, state, nonce);
      assert.equal(claims.acr, ACR_MFA);
      assert.ok((claims.amr as string[]).includes('otp'));
      // A password-only session of a person with TOTP is asked for the code first.
      const other = await passwordSession(user.id);
      const step = await authorize(other, client.id);
      assert.match(step.page.html, /asks for a stronger sign-in/);
      const silent = await authorize(other, client.id, { prompt: 'none' });
      assert.equal(new URL(silent.page.url).searchParams.get('error'), 'interaction_required');
    });

    it('§2 the device flow: password then code, and a --require-mfa device client gets only two-step sign-ins', async () => {
      const { user, secret } = await enrolledUser();
      const { client } = await alias.client({ name: 'Strict TV', redirectUris: [], isPublic: true,
        grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'], requireMfa: true });
      const start = await (await fetch(`${alias.issuer}/api/oauth2/device_authorization`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: client.id, scope: 'openid' }) }))
        .json() as { device_code: string; verification_uri_complete: string };
      // A password-only session is sent to sign in again (password, then code) before it may approve.
      const browser = await passwordSession(user.id);
      const entry = await browser.follow(start.verification_uri_complete);
      const login = await browser.submit(entry, {});
      assert.match(login.html, /needs two-step sign-in/);
      const second = await browser.submit(login, { email: user.email, password: user.password });
      assert.match(second.html, /name="code"/);
      freshStep();
      const consent = await browser.submit(second, { code: codeAt(secret) });
      assert.match(consent.html, /name="decision" value="allow"/, consent.html);
      const done = await allow(browser, consent);
      assert.equal(done.status, 200);
      const token = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: start.device_code, client_id: client.id }) });
      const body = await token.json() as { id_token: string };
      assert.equal(token.status, 200, JSON.stringify(body));
      const claims = JSON.parse(Buffer.from(body.id_token.split('.')[1]!, 'base64url').toString()) as { acr: string; amr: string[] };
      assert.equal(claims.acr, ACR_MFA);
      assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    });

    it('§2 a verification link never signs in an account with TOTP on (it is no second factor)', async () => {
      const user = await alias.s.accounts.create({ email: `unverified-${Date.now()}@example.com`, password: 'correct horse battery staple', emailVerified: false });
      await alias.s.store.secondFactors.insertTotp({ userId: user.id, secretSealed: alias.s.secrets.seal('JBSWY3DPEHPK3PXP', 'totp-secrets'), lastStep: 0, createdAt: alias.s.now() });
      const link = await alias.s.links.issue(alias.s.store.linkTokens, 'verify_email', user.id, { email: user.email });
      const browser = new Browser(alias.issuer);
      const page = await browser.follow(`/verify-email/${link}`);
      assert.equal(page.status, 200);
      assert.match(page.html, /Sign in with your password and your authenticator app/);
      assert.equal(browser.cookies.get(cookieNames(alias.issuer).session), undefined);
      assert.equal((await alias.s.store.users.get(user.id))?.emailVerified, true, 'the address is confirmed all the same');
    });
  });
}
