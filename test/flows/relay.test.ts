// The contact relay over HTTP, on SQLite and PostgreSQL: apps send messages through
// POST /api/v1/messages, the delivery worker mails them through a real SMTP server
// (smtp-server on 127.0.0.1), and tests assert what arrived. User tokens come from the
// authorization code flow through Alias's real pages.
import { describe, it, before, after } from 'node:test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { startSmtpSink, type Received, type SmtpSink } from '../helpers/smtp.js';
import { createServices } from '../../src/services.js';
import { createRelayWorker } from '../../src/relay/worker.js';
import { createMailTransport } from '../../src/mail/transport.js';
import { unsubscribeToken } from '../../src/relay/unsubscribe_token.js';
import type { Client } from '../../src/store/types.js';
import { basic } from '../helpers/bad_input.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const APP = 'Acme Weather';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

/** The raw header block, unfolded. */
const headerBlock = (r: Received) => r.raw.split(/\r?\n\r?\n/)[0]!.replace(/\r?\n[ \t]+/g, ' ');
const header = (r: Received, name: string) =>
  new RegExp(`^${name}: (.*)$`, 'mi').exec(headerBlock(r))?.[1]?.trim();

for (const kind of databaseKinds()) {
  describe(`contact relay (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    let endpoint: string;
    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
      const meta = await (await fetch(`${alias.issuer}/.well-known/openid-configuration`)).json();
      endpoint = meta.alias_messages_endpoint;
      alias.s.relayWorker.start();
    });
    after(async () => {
      await alias?.s.relayWorker.stop();
      await alias?.close();
      await smtp?.close();
    });

    async function newClient(): Promise<{ client: Client; secret: string }> {
      const { client, secret } = await alias.client({
        name: APP, redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'],
        channels: ['news:Product news', 'billing:Invoices'],
      });
      return { client, secret: secret! };
    }

    /** A user signs in to the app and consents on the real pages; the app gets tokens. */
    async function signIn(opts: { scope: string; channels?: string; untick?: string[]; app?: { client: Client; secret: string } }) {
      const { client, secret } = opts.app ?? await newClient();
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({
        response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, scope: opts.scope, state: 's',
        ...(opts.channels ? { channels: opts.channels } : {}),
      }));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      assert.equal(consent.status, 200, consent.html);
      const done = await browser.submit(consent, {
        decision: 'allow',
        scope: checkboxes(consent.html, 'scope').map((c) => c.value).filter((v) => !opts.untick?.includes(v)),
        channel: checkboxes(consent.html, 'channel').map((c) => c.value).filter((v) => !opts.untick?.includes(v)),
      });
      const code = new URL(done.url).searchParams.get('code');
      assert.ok(code, `back at the app with a code, not ${done.url}`);
      const res = await fetch(`${alias.issuer}/api/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, secret) },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT }),
      });
      assert.equal(res.status, 200);
      const tokens = await res.json();
      const sub = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString()).sub as string;
      const grant = (await alias.s.store.grants.getBySub(client.id, sub))!;
      return { client, secret, user, accessToken: tokens.access_token as string, sub, grant, browser };
    }

    async function send(auth: string | undefined, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}), ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let json: Record<string, unknown> = {};
      try {
        json = text ? JSON.parse(text) : {};
      } catch {
        assert.fail(`not JSON (${res.status}): ${text}`);
      }
      return { status: res.status, headers: res.headers, json };
    }

    const bearer = (token: string) => `Bearer ${token}`;
    const msg = (to: string, channel = 'news', extra: Record<string, unknown> = {}) =>
      ({ to, channel, subject: 'Hello', body: 'A message body.', ...extra });

    function refused(a: Answer, status: number, error: string) {
      assert.equal(a.status, status, JSON.stringify(a.json));
      assert.equal(a.json.error, error);
      assert.match(a.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(a.headers.get('cache-control'), 'no-store');
    }

    /** 403 insufficient_scope with nothing in it about the user. */
    function forbidden(a: Answer, user: { email: string }, sub: string, viaBearer: boolean) {
      refused(a, 403, 'insufficient_scope');
      assert.deepEqual(Object.keys(a.json).sort(), ['error', 'error_description']);
      const text = JSON.stringify(a.json);
      assert.ok(!text.includes(user.email) && !text.includes(sub), 'no hint about the user');
      if (viaBearer) assert.match(a.headers.get('www-authenticate') ?? '', /^Bearer .*error="insufficient_scope"/);
    }

    const mailFor = async (id: string, timeoutMs = 5_000): Promise<Received> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = smtp.received.find((r) => r.mail.messageId?.includes(id));
        if (found) return found;
        if (Date.now() > deadline) assert.fail(`no mail for message ${id} within ${timeoutMs} ms`);
        await sleep(10);
      }
    };
    const mailsFor = (id: string) => smtp.received.filter((r) => r.mail.messageId?.includes(id));

    async function statusOf(id: string, wanted: string, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = await alias.s.store.messages.get(id);
        if (m?.status === wanted) return m;
        if (Date.now() > deadline) assert.fail(`message ${id} is ${m?.status}, not ${wanted}`);
        await sleep(20);
      }
    }

    it('discovery lists alias_messages_endpoint', () => {
      assert.equal(endpoint, `${alias.issuer}/api/v1/messages`);
    });

    it('a user token sends on a granted channel; the mail arrives within 2 s, names app and channel, and unsubscribes in one click', async () => {
      const u = await signIn({ scope: 'openid contact', channels: 'news billing' });
      const subject = 'Ünïcode “quotes” <b>not html</b> & 🎉 — week 42 = 100% [sale]';
      const body = 'Hello!\nLine two with ünïcode ✓, <tags> & ampersands.\n\n  An indented line; =3D is not QP.\nhttps://app.example/x?a=1&b=2';
      const started = Date.now();
      const a = await send(bearer(u.accessToken), { to: u.sub, channel: 'news', subject, body });
      assert.equal(a.status, 202, JSON.stringify(a.json));
      assert.deepEqual(Object.keys(a.json).sort(), ['id', 'status']);
      assert.equal(a.json.status, 'queued');
      assert.equal(a.headers.get('cache-control'), 'no-store');
      const id = a.json.id as string;
      const r = await mailFor(id, 2_000);
      assert.ok(Date.now() - started < 2_000, `delivered ${Date.now() - started} ms after acceptance`);

      assert.deepEqual(r.envelope.to, [u.user.email], 'sent to the real address');
      assert.equal(r.mail.to && !Array.isArray(r.mail.to) ? r.mail.to.text : '', u.user.email);
      assert.ok(r.mail.subject?.includes(subject), `Subject ${r.mail.subject}`);
      assert.ok(r.mail.text?.includes(body), `text part:\n${r.mail.text}`);
      assert.ok(r.mail.text?.includes(APP), 'names the app');
      assert.ok(r.mail.text?.includes('Product news') && r.mail.text.includes('(news)'), 'names the channel');
      assert.ok(r.mail.text?.includes(`${alias.issuer}/account`), 'points to the account page');
      assert.match(r.mail.from?.text ?? '', new RegExp(`${APP} via Alias`));
      assert.ok(!r.mail.from?.text.includes(u.user.email));
      assert.equal(header(r, 'List-Unsubscribe-Post'), 'List-Unsubscribe=One-Click');
      const unsubscribe = /^<(.+)>$/.exec(header(r, 'List-Unsubscribe') ?? '')?.[1] ?? '';
      assert.ok(unsubscribe.startsWith(`${alias.issuer}/unsubscribe/`), `List-Unsubscribe ${header(r, 'List-Unsubscribe')}`);
      assert.ok(!unsubscribe.includes(u.user.email) && !unsubscribe.includes(u.sub));
      const row = await statusOf(id, 'sent');
      assert.equal(row.attempts, 1);
      assert.ok(row.deliveredAt);

      // RFC 8058: the mail provider POSTs List-Unsubscribe=One-Click, without any cookie.
      const res = await fetch(unsubscribe, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click', redirect: 'manual',
      });
      assert.equal(res.status, 200);
      assert.match(await res.text(), /unsubscribed/i);
      const grant = await alias.s.store.grants.getBySub(u.client.id, u.sub);
      assert.deepEqual(new Set(grant!.channels), new Set(['_meta', 'billing']), 'only that channel was taken back');
      assert.ok(grant!.scopes.includes('contact'));
      forbidden(await send(bearer(u.accessToken), { to: u.sub, channel: 'news', subject, body }), u.user, u.sub, true);
      assert.equal((await send(bearer(u.accessToken), msg(u.sub, 'billing'))).status, 202, 'other channels still work');
      // Posting again is harmless.
      const again = await fetch(unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      assert.equal(again.status, 200);
    });

    it('the unsubscribe page changes nothing on GET; its form works only with its CSRF token; multipart one-click works', async () => {
      const u = await signIn({ scope: 'openid contact', channels: 'news billing' });
      const a = await send(bearer(u.accessToken), msg(u.sub, 'billing'));
      const r = await mailFor(a.json.id as string);
      const url = /^<(.+)>$/.exec(header(r, 'List-Unsubscribe')!)![1]!;
      const browser = new Browser(alias.issuer);
      const page = await browser.follow(url);
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      assert.match(page.html, /name="csrf"/);
      assert.match(page.html, new RegExp(APP));
      assert.match(page.html, /Invoices/);
      const channels = async () => new Set((await alias.s.store.grants.getBySub(u.client.id, u.sub))!.channels);
      assert.deepEqual(await channels(), new Set(['_meta', 'news', 'billing']), 'GET changed nothing');

      // A form post without the page's CSRF token (and not a one-click request) is refused.
      const forged = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'confirm=yes' });
      assert.equal(forged.status, 403);
      const wrong = await browser.submit(page, { csrf: 'x'.repeat(43) });
      assert.equal(wrong.status, 403);
      assert.deepEqual(await channels(), new Set(['_meta', 'news', 'billing']), 'a failed CSRF check changes nothing');

      const done = await browser.submit(page, {});
      assert.equal(done.status, 200, done.html);
      assert.match(done.html, /unsubscribed/i);
      assert.deepEqual(await channels(), new Set(['_meta', 'news']));

      // RFC 8058 also allows multipart/form-data.
      const news = unsubscribeToken(alias.s.secrets, { userId: u.user.id, clientId: u.client.id, channel: 'news' });
      const fd = new FormData();
      fd.set('List-Unsubscribe', 'One-Click');
      const multi = await fetch(`${alias.issuer}/unsubscribe/${news}`, { method: 'POST', body: fd });
      assert.equal(multi.status, 200);
      assert.deepEqual(await channels(), new Set(['_meta']));
    });

    it('altered links and _meta links are refused with a 400 page and change nothing', async () => {
      const u = await signIn({ scope: 'openid contact', channels: 'news' });
      const good = unsubscribeToken(alias.s.secrets, { userId: u.user.id, clientId: u.client.id, channel: 'news' });
      const [v, payload, mac] = good.split('.');
      const other = Buffer.from(JSON.stringify([u.user.id, u.client.id, 'billing'])).toString('base64url');
      for (const bad of [`${v}.${other}.${mac}`, `${v}.${payload}.${mac!.slice(0, -2)}AA`, 'nonsense', `${good}.x`]) {
        const res = await fetch(`${alias.issuer}/unsubscribe/${bad}`, {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click',
        });
        assert.equal(res.status, 400, bad);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
        assert.equal((await fetch(`${alias.issuer}/unsubscribe/${bad}`)).status, 400);
      }
      const meta = unsubscribeToken(alias.s.secrets, { userId: u.user.id, clientId: u.client.id, channel: '_meta' });
      const get = await fetch(`${alias.issuer}/unsubscribe/${meta}`);
      assert.equal(get.status, 400);
      assert.doesNotMatch(await get.text(), /<form/);
      const post = await fetch(`${alias.issuer}/unsubscribe/${meta}`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click',
      });
      assert.equal(post.status, 400);
      const grant = await alias.s.store.grants.getBySub(u.client.id, u.sub);
      assert.deepEqual(new Set(grant!.channels), new Set(['_meta', 'news']));
      assert.ok(grant!.scopes.includes('contact'));
    });

    it('_meta is always allowed with contact, and its mail has no one-click unsubscribe', async () => {
      const u = await signIn({ scope: 'openid contact', channels: 'news', untick: ['news'] });
      assert.deepEqual(u.grant.channels, ['_meta']);
      const a = await send(bearer(u.accessToken), msg(u.sub, '_meta', { subject: 'Our terms change', body: 'New terms from May.' }));
      assert.equal(a.status, 202, JSON.stringify(a.json));
      const r = await mailFor(a.json.id as string);
      assert.ok(r.mail.text?.includes('New terms from May.'));
      assert.ok(r.mail.text?.includes(APP) && r.mail.text.includes('_meta'));
      assert.equal(header(r, 'List-Unsubscribe'), undefined);
      forbidden(await send(bearer(u.accessToken), msg(u.sub, 'news')), u.user, u.sub, true);
      // Without contact, not even _meta.
      await alias.s.consent.revokeScope(u.user.id, u.grant.id, 'contact');
      forbidden(await send(bearer(u.accessToken), msg(u.sub, '_meta')), u.user, u.sub, true);
    });

    it('a user token needs contact and the channel, may message only its own user, and loses revoked rights at once', async () => {
      const noContact = await signIn({ scope: 'openid' });
      forbidden(await send(bearer(noContact.accessToken), msg(noContact.sub)), noContact.user, noContact.sub, true);
      forbidden(await send(bearer(noContact.accessToken), msg(noContact.sub, '_meta')), noContact.user, noContact.sub, true);

      const app = await newClient();
      const u = await signIn({ scope: 'openid contact', channels: 'news billing', untick: ['billing'], app });
      const other = await signIn({ scope: 'openid contact', channels: 'news billing', app });
      assert.equal((await send(bearer(u.accessToken), msg(u.sub))).status, 202);
      forbidden(await send(bearer(u.accessToken), msg(u.sub, 'billing')), u.user, u.sub, true);
      forbidden(await send(bearer(u.accessToken), msg(u.sub, 'unknown-channel')), u.user, u.sub, true);
      // Another user of the same app, or an alias ID that does not exist: 403 all the same.
      forbidden(await send(bearer(u.accessToken), msg(other.sub)), other.user, other.sub, true);
      forbidden(await send(bearer(u.accessToken), msg('not-an-alias-id')), u.user, u.sub, true);

      // The user revokes the channel (as from the account page): the next send is refused.
      assert.ok(await alias.s.consent.revokeChannel(u.user.id, u.grant.id, 'news'));
      forbidden(await send(bearer(u.accessToken), msg(u.sub)), u.user, u.sub, true);
      assert.equal((await send(bearer(u.accessToken), msg(u.sub, '_meta'))).status, 202, '_meta stays with contact');
      // The whole app: the token dies with the grant.
      assert.ok(await alias.s.consent.revokeApp(u.user.id, u.grant.id));
      const gone = await send(bearer(u.accessToken), msg(u.sub, '_meta'));
      refused(gone, 401, 'invalid_token');
    });

    it('client authentication alone needs offline_access, contact and the channel; unknown or foreign alias IDs are 404', async () => {
      const app = await newClient();
      const auth = basic(app.client.id, app.secret);
      const online = await signIn({ scope: 'openid contact', channels: 'news', app });
      forbidden(await send(auth, msg(online.sub)), online.user, online.sub, false);
      forbidden(await send(auth, msg(online.sub, '_meta')), online.user, online.sub, false);

      const offline = await signIn({ scope: 'openid offline_access contact', channels: 'news', app });
      const a = await send(auth, msg(offline.sub, 'news', { subject: 'While you were away', body: 'Sent with client credentials only.' }));
      assert.equal(a.status, 202, JSON.stringify(a.json));
      const r = await mailFor(a.json.id as string);
      assert.deepEqual(r.envelope.to, [offline.user.email]);
      assert.equal((await send(auth, msg(offline.sub, '_meta'))).status, 202);
      forbidden(await send(auth, msg(offline.sub, 'billing')), offline.user, offline.sub, false);
      forbidden(await send(auth, msg(offline.sub, 'unknown-channel')), offline.user, offline.sub, false);

      // Alias IDs this client does not know: 404, whether they exist elsewhere or not.
      refused(await send(auth, msg('no-such-alias-id')), 404, 'invalid_request');
      const elsewhere = await signIn({ scope: 'openid offline_access contact', channels: 'news' });
      const foreign = await send(auth, msg(elsewhere.sub));
      refused(foreign, 404, 'invalid_request');
      assert.deepEqual(foreign.json, (await send(auth, msg('no-such-alias-id'))).json, 'the same answer: nothing to probe');
      // The other app cannot reach this app's user either.
      refused(await send(basic(elsewhere.client.id, elsewhere.secret), msg(offline.sub)), 404, 'invalid_request');

      // Revoking offline_access stops client-only sends; the user's token still works.
      await alias.s.consent.revokeScope(offline.user.id, offline.grant.id, 'offline_access');
      forbidden(await send(auth, msg(offline.sub)), offline.user, offline.sub, false);
      assert.equal((await send(bearer(offline.accessToken), msg(offline.sub))).status, 202);

      // Wrong secrets, other schemes, no credentials.
      const wrong = await send(basic(app.client.id, 'wrong-secret'), msg(offline.sub));
      refused(wrong, 401, 'invalid_client');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic/);
      refused(await send('Digest abc', msg(offline.sub)), 401, 'invalid_client');
      const none = await send(undefined, msg(offline.sub));
      assert.equal(none.status, 401);
      assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
      refused(await send(bearer('not-a-real-token'), msg(offline.sub)), 401, 'invalid_token');
    });

    it('bad input: 400 for malformed JSON and fields, 413 beyond the limits, 415 for other content types', async () => {
      const u = await signIn({ scope: 'openid contact', channels: 'news' });
      const auth = bearer(u.accessToken);
      refused(await send(auth, '{"to":'), 400, 'invalid_request');
      refused(await send(auth, '[]'), 400, 'invalid_request');
      refused(await send(auth, 'null'), 400, 'invalid_request');
      refused(await send(auth, '"text"'), 400, 'invalid_request');
      for (const field of ['to', 'channel', 'subject', 'body']) {
        const m: Record<string, unknown> = msg(u.sub);
        delete m[field];
        refused(await send(auth, m), 400, 'invalid_request');
        refused(await send(auth, { ...msg(u.sub), [field]: 42 }), 400, 'invalid_request');
        refused(await send(auth, { ...msg(u.sub), [field]: ['x'] }), 400, 'invalid_request');
      }
      refused(await send(auth, msg(u.sub, 'news', { subject: 'two\r\nlines' })), 400, 'invalid_request');
      refused(await send(auth, msg(u.sub, 'news', { subject: 'Bcc: x\nInjected' })), 400, 'invalid_request');
      refused(await send(auth, msg(u.sub, 'news', { subject: '' })), 400, 'invalid_request');
      refused(await send(auth, msg(u.sub, 'news', { body: 'nul \u0000 byte' })), 400, 'invalid_request');
      refused(await send(auth, msg(u.sub, 'news', { body: 'lone \ud800 surrogate' })), 400, 'invalid_request');
      refused(await send(auth, msg(u.sub, 'news', { subject: 'x'.repeat(201) })), 413, 'invalid_request');
      refused(await send(auth, msg(u.sub, 'news', { body: 'x'.repeat(64 * 1024 + 1) })), 413, 'invalid_request');
      refused(await send(auth, msg(u.sub, 'news', { body: 'é'.repeat(32 * 1024 + 1) })), 413, 'invalid_request');
      refused(await send(auth, msg(u.sub), { 'idempotency-key': 'k'.repeat(256) }), 400, 'invalid_request');
      const wrongType = await fetch(endpoint, { method: 'POST', headers: { authorization: auth, 'content-type': 'text/plain' }, body: JSON.stringify(msg(u.sub)) });
      assert.equal(wrongType.status, 415);
      assert.equal((await wrongType.json()).error, 'invalid_request');
      // At the limits exactly: accepted.
      assert.equal((await send(auth, msg(u.sub, 'news', { subject: '🎉'.repeat(200) }))).status, 202);
      const big = await send(auth, msg(u.sub, 'news', { body: 'x'.repeat(64 * 1024) }));
      assert.equal(big.status, 202);
      const r = await mailFor(big.json.id as string);
      assert.ok(r.mail.text?.includes('x'.repeat(64 * 1024)));
    });

    it('Idempotency-Key: a retry returns the first result and nothing is sent twice', async () => {
      const u = await signIn({ scope: 'openid offline_access contact', channels: 'news' });
      const auth = basic(u.client.id, u.secret);
      const m = msg(u.sub, 'news', { subject: 'Once only', body: 'Exactly once.' });
      const first = await send(auth, m, { 'idempotency-key': 'order-17' });
      assert.equal(first.status, 202);
      const second = await send(auth, m, { 'idempotency-key': 'order-17' });
      assert.equal(second.status, 202);
      assert.deepEqual(second.json, first.json);
      // The same key through the user's token is the same client: the same answer.
      const third = await send(bearer(u.accessToken), m, { 'idempotency-key': 'order-17' });
      assert.deepEqual(third.json, first.json);
      // Concurrent retries.
      const racing = await Promise.all(Array.from({ length: 5 }, () => send(auth, { ...m, subject: 'Raced' }, { 'idempotency-key': 'order-18' })));
      assert.ok(racing.every((a) => a.status === 202), JSON.stringify(racing.map((a) => a.json)));
      assert.equal(new Set(racing.map((a) => a.json.id)).size, 1, 'one message for one key');
      // A different message under a used key is refused.
      refused(await send(auth, { ...m, body: 'Something else' }, { 'idempotency-key': 'order-17' }), 422, 'invalid_request');
      assert.equal(await alias.s.store.messages.countSince(u.client.id, 0), 2);
      await mailFor(first.json.id as string);
      await mailFor(racing[0]!.json.id as string);
      await sleep(1_200);
      assert.equal(mailsFor(first.json.id as string).length, 1, 'mailed once');
      assert.equal(mailsFor(racing[0]!.json.id as string).length, 1, 'mailed once');
    });

    it('rate limits: 10 a minute per user and 60 a minute per client, with 429 and Retry-After', async () => {
      const app = await newClient();
      const auth = basic(app.client.id, app.secret);
      const u = await signIn({ scope: 'openid offline_access contact', channels: 'news', app });
      for (let i = 0; i < 10; i++) assert.equal((await send(auth, msg(u.sub, 'news', { subject: `n${i}` }), { 'idempotency-key': `k${i}` })).status, 202);
      const limited = await send(auth, msg(u.sub));
      refused(limited, 429, 'too_many_requests');
      const retry = Number(limited.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 60, `Retry-After ${limited.headers.get('retry-after')}`);
      assert.equal((await send(auth, msg(u.sub, 'news', { subject: 'n3' }), { 'idempotency-key': 'k3' })).status, 202, 'a replay is not a new message');
      alias.advance(retry * 1000 + 1);
      assert.equal((await send(auth, msg(u.sub))).status, 202, 'allowed again after Retry-After');

      // 60 a minute for the whole client: six more users with ten messages each.
      alias.advance(61_000);
      const users = [];
      for (let i = 0; i < 7; i++) {
        const user = await alias.user();
        const grant = await alias.s.consent.record({ userId: user.id, clientId: app.client.id,
          requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
          approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
        users.push(grant.sub);
      }
      for (const sub of users.slice(0, 6)) {
        const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => send(auth, msg(sub, 'news', { subject: `bulk ${i}` }))));
        assert.ok(answers.every((a) => a.status === 202), JSON.stringify(answers.map((a) => a.status)));
      }
      const clientLimited = await send(auth, msg(users[6]!));
      refused(clientLimited, 429, 'too_many_requests');
      assert.ok(Number(clientLimited.headers.get('retry-after')) >= 1);
      alias.advance(61_000);
      assert.equal((await send(auth, msg(users[6]!))).status, 202);
    });

    it('delivery retries temporary SMTP failures with back-off and marks permanent ones failed', async () => {
      const u = await signIn({ scope: 'openid contact', channels: 'news' });
      smtp.refuseWith = 451;
      let a;
      try {
        a = await send(bearer(u.accessToken), msg(u.sub, 'news', { subject: 'Try again' }));
        const deadline = Date.now() + 5_000;
        let row = await alias.s.store.messages.get(a.json.id as string);
        while (row!.attempts < 1 && Date.now() < deadline) {
          await sleep(20);
          row = await alias.s.store.messages.get(a.json.id as string);
        }
        assert.equal(row!.status, 'queued');
        assert.equal(row!.attempts, 1);
        assert.match(row!.lastError ?? '', /451/);
        assert.ok(row!.nextAttemptAt >= alias.s.now() + 3_000, 'backs off');
      } finally {
        smtp.refuseWith = undefined;
      }
      alias.advance(5_001);
      const sent = await statusOf(a.json.id as string, 'sent');
      assert.equal(sent.attempts, 2);
      assert.equal(mailsFor(a.json.id as string).length, 1);

      smtp.refuseWith = 550;
      try {
        const b = await send(bearer(u.accessToken), msg(u.sub, 'news', { subject: 'No such mailbox' }));
        const failed = await statusOf(b.json.id as string, 'failed');
        assert.equal(failed.attempts, 1);
        assert.match(failed.lastError ?? '', /550/);
      } finally {
        smtp.refuseWith = undefined;
      }
    });

    it('two workers over the same outbox never mail a message twice; a channel revoked before delivery is not mailed', async () => {
      const app = await newClient();
      const auth = basic(app.client.id, app.secret);
      const subs: { sub: string; userId: string; grantId: string }[] = [];
      for (let i = 0; i < 3; i++) {
        const user = await alias.user();
        const grant = await alias.s.consent.record({ userId: user.id, clientId: app.client.id,
          requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
          approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
        subs.push({ sub: grant.sub, userId: user.id, grantId: grant.id });
      }
      await alias.s.relayWorker.stop();
      const second = await createServices(alias.s.config, { now: alias.s.now, schema: alias.db.schema, migrate: false });
      try {
        const ids: string[] = [];
        for (const { sub } of subs) {
          for (let i = 0; i < 10; i++) ids.push((await send(auth, msg(sub, 'news', { subject: `race ${i}` }))).json.id as string);
        }
        await alias.s.consent.revokeChannel(subs[2]!.userId, subs[2]!.grantId, 'news');
        // Two independent workers (two database pools), racing until the outbox is empty.
        const w1 = createRelayWorker({ store: alias.s.store, secrets: alias.s.secrets, issuer: alias.issuer, now: alias.s.now, transport: createMailTransport({ smtpUrl: smtp.url }) });
        const w2 = createRelayWorker({ store: second.store, secrets: second.secrets, issuer: alias.issuer, now: second.now, transport: createMailTransport({ smtpUrl: smtp.url }) });
        const drain = async (w: typeof w1) => {
          let n = 0;
          for (let k; (k = await w.runOnce()) > 0;) n += k;
          return n;
        };
        const [n1, n2] = await Promise.all([drain(w1), drain(w2)]);
        assert.equal(n1 + n2, 30, `each message claimed once (${n1} + ${n2})`);
        for (const id of ids.slice(0, 20)) assert.equal(mailsFor(id).length, 1, `message ${id} mailed once`);
        for (const id of ids.slice(20)) {
          assert.equal(mailsFor(id).length, 0, 'not mailed after the user revoked the channel');
          const m = await alias.s.store.messages.get(id);
          assert.equal(m!.status, 'failed');
          assert.match(m!.lastError ?? '', /revoked/);
        }
        assert.equal(await w1.runOnce() + await w2.runOnce(), 0);
      } finally {
        await second.close();
        alias.s.relayWorker.start();
      }
    });

    it('without ALIAS_SMTP_URL: an .eml file in the mail folder beside the SQLite database; inbox only on PostgreSQL', async () => {
      const bare = await startAlias(kind);
      try {
        const { client, secret } = await bare.client({ redirectUris: [REDIRECT], channels: ['news'] });
        const user = await bare.user();
        const grant = await bare.s.consent.record({ userId: user.id, clientId: client.id,
          requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
          approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
        const before = smtp.received.length;
        const res = await fetch(`${bare.issuer}/api/v1/messages`, {
          method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(client.id, secret!) },
          body: JSON.stringify(msg(grant.sub, 'news', { subject: 'Inbox only' })),
        });
        assert.equal(res.status, 202);
        const mailDir = bare.s.config.mailDir;
        // PostgreSQL has no data folder: without ALIAS_MAIL_DIR nothing is mailed.
        assert.equal(bare.s.relayWorker.smtp, mailDir !== undefined);
        assert.equal(mailDir === undefined, kind.name === 'postgres');
        assert.equal(await bare.s.relayWorker.runOnce(), 1);
        const [m] = await bare.s.store.messages.listByUser(user.id, 10);
        assert.equal(m!.subject, 'Inbox only');
        assert.equal(m!.status, 'sent');
        assert.equal(smtp.received.length, before, 'no SMTP mail');
        if (mailDir) {
          assert.equal(statSync(mailDir).mode & 0o777, 0o700);
          const files = readdirSync(mailDir).filter((f) => f.endsWith('.eml'));
          assert.equal(files.length, 1);
          assert.equal(statSync(join(mailDir, files[0]!)).mode & 0o777, 0o600);
          const eml = readFileSync(join(mailDir, files[0]!), 'utf8');
          assert.match(eml, /^Subject: Inbox only$/m);
          assert.match(eml, new RegExp(`^To: ${user.email}$`, 'm'));
        }
      } finally {
        await bare.close();
      }
    });
  });
}
