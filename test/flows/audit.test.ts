// The audit log, driven through the real HTTP surface (pages, token, revocation) on
// SQLite and PostgreSQL: each security event appears once, naming the user only by their
// alias ID at the app (or a keyed digest without an app) and the caller only by a keyed
// digest of the address; no address, e-mail, user id, password, secret or token is stored.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';
import { IP_PURPOSE, USER_PURPOSE } from '../../src/audit/audit.js';
import type { AuditEvent } from '../../src/store/types.js';

// Behind a trusted proxy the address comes from X-Forwarded-For, so the test can pick one
// that appears nowhere else (TEST-NET-3, RFC 5737). Each test file is its own process.
process.env.ALIAS_TRUST_PROXY = '1';
const IP = '203.0.113.77';
const CB = 'https://rp.example/cb';

/** A browser whose every request comes from IP. */
class RemoteBrowser extends Browser {
  override request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', IP);
    return super.request(url, { ...init, headers });
  }
}

/** type/outcome/detail of each event, sorted: events of one request can share a millisecond. */
const summary = (events: AuditEvent[]) => events.map((e) => `${e.type} ${e.outcome} ${e.detail ?? ''}`.trim()).sort();

for (const kind of databaseKinds()) {
  describe(`audit log (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias?.close());

    const ipDigest = () => alias.s.secrets.mac(IP_PURPOSE, IP);
    const events = (clientId: string) => alias.s.store.audit.query({ clientId, limit: 100 });
    const form = (secret: string, clientId: string) => (path: string, body: Record<string, string>) => fetch(alias.issuer + path, {
      method: 'POST', body: new URLSearchParams(body),
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': IP,
        authorization: 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64') },
    });

    /** Nothing sensitive anywhere in the table. */
    async function assertNothingLeaks(secrets: string[]) {
      const rows = JSON.stringify(await alias.s.db.kysely.selectFrom('audit_events').selectAll().execute());
      for (const s of [IP, ...secrets]) assert.ok(!rows.includes(s), `the audit log contains '${s}'`);
    }

    it('sign-in, consent, code exchange, refresh, reuse of a refresh token and of a code, revocation', async () => {
      const { client, secret } = await alias.client({ name: 'Audited', redirectUris: [CB],
        grantTypes: ['authorization_code', 'refresh_token'], channels: ['news:News'] });
      const user = await alias.user();
      const post = form(secret!, client.id);
      const browser = new RemoteBrowser(alias.issuer);
      const authorize = '/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: CB,
        scope: 'openid nickname contact offline_access', channels: 'news' });
      const login = await browser.follow(authorize);
      const wrong = await browser.submit(login, { email: user.email, password: 'not the password at all' });
      assert.equal(wrong.status, 401);
      const consent = await browser.submit(wrong, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: ['nickname', 'contact', 'offline_access'], channel: ['news'] });
      const code = new URL(done.url).searchParams.get('code')!;
      const exchange = (c: string) => post('/api/oauth2/token', { grant_type: 'authorization_code', code: c, redirect_uri: CB });
      const tokens = await (await exchange(code)).json() as Record<string, string>;
      const refreshed = await (await post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })).json();
      assert.ok(refreshed.access_token);
      // Past the window in which a retry after a lost answer is allowed (docs/security.md): a reuse.
      alias.advance(10_000);
      assert.equal((await post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })).status, 400);
      assert.equal((await exchange(code)).status, 400);
      // A remembered grant and a session: the second code comes at once.
      const again = await browser.follow(authorize);
      const code2 = new URL(again.url).searchParams.get('code')!;
      const tokens2 = await (await exchange(code2)).json() as Record<string, string>;
      assert.equal((await post('/api/oauth2/revoke', { token: tokens2.refresh_token!, token_type_hint: 'refresh_token' })).status, 200);
      assert.equal((await post('/api/oauth2/revoke', { token: tokens2.refresh_token! })).status, 200, 'again: no second event');

      const grant = (await alias.s.store.grants.get(user.id, client.id))!;
      const log = await events(client.id);
      assert.deepEqual(summary(log), [
        'code.reused failure family=revoked',
        'consent.granted success scopes=openid,nickname,contact,offline_access channels=_meta,news via=authorize',
        'login failure via=authorize',
        'login success via=authorize',
        'refresh_token.reused failure family=revoked',
        'token.issued success grant_type=authorization_code',
        'token.issued success grant_type=authorization_code',
        'token.issued success grant_type=refresh_token',
        'token.revoked success token_type=refresh_token',
      ]);
      for (const e of log) {
        assert.equal(e.sub, grant.sub, `${e.type}: the user's alias ID at this app`);
        assert.equal(e.userRef, null, `${e.type}: no user digest where there is an alias ID`);
        assert.equal(e.ipDigest, ipDigest(), `${e.type}: the keyed digest of the address`);
      }
      assert.ok(log.every((e, i) => i === 0 || log[i - 1]!.at >= e.at), 'newest first');
      await assertNothingLeaks([user.email, user.id, user.password, 'not the password', secret!, code, code2,
        tokens.access_token!, tokens.refresh_token!, tokens2.refresh_token!]);
    });

    it('the account page: sign-in (a user digest), revoking a channel, a scope and the app; sign out everywhere', async () => {
      const { client } = await alias.client({ name: 'Revoked', redirectUris: [CB], channels: ['news:News', 'tips:Tips'] });
      const user = await alias.user();
      const grant = await alias.s.consent.record({ userId: user.id, clientId: client.id, requestedScopes: [], requestedChannels: [],
        approvedScopes: ['openid', 'nickname', 'contact'], approvedChannels: ['news', 'tips'] });
      const browser = new RemoteBrowser(alias.issuer);
      const signIn = await browser.follow('/account');
      const unknown = await browser.submit(signIn, { email: `nobody-${Date.now()}@example.com`, password: 'whatever it is' });
      assert.equal(unknown.status, 401);
      const page = await browser.submit(unknown, { email: user.email, password: user.password });
      assert.match(page.html, /Revoked/);
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
      const post = (path: string, body: Record<string, string>) => browser.follow(path, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, ...body }).toString() });
      assert.match((await post(`/account/apps/${grant.id}/revoke-channel`, { channel: 'news' })).html, /Revoked/);
      assert.match((await post(`/account/apps/${grant.id}/revoke-scope`, { scope: 'nickname' })).html, /Revoked/);
      // Text the grant never held is not logged: the form's input never reaches the log.
      await post(`/account/apps/${grant.id}/revoke-scope`, { scope: 'made-up-scope' });
      assert.match((await post(`/account/apps/${grant.id}/revoke`, {})).html, /Disconnected/);
      assert.match((await post('/account/logout-all', {})).html, /signed out/i);

      const atClient = await events(client.id);
      assert.deepEqual(summary(atClient), [
        'consent.granted success scopes=openid,nickname,contact channels=_meta,news,tips',
        'consent.revoked success app=disconnected via=account',
        'consent.revoked success channel=news via=account',
        'consent.revoked success scope=nickname via=account',
      ]);
      for (const e of atClient) assert.equal(e.sub, grant.sub);
      const ref = alias.s.secrets.mac(USER_PURPOSE, user.id);
      const mine = await alias.s.store.audit.query({ user: { subs: [], userRef: ref }, limit: 10 });
      assert.deepEqual(summary(mine), ['login success via=account', 'logout success sessions=all via=account']);
      for (const e of mine) {
        assert.equal(e.clientId, null);
        assert.equal(e.sub, null);
        assert.equal(e.ipDigest, ipDigest());
      }
      const anonymous = (await alias.s.store.audit.query({ since: 0, limit: 100 }))
        .filter((e) => e.type === 'login' && e.outcome === 'failure' && e.clientId === null);
      assert.equal(anonymous.length, 1, 'the unknown address is logged once');
      assert.equal(anonymous[0]!.userRef, null, 'with no user at all');
      await assertNothingLeaks([user.email, user.id, user.password, 'nobody-']);
    });

    it('the password grant and client credentials: sign-ins and tokens per grant type', async () => {
      const { client, secret } = await alias.client({ redirectUris: [CB], grantTypes: ['password', 'client_credentials'], scopes: ['reports'] });
      const user = await alias.user();
      const post = form(secret!, client.id);
      const password = (pw: string) => post('/api/oauth2/token', { grant_type: 'password', username: user.email, password: pw, scope: 'openid' });
      assert.equal((await password('wrong password here')).status, 400);
      assert.equal((await password(user.password)).status, 200);
      assert.equal((await password(user.password)).status, 200);
      const cc = await (await post('/api/oauth2/token', { grant_type: 'client_credentials' })).json() as Record<string, string>;
      assert.ok(cc.access_token);
      assert.equal((await post('/api/oauth2/revoke', { token: cc.access_token! })).status, 200);

      const log = await events(client.id);
      assert.deepEqual(summary(log), [
        'consent.granted success scopes=openid via=password_grant',
        'login failure via=password_grant',
        'login success via=password_grant',
        'login success via=password_grant',
        'token.issued success grant_type=client_credentials',
        'token.issued success grant_type=password',
        'token.issued success grant_type=password',
        'token.revoked success token_type=access_token',
      ], 'consent is logged when it changes, not at every sign-in');
      const sub = alias.s.audit.subOf(client.id, user.id);
      for (const e of log) {
        const userless = e.detail === 'grant_type=client_credentials' || e.type === 'token.revoked';
        assert.equal(e.sub, userless ? null : sub, `${e.type} ${e.detail}`);
        assert.equal(e.userRef, null);
        assert.equal(e.ipDigest, ipDigest());
      }
      await assertNothingLeaks([user.email, user.id, user.password, 'wrong password here', secret!, cc.access_token!]);
    });
  });
}
