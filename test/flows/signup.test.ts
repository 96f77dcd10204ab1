// Issue 14 §1 sign-up and §2 e-mail verification, over HTTP with the real pages, a real
// SMTP sink and an independent OAuth client (oauth4webapi), on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes, type Page } from '../helpers/browser.js';
import { startSmtpSink, type SmtpSink, type Received } from '../helpers/smtp.js';
import { digest } from '../../src/tokens/opaque.js';

const CB = 'http://127.0.0.1:9/cb';
const PASSWORD = 'violet tractor umbrella 42';
let n = 0;
const address = () => `signup${++n}-${Date.now()}@example.com`;

for (const kind of databaseKinds()) {
  describe(`sign-up and e-mail verification (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    let as: oauth.AuthorizationServer;
    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
      const issuer = new URL(alias.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
    });
    after(async () => {
      await alias?.close();
      await smtp?.close();
    });

    /** Delivers the account-mail outbox and returns every mail `to` got so far. */
    async function mailsTo(to: string, atLeast: number): Promise<Received[]> {
      const deadline = Date.now() + 5_000;
      for (;;) {
        await alias.s.relayWorker.runOnce();
        const got = smtp.received.filter((r) => r.envelope.to.includes(to));
        if (got.length >= atLeast) return got;
        if (Date.now() > deadline) throw new Error(`expected ${atLeast} mails to ${to}, got ${got.length}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const linkIn = (r: Received) => /\/verify-email\/[A-Za-z0-9_-]+/.exec(r.mail.text ?? '')?.[0];

    async function authorize(browser: Browser, clientId: string, extra: Record<string, string> = {}) {
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: CB, scope: 'openid nickname',
        state, nonce, ...extra }).toString();
      return { page: await browser.follow(url.href), state, nonce };
    }

    async function signUpVia(browser: Browser, login: Page, fields: Record<string, string>) {
      const href = /<a href="([^"]*)">Create an account<\/a>/.exec(login.html)?.[1];
      assert.ok(href, 'the sign-in page links to the sign-up page');
      const form = await browser.follow(href.replace(/&amp;/g, '&'));
      assert.equal(form.status, 200);
      for (const name of ['email', 'password', 'nickname', 'csrf']) assert.match(form.html, new RegExp(`name="${name}"`));
      return browser.submit(form, fields);
    }

    it('§1/§2 an app sends a newcomer to sign-up; the mailed link confirms the address and returns them to the consent page; tokens validate', async () => {
      const { client, secret } = await alias.client({ name: 'Shop', redirectUris: [CB] });
      const browser = new Browser(alias.issuer);
      const { page: login, state, nonce } = await authorize(browser, client.id);
      const email = address();
      const check = await signUpVia(browser, login, { email, password: PASSWORD, nickname: 'Newbie' });
      assert.equal(check.status, 200, check.html);
      assert.match(check.html, /Check your mail/);
      const user = await alias.s.store.users.getByEmail(email);
      assert.ok(user, 'the account exists');
      assert.equal(user.emailVerified, false, 'created unverified');
      assert.equal(user.nickname, 'Newbie');

      const [mail] = await mailsTo(email, 1);
      assert.match(mail!.mail.subject ?? '', /Confirm your e-mail address/);
      const link = linkIn(mail!);
      assert.ok(link, 'the mail carries /verify-email/TOKEN');
      assert.ok(link.length - '/verify-email/'.length >= 22, '≥ 128 bits');
      const secretPart = link.slice('/verify-email/'.length);
      const stored = await alias.s.store.linkTokens.get(digest(secretPart));
      assert.equal(stored?.purpose, 'verify_email', 'stored under its digest');
      assert.equal(stored.expiresAt - stored.createdAt, 24 * 3_600_000, 'expires after 24 h');

      const consent = await browser.follow(link);
      assert.equal(consent.status, 200, consent.html);
      assert.match(consent.html, /name="decision" value="allow"/, 'back in the flow, on the consent page');
      assert.equal((await alias.s.store.users.get(user.id))!.emailVerified, true);
      const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
      const oclient: oauth.Client = { client_id: client.id };
      const params = oauth.validateAuthResponse(as, oclient, new URL(done.url), state);
      const response = await oauth.authorizationCodeGrantRequest(as, oclient, oauth.ClientSecretBasic(secret!), params, CB, oauth.nopkce,
        { [oauth.allowInsecureRequests]: true });
      const result = await oauth.processAuthorizationCodeResponse(as, oclient, response, { expectedNonce: nonce, requireIdToken: true });
      const claims = oauth.getValidatedIdTokenClaims(result)!;
      assert.equal(claims.nickname, 'Newbie');
      // §2: the address and its state are never released to apps.
      assert.equal(claims.email, undefined);
      assert.equal(claims.email_verified, undefined);
      const info = await (await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${result.access_token}` } })).json();
      assert.equal(info.email_verified, undefined);
      assert.equal(info.email, undefined);

      const events = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(user.id) }, limit: 10 });
      assert.deepEqual(events.map((e) => e.type).filter((t) => t === 'signup' || t === 'email.verified').sort(), ['email.verified', 'signup']);

      // §2 bad input: the second click is 410 and changes nothing; an unknown link is 404.
      const again = await new Browser(alias.issuer).follow(link);
      assert.equal(again.status, 410);
      assert.match(again.html, /already used/);
      const unknown = await new Browser(alias.issuer).follow('/verify-email/' + 'A'.repeat(43));
      assert.equal(unknown.status, 404);
      assert.equal((await new Browser(alias.issuer).follow('/verify-email/short')).status, 404);
    });

    it('§1 no enumeration: a taken address gets the same page, the owner a "someone tried" mail with the reset link, and no second account', async () => {
      const owner = await alias.user();
      const fresh = address();
      const page = async (email: string) => {
        const browser = new Browser(alias.issuer);
        const form = await browser.follow('/signup');
        return browser.submit(form, { email, password: PASSWORD });
      };
      const a = await page(fresh);
      const b = await page(owner.email.toUpperCase());
      assert.equal(a.status, b.status);
      assert.equal(a.html.replace(fresh, 'X'), b.html.replace(owner.email, 'X'), 'the very same page');
      const [tried] = await mailsTo(owner.email, 1);
      assert.match(tried!.mail.subject ?? '', /Someone tried to create an account/);
      assert.ok(tried!.mail.text?.includes(`${alias.issuer}/forgot`), 'links to the password reset');
      assert.ok(!/verify-email/.test(tried!.mail.text ?? ''), 'no verification link for the taken address');
      const still = await alias.s.store.users.getByEmail(owner.email);
      assert.equal(still!.id, owner.id, 'no second account');
      assert.equal(still!.passwordHash, owner.passwordHash, 'the owner’s password is unchanged');
      const signIn = await alias.s.accounts.login(owner.email, PASSWORD, '198.51.100.1');
      assert.equal(signIn.ok, false, 'the password typed on the sign-up form does not open the account');
    });

    it('§1 timing: a taken address costs the server the same hash as a free one (argon2id on both paths)', async () => {
      const owner = await alias.user();
      // Mail a sample caused is delivered before the next sample starts, so no sample pays
      // for another's delivery (the SMTP sink parses mails in this same process).
      const settle = async () => {
        while (await alias.s.relayWorker.runOnce() > 0) { /* until nothing is due */ }
      };
      // CPU time of this process (every thread, the argon2id worker included) during the
      // request. Wall time on a machine shared with other test files moves with their load
      // (CI once saw one path's five samples at 50–133 ms and the other's at 25–123 ms);
      // the CPU a request costs does not.
      const cost = async (email: string) => {
        const browser = new Browser(alias.issuer);
        const form = await browser.follow('/signup');
        const cpu = process.cpuUsage();
        await browser.submit(form, { email, password: PASSWORD });
        const used = process.cpuUsage(cpu);
        await settle();
        return (used.user + used.system) / 1000;
      };
      await cost(address()); // warm-up
      const free: number[] = [];
      const taken: number[] = [];
      // Six of each: this file's sign-ups stay within the 20 an hour one source may make
      // (SIGNUP_SOURCE); a refused sign-up hashes nothing, so each free one must have made
      // its account, or the comparison would mean nothing.
      for (let i = 0; i < 6; i++) {
        const email = address();
        free.push(await cost(email));
        assert.ok(await alias.s.store.users.getByEmail(email), 'the free address got its account (not throttled)');
        taken.push(await cost(owner.email));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
      // One argon2id hash (m=19 MiB, t=2) is most of either path's CPU. Measured on this
      // test's machine: taken ÷ free 0.7–0.95 with the hash on both paths (also under three
      // busy loops), 0.30–0.46 with the hash skipped for a taken address.
      assert.ok(median(taken) > median(free) * 0.6,
        `CPU ms: taken ${taken.map((x) => x.toFixed(1)).join(', ')} vs free ${free.map((x) => x.toFixed(1)).join(', ')}`);
    });

    it('§1 password rules and bad input: refused with the reason next to the field; nothing stored, nothing mailed', async () => {
      const browser = new Browser(alias.issuer);
      const form = await browser.follow('/signup');
      while (await alias.s.relayWorker.runOnce() > 0) { /* earlier tests' mails leave first */ }
      const before = smtp.received.length;
      for (const [password, why] of [['short1', /at least 8 characters/], ['password1', /too easy to guess/], ['x'.repeat(257), /longer than 256/]] as const) {
        const email = address();
        const res = await browser.submit(form, { email, password });
        assert.equal(res.status, 400);
        assert.match(res.html, /id="password-error"/);
        assert.match(res.html, why);
        assert.match(res.html, new RegExp(`value="${email}"`), 'the address is kept');
        assert.equal(await alias.s.store.users.getByEmail(email), undefined);
      }
      const bad = await browser.submit(form, { email: 'not-an-address', password: PASSWORD });
      assert.equal(bad.status, 400);
      assert.match(bad.html, /id="email-error"/);
      const personal = address();
      const mine = await browser.submit(form, { email: personal, password: personal });
      assert.equal(mine.status, 400, 'the address as password is refused');
      // Repeated fields and a missing CSRF token.
      const email = address();
      const twice = await browser.request('/signup', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams([['csrf', Browser.form(form.html).fields.csrf!], ['email', email], ['email', address()], ['password', PASSWORD]]).toString() });
      assert.equal(twice.status, 400);
      const forged = await browser.request('/signup', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email, password: PASSWORD }).toString() });
      assert.equal(forged.status, 403);
      assert.equal(await alias.s.store.users.getByEmail(email), undefined);
      await alias.s.relayWorker.runOnce();
      assert.equal(smtp.received.length, before, 'nothing was mailed');
    });

    it('§2 unverified: sign-in works but the request stops at "confirm your address"; resend replaces the link and is rate limited; prompt=none gets interaction_required', async () => {
      const { client } = await alias.client({ name: 'Forum', redirectUris: [CB] });
      const user = await alias.s.accounts.create({ email: address(), password: PASSWORD, emailVerified: false });
      const browser = new Browser(alias.issuer);
      const { page: login } = await authorize(browser, client.id);
      const confirm = await browser.submit(login, { email: user.email, password: PASSWORD });
      assert.equal(confirm.status, 200);
      assert.match(confirm.html, /Confirm your address/);
      assert.doesNotMatch(confirm.html, /name="decision"/, 'no consent, no code');

      const sent = await browser.submit(confirm, {});
      assert.equal(sent.status, 200);
      assert.match(sent.html, /We sent a new link/);
      const first = linkIn((await mailsTo(user.email, 1))[0]!)!;
      await browser.submit(confirm, {});
      const second = linkIn((await mailsTo(user.email, 2))[1]!)!;
      assert.notEqual(first, second);
      assert.equal((await new Browser(alias.issuer).follow(first)).status, 410, 'the older link no longer works');
      await browser.submit(confirm, {});
      const limited = await browser.submit(confirm, {});
      assert.equal(limited.status, 429, 'resend is rate limited per account');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);


      // Issue 16: counted atomically before the work, so a burst of parallel resends gets no
      // more links through than the allowance (3 per account an hour: all used above).
      const other = await alias.s.accounts.create({ email: address(), password: PASSWORD, emailVerified: false });
      const b2 = new Browser(alias.issuer);
      const confirm2 = await b2.submit((await authorize(b2, client.id)).page, { email: other.email, password: PASSWORD });
      const burst = await Promise.all(Array.from({ length: 8 }, () => b2.submit(confirm2, {})));
      assert.deepEqual(burst.map((r) => r.status).sort(), [...Array(3).fill(200), ...Array(5).fill(429)]);

      const silent = await authorize(browser, client.id, { prompt: 'none' });
      const error = new URL(silent.page.url).searchParams;
      assert.equal(error.get('error'), 'interaction_required');

      // The newest link confirms; the same browser's request then goes on to consent.
      const { page } = await authorize(browser, client.id);
      assert.match(page.html, /Confirm your address/);
      const verified = await browser.follow(third(await mailsTo(user.email, 3)));
      assert.equal(verified.status, 200);
      const consent = await browser.follow(page.url);
      assert.match(consent.html, /name="decision" value="allow"/);
    });
    const third = (mails: Received[]) => linkIn(mails[2]!)!;

    it('§2 an expired link (24 h) is 410 and leaves the address unconfirmed; the note lands on a readable page', async () => {
      const browser = new Browser(alias.issuer);
      const form = await browser.follow('/signup');
      const email = address();
      await browser.submit(form, { email, password: PASSWORD });
      const link = linkIn((await mailsTo(email, 1))[0]!)!;
      alias.advance(24 * 3_600_000 + 1_000);
      try {
        const res = await browser.follow(link);
        assert.equal(res.status, 410);
        assert.match(res.html, /expired/);
      } finally {
        alias.advance(-(24 * 3_600_000 + 1_000));
      }
      assert.equal((await alias.s.store.users.getByEmail(email))!.emailVerified, false);
    });

    it('§2 a link opened outside the flow (another browser) confirms, signs in and lands on a page pointing to the account', async () => {
      const { client } = await alias.client({ name: 'Blog', redirectUris: [CB] });
      const browser = new Browser(alias.issuer);
      const { page: login } = await authorize(browser, client.id);
      const email = address();
      await signUpVia(browser, login, { email, password: PASSWORD });
      const link = linkIn((await mailsTo(email, 1))[0]!)!;
      const other = new Browser(alias.issuer);
      const res = await other.follow(link);
      assert.equal(res.status, 200);
      assert.match(res.html, /Your address is confirmed/);
      assert.match(res.html, /Go back to the app and sign in again/);
      const account = await other.follow('/account');
      assert.match(account.html, new RegExp(email.replace(/[.+]/g, '\\$&')), 'signed in');
    });

    it('§2 the password grant and the device page refuse an unverified account; the relay does not mail it but answers 202', async () => {
      const { client, secret } = await alias.client({ redirectUris: [CB], grantTypes: ['password', 'urn:ietf:params:oauth:grant-type:device_code'] });
      const user = await alias.s.accounts.create({ email: address(), password: PASSWORD, emailVerified: false });
      const auth = 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64');
      const token = (username: string) => fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
        body: new URLSearchParams({ grant_type: 'password', username, password: PASSWORD, scope: 'openid' }) });
      const refused = await token(user.email);
      assert.equal(refused.status, 400);
      const body = await refused.json();
      assert.equal(body.error, 'invalid_grant');
      assert.doesNotMatch(body.error_description, /verif|confirm|e-?mail/i, 'neutral: the app does not learn the address state');

      const start = await (await fetch(`${alias.issuer}/api/oauth2/device_authorization`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams({ scope: 'openid' }) })).json();
      const browser = new Browser(alias.issuer);
      const entry = await browser.follow(start.verification_uri_complete);
      const login = await browser.submit(entry, {});
      const confirm = await browser.submit(login, { email: user.email, password: PASSWORD });
      assert.match(confirm.html, /Confirm your address/);
      const approve = await browser.request('/device/approve', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: Browser.form(confirm.html).fields.csrf!, user_code: new URL(start.verification_uri_complete).searchParams.get('user_code')!, decision: 'allow' }).toString() });
      assert.match(await approve.text(), /Confirm your address/, 'a forged approval is not taken');
      const poll = await (await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
        body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: start.device_code }) })).json();
      assert.equal(poll.error, 'authorization_pending');

      // Relay: a verified user with a token whose address then becomes unconfirmed (as while an e-mail change is pending).
      const { client: app, secret: appSecret } = await alias.client({ name: 'News', redirectUris: [CB], channels: ['news:News'] });
      const other = await alias.user();
      const b2 = new Browser(alias.issuer);
      const { page: l2, state } = await authorize(b2, app.id, { scope: 'openid contact', channels: 'news' });
      const c2 = await b2.submit(l2, { email: other.email, password: other.password });
      const d2 = await b2.submit(c2, { decision: 'allow', scope: checkboxes(c2.html, 'scope').map((c) => c.value),
        channel: checkboxes(c2.html, 'channel').map((c) => c.value) });
      const oapp: oauth.Client = { client_id: app.id };
      const p2 = oauth.validateAuthResponse(as, oapp, new URL(d2.url), state);
      const issued = await (await oauth.authorizationCodeGrantRequest(as, oapp, oauth.ClientSecretBasic(appSecret!), p2, CB, oauth.nopkce,
        { [oauth.allowInsecureRequests]: true })).json();
      assert.ok(issued.access_token, JSON.stringify(issued));
      const sub = JSON.parse(Buffer.from(issued.id_token.split('.')[1], 'base64url').toString()).sub;
      await alias.s.store.users.update({ ...(await alias.s.store.users.get(other.id))!, emailVerified: false });
      const sent = await fetch(`${alias.issuer}/api/v1/messages`, { method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${issued.access_token}` },
        body: JSON.stringify({ to: sub, channel: 'news', subject: 'Hello', body: 'Hi' }) });
      assert.equal(sent.status, 202, 'the app gets its 202 as for anyone');
      await alias.s.relayWorker.runOnce();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(smtp.received.filter((r) => r.envelope.to.includes(other.email)).length, 0, 'not mailed');
      const inbox = await alias.s.store.messages.listByUser(other.id, 10);
      assert.equal(inbox.length, 1, 'the message stays in the inbox');
      assert.match(inbox[0]!.lastError ?? '', /not confirmed/);
    });
  });
}

describe('sign-up closed (ALIAS_SIGNUP=closed)', () => {
  const [kind] = databaseKinds();
  let alias: Alias;
  before(async () => { alias = await startAlias(kind!, { env: { ALIAS_SIGNUP: 'closed' } }); });
  after(() => alias?.close());

  it('§1 answers 404 on /signup and the sign-in pages have no link', async () => {
    const browser = new Browser(alias.issuer);
    const get = await browser.follow('/signup');
    assert.equal(get.status, 404);
    const post = await browser.request('/signup', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: 'x@example.com', password: PASSWORD }).toString() });
    assert.equal(post.status, 404);
    assert.equal(await alias.s.store.users.getByEmail('x@example.com'), undefined);
    const login = await browser.follow('/account');
    assert.match(login.html, /name="password"/);
    assert.doesNotMatch(login.html, /Create an account/);
  });
});
