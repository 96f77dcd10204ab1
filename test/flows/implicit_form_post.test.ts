// Implicit flow with response_mode=form_post (OIDC Core §3.2, OAuth 2.0 Form Post
// Response Mode): only an ID token, posted to the redirect URI by an HTML page.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';

const CB = 'https://rp.example/cb';

/** The fields of the auto-posting form. */
function posted(html: string) {
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  const fields = Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], m[2]]));
  return { action, fields };
}

for (const kind of databaseKinds()) {
  describe(`implicit form_post (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias.close());

    const authorize = (clientId: string, extra: Record<string, string> = {}) => '/oauth2/authorize?' + new URLSearchParams({
      response_type: 'id_token', response_mode: 'form_post', client_id: clientId, redirect_uri: CB, scope: 'openid nickname',
      nonce: 'n-1', state: 'st', ...extra,
    });

    it('posts an ID token (nonce, no at_hash) and state, with a CSP that allows only the auto-submit', async () => {
      const { client } = await alias.client({ redirectUris: [CB], grantTypes: ['implicit'] });
      const user = await alias.user({ nickname: 'Imp' });
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(authorize(client.id));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const page = await browser.submit(consent, { decision: 'allow', scope: ['nickname'] });
      assert.equal(page.status, 200);
      const { action, fields } = posted(page.html);
      assert.equal(action, CB);
      assert.equal(fields.state, 'st');
      assert.equal(fields.iss, alias.issuer);
      assert.equal(fields.access_token, undefined, 'no access token through the front channel');
      assert.equal(fields.code, undefined);
      const jwks = createRemoteJWKSet(new URL(`${alias.issuer}/oauth2/jwks`));
      const { payload } = await jwtVerify(fields.id_token!, jwks, { issuer: alias.issuer, audience: client.id });
      assert.equal(payload.nonce, 'n-1');
      assert.equal(payload.nickname, 'Imp');
      assert.equal(payload.at_hash, undefined);
      const csp = page.headers.get('content-security-policy')!;
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce && page.html.includes(`<script nonce="${nonce}">`), 'the auto-submit runs by nonce');
      assert.match(csp, /form-action https:\/\/rp\.example/);
      assert.match(page.html, /<button type="submit">/, 'a button for browsers without JavaScript');
      assert.equal(page.headers.get('cache-control'), 'no-store');
    });

    it('errors go back by form_post too; fragment for a missing response_mode; never a token in a URL', async () => {
      const { client } = await alias.client({ redirectUris: [CB], grantTypes: ['implicit'] });
      const browser = new Browser(alias.issuer);
      const none = await browser.follow(authorize(client.id, { prompt: 'none' }));
      assert.deepEqual(posted(none.html).fields.error, 'login_required');
      assert.equal(posted(none.html).fields.state, 'st');
      const noNonce = await browser.follow(authorize(client.id, { nonce: '' }));
      assert.equal(posted(noNonce.html).fields.error, 'invalid_request', 'OIDC Core §3.2.2.1: nonce is required');
      const query = await browser.follow(authorize(client.id, { response_mode: 'query' }));
      assert.equal(new URL(query.url).searchParams.get('error'), 'invalid_request', 'id_token by query is refused');
      const fragment = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'id_token', client_id: client.id,
        redirect_uri: CB, scope: 'openid', nonce: 'n', state: 's' }));
      assert.equal(new URLSearchParams(new URL(fragment.url).hash.slice(1)).get('error'), 'invalid_request');
      const { client: codeOnly } = await alias.client({ redirectUris: [CB] });
      const unauthorized = await browser.follow(authorize(codeOnly.id));
      assert.equal(posted(unauthorized.html).fields.error, 'unauthorized_client');
    });

    it('response_mode=form_post works for response_type=code', async () => {
      const { client } = await alias.client({ redirectUris: [CB] });
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', response_mode: 'form_post',
        client_id: client.id, redirect_uri: CB, scope: 'openid', state: 'c' }));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const page = await browser.submit(consent, { decision: 'allow' });
      const { fields } = posted(page.html);
      assert.ok(fields.code);
      assert.equal(fields.state, 'c');
    });
  });
}
