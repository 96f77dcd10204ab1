// Issue 14 §5 (GDPR Art. 15, 17, 20) over HTTP, on SQLite and PostgreSQL: the data export
// and account deletion behind a privileged session (the password again after 10 minutes),
// and what deletion does to every app the person used.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { freePort, startAlias, type Alias } from '../helpers/harness.js';
import { Browser, type Page } from '../helpers/browser.js';
import { basic } from '../helpers/bad_input.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { digest } from '../../src/tokens/opaque.js';
import { REAUTH_WINDOW_MS } from '../../src/accounts/reauth.js';

const CB = 'https://rp.example/cb';
const form = 'application/x-www-form-urlencoded';

/** A relying party's back-channel logout endpoint that records logout tokens. */
async function rp() {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { received.push(new URLSearchParams(body).get('logout_token') ?? ''); res.end(); });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { uri: `http://127.0.0.1:${port}/backchannel`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!;

for (const kind of databaseKinds()) {
  describe(`account data: export and deletion (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    let logout: Awaited<ReturnType<typeof rp>>;
    let app: { client: { id: string }; secret: string };
    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
      logout = await rp();
      const created = await alias.client({ name: 'Newsy', redirectUris: [CB], grantTypes: ['authorization_code', 'refresh_token'],
        channels: ['news:Product news'], backchannelLogoutUri: logout.uri });
      app = { client: created.client, secret: created.secret! };
    });
    after(async () => {
      await alias?.close();
      await logout?.close();
      await smtp?.close();
    });

    const post = async (path: string, body: Record<string, string>, auth = basic(app.client.id, app.secret)) => {
      const r = await fetch(alias.issuer + path, { method: 'POST', headers: { 'content-type': form, authorization: auth }, body: new URLSearchParams(body) });
      return { status: r.status, body: await r.json() };
    };
    const relay = async (to: string, subject: string) => (await fetch(`${alias.issuer}/api/v1/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(app.client.id, app.secret) },
      body: JSON.stringify({ to, channel: 'news', subject, body: `Body of ${subject}` }),
    })).status;

    /** A person signs in to Newsy on the real pages, consents to everything and gets tokens. */
    async function connected(user?: { id: string; email: string; password: string }) {
      const person = user ?? await alias.user({ nickname: 'Ann' });
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: app.client.id,
        redirect_uri: CB, scope: 'openid nickname contact offline_access', channels: 'news' }));
      const consent = await browser.submit(login, { email: person.email, password: person.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: ['nickname', 'contact', 'offline_access'], channel: ['news'] });
      const tokens = (await post('/api/oauth2/token', { grant_type: 'authorization_code', code: new URL(done.url).searchParams.get('code')!, redirect_uri: CB })).body;
      const sub = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString()).sub as string;
      return { person, browser, tokens, sub };
    }

    const exportOf = (page: Page) => JSON.parse(page.html);

    it('export: one JSON download with profile, apps and alias IDs, inbox, sessions and own events — no digest, secret or other person', async () => {
      // Rule (issue 14 §5, Art. 15/20): everything stored about the person, nothing about others, no digests or secrets.
      const me = await connected();
      const other = await connected();
      assert.equal(await relay(me.sub, 'For me'), 202);
      assert.equal(await relay(other.sub, 'For someone else'), 202);
      const res = await me.browser.request('/account/export');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-disposition')!, /^attachment; filename="alias-export-\d{4}-\d{2}-\d{2}\.json"$/);
      assert.match(res.headers.get('cache-control')!, /no-store/);
      assert.match(res.headers.get('content-type')!, /application\/json/);
      const raw = await res.text();
      const doc = JSON.parse(raw);
      assert.deepEqual(Object.keys(doc).sort(), ['apps', 'audit_events', 'exported_at', 'format', 'inbox', 'issuer', 'passkeys', 'profile', 'second_factor', 'sessions']);
      // Issue 15 §2: whether TOTP is on and how many recovery codes remain; never the key.
      assert.deepEqual(doc.second_factor, { totp: false, totp_enabled_at: null, recovery_codes_left: 0 });
      assert.equal(doc.profile.id, me.person.id);
      assert.equal(doc.profile.email, me.person.email);
      assert.equal(doc.profile.nickname, 'Ann');
      assert.equal(doc.profile.email_verified, true);
      assert.equal(doc.apps.length, 1);
      assert.equal(doc.apps[0].alias_id, me.sub);
      assert.equal(doc.apps[0].name, 'Newsy');
      assert.deepEqual([...doc.apps[0].scopes].sort(), ['contact', 'nickname', 'offline_access', 'openid']);
      assert.ok(doc.apps[0].channels.includes('news'));
      assert.ok(doc.apps[0].granted_at && doc.apps[0].last_used_at);
      assert.deepEqual(doc.inbox.map((m: { subject: string }) => m.subject), ['For me']);
      assert.equal(doc.inbox[0].body, 'Body of For me');
      assert.equal(doc.sessions.length, 1);
      assert.ok(doc.sessions[0].created_at && doc.sessions[0].signed_in_at && doc.sessions[0].expires_at);
      // The device as a coarse label and when the session was last used (migration 009).
      assert.equal(typeof doc.sessions[0].device, 'string');
      assert.ok(doc.sessions[0].last_seen_at);
      const types = new Set(doc.audit_events.map((e: { type: string }) => e.type));
      for (const t of ['login', 'consent.granted', 'token.issued']) assert.ok(types.has(t), `own ${t} event`);
      assert.ok(doc.audit_events.every((e: { alias_id: string | null }) => e.alias_id === null || e.alias_id === me.sub), 'only my alias ID');

      // No digests or secrets: the password hash, the session cookie and its digest, token digests, IP digests.
      const stored = (await alias.s.store.users.get(me.person.id))!;
      const cookie = [...me.browser.cookies].find(([k]) => /session/.test(k))![1];
      for (const secret of [stored.passwordHash, cookie, digest(cookie), me.tokens.access_token, digest(me.tokens.access_token),
        me.tokens.refresh_token, digest(me.tokens.refresh_token), me.person.password]) {
        assert.ok(!raw.includes(secret), `the export must not contain ${secret.slice(0, 12)}…`);
      }
      assert.doesNotMatch(raw, /password_?hash|passwordHash|ip_?digest|ipDigest|user_?ref|digest/i);
      const events = await alias.s.store.audit.query({ limit: 1000 });
      for (const e of events) if (e.ipDigest) assert.ok(!raw.includes(e.ipDigest), 'no IP digest');
      // Nobody else.
      for (const theirs of [other.person.email, other.person.id, other.sub, 'For someone else']) assert.ok(!raw.includes(theirs), `no ${theirs}`);
    });

    it('export after 10 minutes asks for the password again (counted like a sign-in), then downloads; next is a fixed local path', async () => {
      // Rule (issue 14 §5): re-authenticated within 10 minutes; the privileged session is refreshed by a new session.
      const me = await connected();
      alias.advance(REAUTH_WINDOW_MS + 60_000);
      const asked = await me.browser.follow('/account/export');
      assert.equal(asked.status, 200);
      assert.match(asked.url, /\/account\/reauth\?next=%2Faccount%2Fexport$/);
      assert.match(asked.html, /<label for="password">Password<\/label>/);
      assert.match(asked.html, /name="next" value="\/account\/export"/);
      const oldCookie = [...me.browser.cookies].find(([k]) => /session/.test(k))!;

      // A missing CSRF token changes nothing.
      const forged = await me.browser.follow('/account/reauth', { method: 'POST', headers: { 'content-type': form },
        body: new URLSearchParams({ password: me.person.password, next: '/account/export' }).toString() });
      assert.equal(forged.status, 403);
      const wrong = await me.browser.submit(asked, { password: 'not the password at all' });
      assert.equal(wrong.status, 400);
      assert.match(wrong.html, /id="password-error"[^>]*>That password is wrong/);
      const failed = await alias.s.store.audit.query({ clientId: undefined, limit: 5 });
      assert.ok(failed.some((e) => e.type === 'login' && e.outcome === 'failure' && e.detail === 'via=reauth'), 'audited like a sign-in');

      const done = await me.browser.submit(wrong, { password: me.person.password });
      assert.equal(done.status, 200);
      assert.match(done.url, /\/account\/export$/);
      assert.equal(exportOf(done).profile.email, me.person.email);
      const newCookie = [...me.browser.cookies].find(([k]) => /session/.test(k))!;
      assert.notEqual(newCookie[1], oldCookie[1], 'a new session id replaces the old one');
      const stale = new Browser(alias.issuer);
      stale.cookies.set(oldCookie[0], oldCookie[1]);
      assert.match((await stale.follow('/account')).html, /<h1>Sign in<\/h1>/, 'the replaced session no longer works');

      // Only listed local paths: anything else goes back to the account page.
      for (const next of ['https://evil.example/', '//evil.example', '/account/export/../../x', 'javascript:alert(1)']) {
        const p = await me.browser.follow('/account/reauth?' + new URLSearchParams({ next }));
        assert.match(p.html, /name="next" value="\/account"/, next);
      }
      // Signed out: no export, the sign-in page instead.
      const anon = await new Browser(alias.issuer).follow('/account/export');
      assert.match(anon.html, /<h1>Sign in<\/h1>/);
    });

    it('delete: refused without the typed confirmation or CSRF; asks for the password after 10 minutes', async () => {
      // Rule (issue 14 §5): typed confirmation, re-authenticated; a refused request changes nothing.
      const me = await connected();
      const account = await me.browser.follow('/account');
      assert.match(account.html, /<label for="delete-confirm">/);
      const csrf = csrfOf(account.html);
      const del = (body: Record<string, string>) => me.browser.follow('/account/delete', { method: 'POST', headers: { 'content-type': form },
        body: new URLSearchParams(body).toString() });
      assert.equal((await del({ confirm: me.person.email })).status, 403, 'no CSRF token');
      const missing = await del({ csrf });
      assert.equal(missing.status, 400);
      assert.match(missing.html, /id="confirm-error"/);
      assert.equal((await del({ csrf, confirm: 'DELETE' })).status, 400);
      const repeated = await me.browser.follow('/account/delete', { method: 'POST', headers: { 'content-type': form },
        body: `csrf=${encodeURIComponent(csrf)}&confirm=${encodeURIComponent(me.person.email)}&confirm=${encodeURIComponent(me.person.email)}` });
      assert.equal(repeated.status, 400, 'a repeated field is not a confirmation');
      assert.ok(await alias.s.store.users.get(me.person.id), 'still there');
      assert.equal((await post('/api/oauth2/introspect', { token: me.tokens.access_token })).body.active, true);

      alias.advance(REAUTH_WINDOW_MS + 60_000);
      const asked = await del({ csrf, confirm: me.person.email });
      assert.match(asked.url, /\/account\/reauth\?next=%2Faccount%2Fdelete$/);
      assert.ok(await alias.s.store.users.get(me.person.id), 'not deleted without a recent sign-in');
      const confirmPage = await me.browser.submit(asked, { password: me.person.password });
      assert.match(confirmPage.url, /\/account\/delete$/);
      assert.match(confirmPage.html, /<label for="confirm">/);
      const gone = await me.browser.submit(confirmPage, { confirm: me.person.email.toUpperCase() });
      assert.equal(gone.status, 200);
      assert.match(gone.html, /Your account was deleted/);
      assert.equal(await alias.s.store.users.get(me.person.id), undefined);
    });

    it('after deletion: tokens inactive, userinfo 401, refresh invalid_grant, relay 404, logout token sent, session dead, address free with a new alias ID', async () => {
      // Rule (issue 14 §5, Art. 17): everything tied to the account goes at once; apps are told; the address can sign up again.
      const me = await connected();
      assert.equal(await relay(me.sub, 'Hello'), 202);
      const cookie = [...me.browser.cookies].find(([k]) => /session/.test(k))!;
      const account = await me.browser.follow('/account');
      await alias.s.backchannel.runOnce(); // what earlier tests queued
      const before = logout.received.length;
      const gone = await me.browser.submit({ ...account, html: account.html.slice(account.html.indexOf('id="your-data"')) },
        { confirm: me.person.email });
      assert.equal(gone.status, 200);
      assert.match(gone.html, /Your account was deleted/);

      assert.deepEqual((await post('/api/oauth2/introspect', { token: me.tokens.access_token })).body, { active: false });
      assert.deepEqual((await post('/api/oauth2/introspect', { token: me.tokens.refresh_token })).body, { active: false });
      const info = await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${me.tokens.access_token}` } });
      assert.equal(info.status, 401);
      const refreshed = await post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: me.tokens.refresh_token });
      assert.equal(refreshed.body.error, 'invalid_grant');
      assert.equal(await relay(me.sub, 'Anyone there?'), 404);

      // The app's back-channel logout endpoint gets a signed logout token naming the alias ID.
      await alias.s.backchannel.runOnce();
      assert.equal(logout.received.length, before + 1);
      const { payload } = await jwtVerify(logout.received.at(-1)!, createRemoteJWKSet(new URL(`${alias.issuer}/oauth2/jwks`)),
        { issuer: alias.issuer, audience: app.client.id, typ: 'logout+jwt' });
      assert.equal(payload.sub, me.sub);

      // The old session cookie no longer signs anyone in.
      const stale = new Browser(alias.issuer);
      stale.cookies.set(cookie[0], cookie[1]);
      assert.match((await stale.follow('/account')).html, /<h1>Sign in<\/h1>/);
      assert.equal((await stale.request('/account/export')).status, 303);

      // Nothing of the account is left but the audit log's digests and alias IDs.
      assert.deepEqual(await alias.s.store.grants.listByUser(me.person.id), []);
      assert.deepEqual(await alias.s.store.messages.listByUser(me.person.id, 10), []);
      assert.deepEqual(await alias.s.store.sessions.listByUser(me.person.id, alias.s.now()), []);
      const [deleted] = await alias.s.store.audit.query({ user: { subs: [], userRef: alias.s.audit.userRef(me.person.id) }, limit: 1 });
      assert.equal(deleted!.type, 'account.deleted');
      assert.match(deleted!.detail!, /via=account apps=1 notified=1/);
      assert.equal(deleted!.sub, null);

      // A notice goes to the old address, once the worker runs (relayed messages go first).
      await alias.s.relayWorker.runOnce();
      const isNotice = (m: SmtpSink['received'][number]) => m.mail.subject === 'Your Alias account was deleted' && m.envelope.to[0] === me.person.email;
      for (const until = Date.now() + 5_000; !smtp.received.some(isNotice) && Date.now() < until;) await new Promise((r) => setTimeout(r, 20));
      const notice = smtp.received.find(isNotice);
      assert.ok(notice, 'deletion notice sent to the old address');
      assert.match(notice.mail.text!, /deleted/);

      // The address can be used again: a new person, with a new alias ID at the same app.
      const again = await alias.user({ email: me.person.email, password: 'another long passphrase 42' });
      assert.notEqual(again.id, me.person.id);
      const reconnected = await connected(again);
      assert.notEqual(reconnected.sub, me.sub);
      assert.equal(await relay(me.sub, 'Old alias ID'), 404, 'the old alias ID stays dead');
    });
  });
}
