// Issue 16, the authorization endpoint: id_token_hint (item 7), storage a stranger can
// make Alias keep (item 5), form_post's CSP for native apps (item 11, also in Chromium:
// test/e2e/browser_form_post_native.test.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { signIdToken } from '../../src/tokens/id_token.js';
import type { Client, User } from '../../src/store/store.js';

const CB = 'https://rp.example/cb';

for (const kind of databaseKinds()) {
  describe(`authorization endpoint security (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias?.close());

    /** A browser signed in as `user`, with a grant of openid to `client`. */
    async function signedIn(client: Client, user: User & { password: string }): Promise<Browser> {
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(authorizeUrl(client, {}));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
      assert.ok(new URL(done.url).searchParams.get('code'), done.html);
      return browser;
    }

    const authorizeUrl = (client: Client, extra: Record<string, string>) => '/oauth2/authorize?' + new URLSearchParams({
      response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid', state: 'st', ...extra,
    });

    const hintFor = (client: Client, user: User, opts: { issuer?: string; aud?: string; at?: number } = {}) =>
      signIdToken(alias.s.keys, { alg: client.idTokenSignedResponseAlg, issuer: opts.issuer ?? alias.issuer,
        clientId: opts.aud ?? client.id, sub: alias.s.pairwise(client.id, user.id), authTime: opts.at ?? Date.now(), now: opts.at ?? Date.now() });

    const answer = (url: string) => Object.fromEntries(new URL(url).searchParams);

    describe('id_token_hint (OIDC Core §3.1.2.1)', () => {
      let client: Client;
      let other: Client;
      let alice: User & { password: string };
      let bob: User & { password: string };
      let browser: Browser;
      before(async () => {
        ({ client } = await alias.client({ redirectUris: [CB] }));
        ({ client: other } = await alias.client({ redirectUris: [CB] }));
        alice = await alias.user();
        bob = await alias.user();
        browser = await signedIn(client, alice);
      });

      it('a hint naming the signed-in person, even an expired one: a code', async () => {
        const expired = await hintFor(client, alice, { at: Date.now() - 24 * 3600_000 });
        const page = await browser.follow(authorizeUrl(client, { prompt: 'none', id_token_hint: expired }));
        assert.ok(answer(page.url).code, page.url);
      });

      it('prompt=none with a hint naming somebody else: login_required, no code', async () => {
        const page = await browser.follow(authorizeUrl(client, { prompt: 'none', id_token_hint: await hintFor(client, bob) }));
        const a = answer(page.url);
        assert.equal(a.error, 'login_required');
        assert.equal(a.state, 'st');
        assert.equal(a.code, undefined);
      });

      it('a hint that does not verify: invalid_request, no code (junk, another client, another issuer, a bad signature)', async () => {
        const forOther = await hintFor(other, alice);
        const otherIssuer = await hintFor(client, alice, { issuer: 'https://evil.example' });
        const good = await hintFor(client, alice);
        const [h, p] = good.split('.');
        const badSignature = `${h}.${p}.${'A'.repeat(342)}`;
        for (const hint of ['junk', forOther, otherIssuer, badSignature, `${h}.${p}.`]) {
          const page = await browser.follow(authorizeUrl(client, { prompt: 'none', id_token_hint: hint }));
          const a = answer(page.url);
          assert.equal(a.error, 'invalid_request', hint.slice(0, 30));
          assert.equal(a.code, undefined);
          assert.equal(a.state, 'st');
        }
      });

      it('without prompt=none: the sign-in page; signing in as the hinted person gives a code, as somebody else login_required', async () => {
        const hint = await hintFor(client, bob);
        const login = await browser.follow(authorizeUrl(client, { id_token_hint: hint }));
        assert.match(login.html, /name="password"/, 'the sign-in page, not a code for alice');
        const wrong = await browser.submit(login, { email: alice.email, password: alice.password });
        assert.equal(answer(wrong.url).error, 'login_required');

        const again = await browser.follow(authorizeUrl(client, { id_token_hint: hint }));
        const consent = await browser.submit(again, { email: bob.email, password: bob.password });
        const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
        assert.ok(answer(done.url).code, done.url);
      });
    });
  });
}
