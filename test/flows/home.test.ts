// Issue 18 item 9: `GET /` is a start page for people (what Alias is, sign in or your
// account, sign-up when open, and the discovery document for developers), not a redirect
// to the discovery JSON. On SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';

const links = (html: string) => [...html.matchAll(/<a [^>]*href="([^"]*)"[^>]*>([^<]*)<\/a>/g)].map((m) => ({ href: m[1]!, text: m[2]! }));

for (const kind of databaseKinds()) {
  describe(`the start page (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(async () => { await alias?.close(); });

    it('answers 200 with a page, not a redirect: what Alias is, sign in, sign up, discovery', async () => {
      const res = await fetch(`${alias.issuer}/`, { redirect: 'manual' });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type')!, /^text\/html/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.ok(res.headers.get('content-security-policy'), 'a page with the pages\' CSP');
      const html = await res.text();
      assert.match(html, /<h1>[^<]+<\/h1>/);
      assert.match(html, /alias ID/);
      const found = links(html);
      assert.ok(found.some((l) => l.href === '/account' && l.text === 'Sign in'), JSON.stringify(found));
      assert.ok(found.some((l) => l.href === '/signup'), 'sign-up is open by default');
      assert.ok(found.some((l) => l.href === '/.well-known/openid-configuration'), 'the discovery document for developers');
      assert.ok(html.includes(alias.issuer), 'names the issuer');
      // The page's links lead somewhere.
      assert.equal((await fetch(`${alias.issuer}/.well-known/openid-configuration`)).status, 200);
      assert.equal((await fetch(`${alias.issuer}/account`)).status, 200);
    });

    it('signed in: names the account and links to it instead of "Sign in"', async () => {
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/account');
      const account = await browser.submit(login, { email: user.email, password: user.password });
      assert.equal(account.status, 200, account.html.slice(0, 500));
      const home = await browser.follow('/');
      assert.equal(home.status, 200);
      assert.ok(home.html.includes(`signed in as <strong>${user.email}</strong>`), home.html);
      const found = links(home.html);
      assert.ok(found.some((l) => l.href === '/account' && l.text === 'Your account'));
      assert.ok(!found.some((l) => l.text === 'Sign in' || l.href === '/signup'), 'no sign-in or sign-up offer');
    });
  });
}

describe('the start page with sign-up closed', () => {
  let alias: Alias;
  before(async () => { alias = await startAlias(databaseKinds()[0]!, { env: { ALIAS_SIGNUP: 'closed' } }); });
  after(async () => { await alias?.close(); });

  it('offers no sign-up link', async () => {
    const html = await (await fetch(`${alias.issuer}/`)).text();
    assert.ok(links(html).some((l) => l.text === 'Sign in'));
    assert.ok(!links(html).some((l) => l.href.startsWith('/signup')), 'no link to a closed sign-up');
  });
});
