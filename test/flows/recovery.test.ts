// Password reset, the password change on /account and the e-mail change (issue 14 §3, §4;
// issue 16 item 4), through the real pages, with the SMTP sink and the links read out of
// the mails. Rule checked by every test: a credential change ends what was granted before
// (RFC 9700 §4.14.2) — sessions, refresh tokens, access tokens — and the address is told.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { Browser, type Page } from '../helpers/browser.js';

const CB = 'https://rp.example/cb';
const NEW_PASSWORD = 'violet lantern orbit 58';
const form = 'application/x-www-form-urlencoded';

for (const kind of databaseKinds()) {
  describe(`password reset and e-mail change (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
    });
    after(async () => {
      await alias?.close();
      await smtp?.close();
    });

    /** Delivers queued account mails until one to `to` with a subject matching `subject` arrived. */
    async function mailTo(to: string, subject: RegExp) {
      const deadline = Date.now() + 8_000;
      for (;;) {
        const got = smtp.received.find((m) => m.envelope.to.includes(to) && subject.test(m.mail.subject ?? ''));
        if (got) return got;
        if (Date.now() > deadline) throw new Error(`no mail "${subject}" to ${to}; got: ${smtp.received.map((m) => `${m.envelope.to} ${m.mail.subject}`).join('; ')}`);
        await alias.s.relayWorker.runOnce();
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const mailsTo = (to: string) => smtp.received.filter((m) => m.envelope.to.includes(to));
    const linkIn = (text: string | undefined, path: string) => {
      const m = new RegExp(`${alias.issuer.replace(/[.]/g, '\\.')}(/${path}/[A-Za-z0-9_-]+)`).exec(text ?? '');
      assert.ok(m, `a /${path}/ link in the mail:\n${text}`);
      return m[1]!;
    };
    const section = (page: Page, action: string): Page => ({ ...page, html: page.html.slice(page.html.indexOf(`action="${action}"`) - 30) });
    const signedIn = async (b: Browser) => /Your Alias account/.test((await b.follow('/account')).html);

    /** A user connected to an app (refresh token held), signed in in two browsers. */
    async function connected() {
      const { client, secret } = await alias.client({ name: 'Newsy', redirectUris: [CB], grantTypes: ['authorization_code', 'refresh_token'] });
      const user = await alias.user();
      const a = new Browser(alias.issuer);
      const login = await a.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id,
        redirect_uri: CB, scope: 'openid offline_access' }));
      const consent = await a.submit(login, { email: user.email, password: user.password });
      const done = await a.submit(consent, { decision: 'allow', scope: ['offline_access'] });
      const auth = 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64');
      const post = async (path: string, body: Record<string, string>) => {
        const r = await fetch(alias.issuer + path, { method: 'POST', headers: { 'content-type': form, authorization: auth }, body: new URLSearchParams(body) });
        return { status: r.status, body: await r.json() as Record<string, unknown> };
      };
      const tokens = (await post('/api/oauth2/token', { grant_type: 'authorization_code', code: new URL(done.url).searchParams.get('code')!, redirect_uri: CB })).body;
      assert.ok(tokens.refresh_token, 'a refresh token');
      const b = new Browser(alias.issuer);
      await b.submit(await b.follow('/account'), { email: user.email, password: user.password });
      assert.ok(await signedIn(a) && await signedIn(b), 'both browsers signed in');
      const refresh = () => post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string });
      const introspect = async () => (await post('/api/oauth2/introspect', { token: tokens.access_token as string })).body;
      assert.equal((await introspect()).active, true);
      return { client, user, a, b, tokens, refresh, introspect };
    }

    async function assertRevoked(c: Awaited<ReturnType<typeof connected>>) {
      const r = await c.refresh();
      assert.equal(r.status, 400);
      assert.equal(r.body.error, 'invalid_grant', 'the old refresh token no longer refreshes');
      assert.equal((await c.introspect()).active, false, 'the access token is inactive at introspection');
    }

    it('forgot → mail → reset: same answer for unknown addresses; every session and token ends; a notice is mailed', async () => {
      const c = await connected();
      const anon = new Browser(alias.issuer);
      const loginPage = await anon.follow('/account');
      assert.match(loginPage.html, /<a href="\/forgot">Forgot your password\?<\/a>/, 'the sign-in page links to /forgot');
      const forgot = await anon.follow('/forgot');
      assert.equal(forgot.status, 200);
      assert.match(forgot.html, /<label for="email">/);
      // No enumeration: an address without an account gets the very same page.
      const unknown = `nobody-${Date.now()}@example.com`;
      const sentUnknown = await anon.submit(forgot, { email: unknown });
      const sentKnown = await anon.submit(forgot, { email: c.user.email.toUpperCase() });
      assert.equal(sentUnknown.status, 200);
      assert.equal(sentKnown.status, 200);
      const strip = (html: string) => html.replace(/value="[^"]*"/g, '');
      assert.equal(strip(sentKnown.html), strip(sentUnknown.html), 'the same page whether or not the address has an account');
      assert.match(sentKnown.html, /If an Alias account has this address/);

      const mail = await mailTo(c.user.email, /Reset your Alias password/);
      assert.equal(mailsTo(unknown).length, 0, 'nothing is sent to an address without an account');
      const link = linkIn(mail.mail.text, 'reset');
      const page = await anon.follow(link);
      assert.equal(page.status, 200);
      assert.match(page.html, /<label for="password">/);
      assert.equal((await anon.follow(link)).status, 200, 'opening the link twice (a mail scanner) does not use it');
      const done = await anon.submit(page, { password: NEW_PASSWORD });
      assert.equal(done.status, 200);
      assert.match(done.html, /Every browser was signed out/);

      assert.ok(!await signedIn(c.a), 'browser A is signed out');
      assert.ok(!await signedIn(c.b), 'browser B is signed out');
      await assertRevoked(c);
      const notice = await mailTo(c.user.email, /Your Alias password was reset/);
      assert.match(notice.mail.text ?? '', /Every browser was signed out/);
      assert.doesNotMatch(notice.mail.text ?? '', /\/reset\//, 'the notice carries no link token');
      // The new password works, the old one does not.
      const again = new Browser(alias.issuer);
      const old = await again.submit(await again.follow('/account'), { email: c.user.email, password: c.user.password });
      assert.doesNotMatch(old.html, /Your Alias account/);
      const ok = await again.submit(await again.follow('/account'), { email: c.user.email, password: NEW_PASSWORD });
      assert.match(ok.html, /Your Alias account/);
      // The link was single use.
      const used = await anon.follow(link);
      assert.equal(used.status, 410);
      assert.match(used.html, /already used/);
      const events = await alias.s.store.audit.query({ limit: 50, user: { subs: [], userRef: alias.s.audit.userRef(c.user.id) } });
      assert.ok(events.some((e) => e.type === 'password.reset' && /sessions=all/.test(e.detail ?? '')), 'audited');
    });

    it('bad input: unknown 404, expired 410, weak password 400, CSRF 403, repeated or oversized fields 400 — nothing changes', async () => {
      const user = await alias.user();
      const anon = new Browser(alias.issuer);
      assert.equal((await anon.follow('/reset/' + 'A'.repeat(43))).status, 404, 'unknown link');
      assert.equal((await anon.follow('/reset/short')).status, 404, 'malformed link');
      const oversized = await anon.follow('/reset/' + 'x'.repeat(5000));
      assert.ok([400, 404].includes(oversized.status), 'oversized link: refused, never a 500');
      assert.match(oversized.headers.get('content-type') ?? '', /^text\/html/, 'as a readable page');
      const forgot = await anon.follow('/forgot');
      const csrf = Browser.form(forgot.html).fields.csrf!;
      const raw = (path: string, body: string) => anon.follow(path, { method: 'POST', headers: { 'content-type': form }, body });
      assert.equal((await raw('/forgot', new URLSearchParams({ csrf: 'nope', email: user.email }).toString())).status, 403, 'CSRF');
      assert.equal((await raw('/forgot', `csrf=${encodeURIComponent(csrf)}&email=a%40b.c&email=d%40e.f`)).status, 400, 'repeated field');
      assert.equal((await raw('/forgot', new URLSearchParams({ csrf, email: 'a'.repeat(400) + '@x.y' }).toString())).status, 400, 'oversized');
      assert.equal((await raw('/forgot', new URLSearchParams({ csrf, email: '' }).toString())).status, 400, 'empty');
      const sent = await anon.submit(forgot, { email: user.email });
      assert.equal(sent.status, 200);
      const link = linkIn((await mailTo(user.email, /Reset your Alias password/)).mail.text, 'reset');
      const page = await anon.follow(link);
      const before = (await alias.s.store.users.get(user.id))!;
      const weak = await anon.submit(page, { password: 'password1' });
      assert.equal(weak.status, 400);
      assert.match(weak.html, /id="password-error"[^>]*>Not set: this password is too easy to guess/, 'the reason is shown next to the field');
      assert.equal((await raw(link, new URLSearchParams({ csrf: 'nope', password: NEW_PASSWORD }).toString())).status, 403);
      assert.equal((await raw(link, `csrf=${encodeURIComponent(csrf)}&password=a&password=b`)).status, 400);
      assert.equal((await raw(link, new URLSearchParams({ csrf, password: 'x'.repeat(300) }).toString())).status, 400);
      assert.deepEqual(await alias.s.store.users.get(user.id), before, 'no stored change');
      // Expired after 30 minutes.
      alias.advance(31 * 60_000);
      try {
        const expired = await anon.submit(page, { password: NEW_PASSWORD });
        assert.equal(expired.status, 410);
        assert.match(expired.html, /expired/);
        assert.equal((await anon.follow(link)).status, 410);
      } finally {
        alias.advance(-31 * 60_000);
      }
      assert.deepEqual(await alias.s.store.users.get(user.id), before, 'no stored change');
    });

    it('rate limits: the 4th request for one address within an hour gets 429 before any lookup (per account)', async () => {
      const user = await alias.user();
      const anon = new Browser(alias.issuer);
      const forgot = await anon.follow('/forgot');
      for (let i = 0; i < 3; i++) assert.equal((await anon.submit(forgot, { email: user.email })).status, 200);
      const limited = await anon.submit(forgot, { email: user.email });
      assert.equal(limited.status, 429);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      assert.match(limited.html, /Too many requests/);
      // The same for an address without an account (no enumeration through the limit).
      const nobody = `nobody-rl-${Date.now()}@example.com`;
      for (let i = 0; i < 3; i++) assert.equal((await anon.submit(forgot, { email: nobody })).status, 200);
      assert.equal((await anon.submit(forgot, { email: nobody })).status, 429);
      await mailTo(user.email, /Reset your Alias password/);
      await new Promise((r) => setTimeout(r, 200));
      await alias.s.relayWorker.runOnce();
      assert.equal(mailsTo(user.email).length, 3, 'three mails, none for the refused request');
    });

    it('rate limits hold under a burst (issue 16): 12 parallel /forgot requests for one address → exactly 3 answered, 9 refused with 429', async () => {
      // Counted atomically before the work: parallel requests must not all read "not blocked"
      // before any of them is counted.
      const address = `burst-${Date.now()}@example.com`;
      const anon = new Browser(alias.issuer);
      const forgot = await anon.follow('/forgot');
      const answers = await Promise.all(Array.from({ length: 12 }, () => anon.submit(forgot, { email: address })));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [...Array(3).fill(200), ...Array(9).fill(429)]);
    });

    it('/account password change (issue 16 item 4): other browsers signed out, tokens revoked, this browser kept, the page says so', async () => {
      // Fails before the fix: browser B stayed signed in and the old refresh token still refreshed.
      const c = await connected();
      const account = await c.a.follow('/account');
      const weak = await c.a.submit(section(account, '/account/password'), { current_password: c.user.password, new_password: 'password1' });
      assert.equal(weak.status, 400, 'a new password is checked like at sign-up');
      assert.ok(await signedIn(c.b), 'a refused change ends nothing');
      const changed = await c.a.submit(section(account, '/account/password'), { current_password: c.user.password, new_password: NEW_PASSWORD });
      assert.equal(changed.status, 200);
      assert.match(changed.html, /Password changed\. Every other browser was signed out/);
      assert.ok(await signedIn(c.a), 'the browser that changed it stays signed in');
      assert.ok(!await signedIn(c.b), 'browser B is signed out');
      await assertRevoked(c);
      const notice = await mailTo(c.user.email, /Your Alias password was changed/);
      assert.match(notice.mail.text ?? '', /Every other browser was signed out/);
    });

    it('e-mail change: the link goes to the new address; the old one gets an undo link that restores it and ends every session', async () => {
      const c = await connected();
      const newEmail = `moved-${Date.now()}@example.net`;
      const account = await c.a.follow('/account');
      assert.match(account.html, /<label for="new_email">/);
      const wrong = await c.a.submit(section(account, '/account/email'), { new_email: newEmail, current_password: 'not my password' });
      assert.equal(wrong.status, 400);
      assert.match(wrong.html, /id="email_password-error"[^>]*>The current password is wrong/);
      const bad = await c.a.submit(section(account, '/account/email'), { new_email: 'not an address', current_password: c.user.password });
      assert.equal(bad.status, 400);
      assert.match(bad.html, /id="new_email-error"/);
      const asked = await c.a.submit(section(account, '/account/email'), { new_email: newEmail, current_password: c.user.password });
      assert.equal(asked.status, 200);
      assert.match(asked.html, /Check your new address/);
      assert.equal((await alias.s.store.users.get(c.user.id))!.email, c.user.email, 'nothing changes before the link is opened');

      const confirmMail = await mailTo(newEmail, /Confirm your new Alias address/);
      const confirm = linkIn(confirmMail.mail.text, 'confirm-email');
      const other = new Browser(alias.issuer);
      const confirmPage = await other.follow(confirm);
      assert.equal(confirmPage.status, 200);
      assert.equal((await alias.s.store.users.get(c.user.id))!.email, c.user.email, 'opening the link (GET) changes nothing');
      const confirmed = await other.submit(confirmPage, {});
      assert.equal(confirmed.status, 200);
      assert.match(confirmed.html, /Address changed/);
      const moved = (await alias.s.store.users.get(c.user.id))!;
      assert.equal(moved.email, newEmail);
      assert.equal(moved.emailVerified, true);
      assert.equal((await other.follow(confirm)).status, 410, 'single use');
      assert.ok(await signedIn(c.a), 'confirming the new address keeps sessions');

      const noticeMail = await mailTo(c.user.email, /Your Alias address was changed/);
      const cancel = linkIn(noticeMail.mail.text, 'cancel-email-change');
      const cancelPage = await c.b.follow(cancel);
      assert.equal(cancelPage.status, 200);
      const undone = await c.b.submit(cancelPage, {});
      assert.equal(undone.status, 200);
      assert.match(undone.html, /Change undone/);
      const restored = (await alias.s.store.users.get(c.user.id))!;
      assert.equal(restored.email, c.user.email, 'the old address is back');
      assert.ok(!await signedIn(c.a) && !await signedIn(c.b), 'every session ended, the one that cancelled too');
      await assertRevoked(c);
      await mailTo(c.user.email, /change of your Alias address was undone/);
      assert.equal((await c.b.follow(cancel)).status, 410, 'single use');
      // The old password still signs in with the restored address.
      const again = new Browser(alias.issuer);
      assert.match((await again.submit(await again.follow('/account'), { email: c.user.email, password: c.user.password })).html, /Your Alias account/);
      const events = await alias.s.store.audit.query({ limit: 50, user: { subs: [], userRef: alias.s.audit.userRef(c.user.id) } });
      for (const type of ['email.change_requested', 'email.changed', 'email.change_cancelled']) {
        assert.ok(events.some((e) => e.type === type), `audited: ${type}`);
      }
    });

    it('e-mail change to a taken address: the same answer, the owner is told, the account does not change', async () => {
      const me = await alias.user();
      const owner = await alias.user();
      const a = new Browser(alias.issuer);
      const account = await a.submit(await a.follow('/account'), { email: me.email, password: me.password });
      const asked = await a.submit(section(account, '/account/email'), { new_email: owner.email, current_password: me.password });
      assert.equal(asked.status, 200);
      assert.match(asked.html, /Check your new address/);
      const told = await mailTo(owner.email, /Someone tried to move an Alias account to your address/);
      assert.doesNotMatch(told.mail.text ?? '', /confirm-email/, 'no link that could move anything');
      assert.equal((await alias.s.store.users.get(me.id))!.email, me.email);
      assert.equal((await alias.s.store.users.get(owner.id))!.email, owner.email);
      // CSRF and malformed input change nothing.
      const csrf = Browser.form(section(account, '/account/email').html).fields.csrf!;
      const raw = (body: string) => a.follow('/account/email', { method: 'POST', headers: { 'content-type': form }, body });
      assert.equal((await raw(new URLSearchParams({ csrf: 'x', new_email: 'z@example.com', current_password: me.password }).toString())).status, 403);
      assert.equal((await raw(`csrf=${encodeURIComponent(csrf)}&new_email=a%40b.c&new_email=d%40e.f&current_password=x`)).status, 400);
      assert.equal((await a.follow('/confirm-email/' + 'B'.repeat(43))).status, 404);
      // An address that gets an account between the request and the link: 409, nothing changes.
      const later = `later-${Date.now()}@example.org`;
      await a.submit(section(await a.follow('/account'), '/account/email'), { new_email: later, current_password: me.password });
      const link = linkIn((await mailTo(later, /Confirm your new Alias address/)).mail.text, 'confirm-email');
      const page = await a.follow(link);
      await alias.user({ email: later });
      const clash = await a.submit(page, {});
      assert.equal(clash.status, 409);
      assert.match(clash.html, /Another Alias account uses this address/);
      assert.equal((await alias.s.store.users.get(me.id))!.email, me.email, 'no stored change');
      assert.equal((await a.follow(link)).status, 200, 'the link was not used up by the refusal');
      assert.equal((await a.follow('/cancel-email-change/nope')).status, 404);
    });

    it('rate limit per source address: the 21st /forgot request in 10 minutes from one address gets 429', async () => {
      const anon = new Browser(alias.issuer);
      const forgot = await anon.follow('/forgot');
      let status = 200;
      for (let i = 0; i < 25 && status === 200; i++) status = (await anon.submit(forgot, { email: `src-${i}-${Date.now()}@example.com` })).status;
      assert.equal(status, 429, 'per source address, whatever the address typed');
    });
  });
}
