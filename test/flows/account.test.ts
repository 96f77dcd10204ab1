// The account page: people see what each app was granted and take any of it back, with
// effect on the very next use of a token.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';

const CB = 'https://rp.example/cb';

for (const kind of databaseKinds()) {
  describe(`account page (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias.close());

    async function connected() {
      const { client, secret } = await alias.client({ name: 'Newsy', redirectUris: [CB], grantTypes: ['authorization_code', 'refresh_token'],
        channels: ['news:Product news', 'billing:Invoices'] });
      const user = await alias.user({ nickname: 'Ann' });
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id,
        redirect_uri: CB, scope: 'openid nickname contact offline_access', channels: 'news billing' }));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: ['nickname', 'contact', 'offline_access'], channel: ['news', 'billing'] });
      const auth = 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64');
      const post = async (path: string, form: Record<string, string>) => (await fetch(alias.issuer + path, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams(form),
      })).json();
      const tokens = await post('/api/oauth2/token', { grant_type: 'authorization_code', code: new URL(done.url).searchParams.get('code')!, redirect_uri: CB });
      const introspect = () => post('/api/oauth2/introspect', { token: tokens.access_token });
      const userinfo = async () => {
        const r = await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        return { status: r.status, body: await r.json() };
      };
      const grant = (await alias.s.store.grants.get(user.id, client.id))!;
      return { client, user, browser, tokens, post, introspect, userinfo, grant };
    }

    it('lists the app with its scopes, channels (with _meta) and dates; revoking a channel takes effect at once', async () => {
      const c = await connected();
      const page = await c.browser.follow('/account');
      assert.equal(page.status, 200);
      assert.match(page.html, /Newsy/);
      assert.match(page.html, /Product news/);
      assert.match(page.html, /Notices about your connection with this app/);
      assert.match(page.html, /First allowed/);
      assert.equal((await c.introspect()).channels, 'news billing');
      const form = { csrf: /name="csrf" value="([^"]+)"/.exec(page.html)![1]!, channel: 'billing' };
      const after = await c.browser.follow(`/account/apps/${c.grant.id}/revoke-channel`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
      assert.match(after.html, /Revoked/);
      assert.equal((await c.introspect()).channels, 'news', 'the token lost the channel on its next use');
      const meta = await c.browser.follow(`/account/apps/${c.grant.id}/revoke-channel`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, channel: '_meta' }).toString() });
      assert.equal(meta.status, 400, '_meta cannot be revoked on its own');
    });

    it('revoking nickname and offline_access: userinfo drops the claim, refresh stops working', async () => {
      const c = await connected();
      const page = await c.browser.follow('/account');
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
      const revoke = (scope: string) => c.browser.follow(`/account/apps/${c.grant.id}/revoke-scope`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, scope }).toString() });
      assert.equal((await c.userinfo()).body.nickname, 'Ann');
      await revoke('nickname');
      assert.equal((await c.userinfo()).body.nickname, undefined);
      await revoke('offline_access');
      assert.equal((await c.post('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: c.tokens.refresh_token })).error, 'invalid_grant');
      await revoke('contact');
      const info = await c.introspect();
      assert.equal(info.channels, undefined, 'no contact, no channels');
      assert.doesNotMatch(info.scope, /contact/);
    });

    it('revoking a scope or channel the grant does not hold is refused and changes nothing', async () => {
      // A refused request changes no state (issue 5): not even the grant's updated_at.
      const c = await connected();
      const page = await c.browser.follow('/account');
      const csrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
      const post = (what: string, form: Record<string, string>) => c.browser.follow(`/account/apps/${c.grant.id}/${what}`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, ...form }).toString() });
      const before = await alias.s.store.grants.getById(c.grant.id);
      for (const [what, form] of [['revoke-scope', { scope: 'profile' }], ['revoke-scope', { scope: '' }],
        ['revoke-channel', { channel: 'sms' }], ['revoke-channel', { channel: '' }]] as const) {
        const res = await post(what, form);
        assert.equal(res.status, 400, `${what} ${JSON.stringify(form)}`);
        assert.match(res.html, /Nothing to revoke there/);
      }
      alias.advance(60_000);
      assert.deepEqual(await alias.s.store.grants.getById(c.grant.id), before, 'the grant is untouched');
      assert.match((await post('revoke-channel', { channel: 'news' })).html, /Revoked/);
      assert.equal((await post('revoke-channel', { channel: 'news' })).status, 400, 'revoking twice: nothing left to revoke');
    });

    it('disconnecting the app invalidates its tokens; a form without CSRF token changes nothing', async () => {
      const c = await connected();
      const forged = await c.browser.follow(`/account/apps/${c.grant.id}/revoke`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=forged' });
      assert.equal(forged.status, 403);
      assert.equal((await c.userinfo()).status, 200, 'nothing changed');
      const page = await c.browser.follow('/account');
      const disconnect = /<form method="post" action="(\/account\/apps\/[0-9a-f]+\/revoke)">/.exec(page.html)![1]!;
      const done = await c.browser.submit({ ...page, html: page.html.slice(page.html.indexOf(`action="${disconnect}"`) - 30) }, {});
      assert.match(done.html, /Disconnected/);
      assert.equal((await c.userinfo()).status, 401);
      assert.deepEqual(await c.introspect(), { active: false });
      const other = await alias.user();
      const stranger = await c.browser.follow(`/account/apps/${c.grant.id}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(page.html)![1]! }).toString() });
      assert.equal(stranger.status, 400, 'already gone');
      assert.ok(other);
    });

    it('inbox newest first; nickname and password changes; sign out everywhere', async () => {
      const c = await connected();
      for (const [i, subject] of ['Older-subject', 'Newer-subject'].entries()) {
        await alias.s.store.messages.insert({ id: randomBytes(8).toString('hex'), clientId: c.client.id, userId: c.user.id, channel: 'news',
          subject, body: `Body <b>${i}</b>`, idempotencyKey: null, status: 'sent', attempts: 1, nextAttemptAt: 0, leaseUntil: null,
          lastError: null, createdAt: Date.now() + i, deliveredAt: Date.now() });
      }
      const page = await c.browser.follow('/account');
      assert.ok(page.html.indexOf('Newer-subject') < page.html.indexOf('Older-subject'), 'newest first');
      assert.match(page.html, /Body &lt;b&gt;0&lt;\/b&gt;/, 'message bodies are escaped');
      assert.match(page.html, /Mute “Product news” from Newsy/);
      assert.match(page.html, /\(2 received\)/);
      const nick = await c.browser.submit({ ...page, html: page.html.slice(page.html.indexOf('action="/account/nickname"') - 30) }, { nickname: 'Annie' });
      assert.match(nick.html, /Nickname saved/);
      assert.equal((await c.userinfo()).body.nickname, 'Annie');
      const pw = (html: string) => ({ ...page, html: html.slice(html.indexOf('action="/account/password"') - 30) });
      const wrong = await c.browser.submit(pw(nick.html), { current_password: 'nope-nope-nope', new_password: 'new password 123' });
      assert.equal(wrong.status, 400);
      const ok = await c.browser.submit(pw(nick.html), { current_password: c.user.password, new_password: 'new password 123' });
      assert.match(ok.html, /Password changed/);
      // A second browser signs in with the new password; "sign out everywhere" ends both.
      const second = new Browser(alias.issuer);
      const login = await second.follow('/account');
      const signedIn = await second.submit(login, { email: c.user.email, password: 'new password 123' });
      assert.match(signedIn.html, /Your Alias account/);
      const out = await c.browser.submit({ ...ok, html: ok.html.slice(ok.html.indexOf('action="/account/logout-all"') - 30) }, {});
      assert.match(out.html, /You are signed out/);
      assert.match((await second.follow('/account')).html, /name="password"/, 'the other session ended too');
    });
  });
}
