// OpenID Connect RP-Initiated Logout 1.0 over HTTP.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';

const CB = 'https://rp.example/cb';
const BYE = 'https://rp.example/bye';

for (const kind of databaseKinds()) {
  describe(`RP-initiated logout (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias.close());

    /** Signs a user in through the pages and returns the browser and an ID token. */
    async function signedIn() {
      const { client, secret } = await alias.client({ redirectUris: [CB], postLogoutRedirectUris: [BYE] });
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const authorize = `/oauth2/authorize?` + new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid', state: 's' });
      const login = await browser.follow(authorize);
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow' });
      const code = new URL(done.url).searchParams.get('code')!;
      const res = await fetch(`${alias.issuer}/api/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64') },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: CB }),
      });
      const { id_token } = await res.json();
      const silent = async () => new URL((await browser.follow(authorize + '&prompt=none')).url).searchParams.get('error');
      assert.equal(await silent(), null, 'signed in');
      return { client, browser, idToken: id_token as string, silent };
    }

    it('a trusted request (id_token_hint of this user) ends the session and returns to the registered URI with state', async () => {
      const { client, browser, idToken, silent } = await signedIn();
      const out = await browser.follow('/oauth2/logout?' + new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: BYE, state: 'st', client_id: client.id }));
      assert.equal(out.url, `${BYE}?state=st`);
      assert.equal(await silent(), 'login_required', 'the session ended: prompt=none gets login_required');
    });

    it('an untrusted request shows a confirmation page (CSRF-protected); staying changes nothing', async () => {
      const { client, browser, silent } = await signedIn();
      const confirm = await browser.follow('/oauth2/logout?' + new URLSearchParams({ client_id: client.id, post_logout_redirect_uri: BYE }));
      assert.equal(confirm.status, 200);
      assert.match(confirm.html, /Sign out of Alias\?/);
      const forged = await browser.follow('/oauth2/logout/confirm', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout: 'yes' }).toString() });
      assert.equal(forged.status, 403, 'no CSRF token, nothing happens');
      assert.equal(await silent(), null, 'still signed in');
      const stay = await browser.submit(confirm, { logout: 'no' });
      assert.equal(stay.url, BYE);
      assert.equal(await silent(), null, 'still signed in after choosing to stay');
      const confirm2 = await browser.follow('/oauth2/logout');
      const out = await browser.submit(confirm2, { logout: 'yes' });
      assert.match(out.html, /You are signed out/);
      assert.equal(await silent(), 'login_required');
    });

    it('never redirects to an unregistered post_logout_redirect_uri; a forged hint is refused', async () => {
      const { client, browser, idToken, silent } = await signedIn();
      const bad = await browser.follow('/oauth2/logout?' + new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example/' }));
      assert.equal(bad.status, 400);
      assert.equal(bad.headers.get('location'), null);
      const noClient = await browser.follow('/oauth2/logout?' + new URLSearchParams({ post_logout_redirect_uri: BYE }));
      assert.equal(noClient.status, 400, 'a redirect needs a client to check it against');
      const [h, p] = idToken.split('.');
      const forged = await browser.follow('/oauth2/logout?' + new URLSearchParams({ id_token_hint: `${h}.${p}.AAAA`, client_id: client.id }));
      assert.equal(forged.status, 400);
      assert.equal(await silent(), null, 'nothing changed');
    });
  });
}
