// Issue 16, the authorization endpoint: id_token_hint (item 7), storage a stranger can
// make Alias keep (item 5), form_post's CSP for native apps (item 11, also in Chromium:
// test/e2e/browser_form_post_native.test.ts).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { signIdToken } from '../../src/tokens/id_token.js';
import type { Client, User } from '../../src/store/types.js';
import { addressBlock, PARK_POLICY } from '../../src/authorize/park.js';

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
      signIdToken(alias.s.keys, { amr: ['pwd'], alg: client.idTokenSignedResponseAlg, issuer: opts.issuer ?? alias.issuer,
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

describe('parked interactions per source address: the address blocks', () => {
  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    assert.equal(addressBlock('198.51.100.7'), '198.51.100.7');
    assert.equal(addressBlock('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(addressBlock('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(addressBlock('2001:0db8:0001:0002:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(addressBlock('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressBlock('::1'), '0:0:0:0::/64');
  });
});

for (const kind of databaseKinds()) {
  describe(`unauthenticated storage (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let client: Client;
    // Behind one load balancer, so each test picks its own source address.
    before(async () => {
      alias = await startAlias(kind, { env: { ALIAS_TRUST_PROXY: '1' } });
      ({ client } = await alias.client({ redirectUris: [CB] }));
    });
    after(() => alias?.close());

    const authorize = (from: string, extra: Record<string, string> = {}) => fetch(alias.issuer + '/oauth2/authorize?' + new URLSearchParams({
      response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid', state: 's', ...extra,
    }), { redirect: 'manual', headers: { 'x-forwarded-for': from } });
    const parked = async () => (await alias.s.db.kysely.selectFrom('interactions').select(['id', 'params']).execute())
      .map((r) => ({ id: r.id as string, params: typeof r.params === 'string' ? r.params : JSON.stringify(r.params) }));

    it('only the known parameters are parked, each value capped (RFC 6749 §3.1: unknown ones are ignored)', async () => {
      const junk = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid', state: 'junk-test' });
      for (let i = 0; i < 45_000; i++) junk.append(`j${i}`, 'xxxxxxxxxx');
      const before = new Set((await parked()).map((r) => r.id));
      const res = await fetch(alias.issuer + '/oauth2/authorize', { method: 'POST', redirect: 'manual', body: junk,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': '192.0.2.10' } });
      assert.equal(res.status, 303);
      const rows = (await parked()).filter((r) => !before.has(r.id));
      assert.equal(rows.length, 1);
      assert.ok(rows[0]!.params.length < 1000, `parked ${rows[0]!.params.length} characters`);
      assert.deepEqual(Object.keys(JSON.parse(rows[0]!.params) as object).sort(),
        ['client_id', 'redirect_uri', 'response_mode', 'response_type', 'scope', 'state']);
      const tooLong = await authorize('192.0.2.10', { state: 'x'.repeat(4097) });
      assert.equal(new URL(tooLong.headers.get('location')!).searchParams.get('error'), 'invalid_request');
    });

    it(`at most ${PARK_POLICY.allowed} parked requests per address in ${PARK_POLICY.windowMs / 60_000} minutes, then a readable 429 with Retry-After`, async () => {
      const from = '198.51.100.7';
      const count = async () => (await parked()).length;
      const start = await count();
      for (let i = 0; i < PARK_POLICY.allowed; i++) {
        // The left-most X-Forwarded-For entry is the client's to choose and changes nothing.
        const res = await authorize(`10.9.${i >> 8}.${i & 255}, ${from}`);
        assert.equal(res.status, 303, `request ${i + 1}`);
        assert.match(res.headers.get('location')!, /^\/interaction\//);
      }
      const refused = await authorize(from);
      assert.equal(refused.status, 429);
      const wait = Number(refused.headers.get('retry-after'));
      assert.ok(wait > 0 && wait <= 60, `Retry-After ${wait}`);
      assert.match(refused.headers.get('content-type')!, /text\/html/);
      assert.match(await refused.text(), /Too many sign-in requests/);
      assert.equal(await count(), start + PARK_POLICY.allowed, 'nothing parked beyond the limit');

      // Another address (a user elsewhere) is not affected, nor is a signed-in user with a grant.
      assert.equal((await authorize('198.51.100.8')).status, 303);

      // The block ends.
      alias.advance(PARK_POLICY.windowMs + 1000);
      assert.equal((await authorize(from)).status, 303);
    });

    it('IPv6 addresses of one /64 share a counter', async () => {
      for (let i = 0; i < PARK_POLICY.allowed; i++) {
        const res = await authorize(`2001:db8:7:7::${(i + 1).toString(16)}`);
        assert.equal(res.status, 303, `request ${i + 1}`);
      }
      assert.equal((await authorize('2001:db8:7:7:abcd::1')).status, 429);
      assert.equal((await authorize('2001:db8:7:8::1')).status, 303, 'the next /64 is another source');
    });
  });
}
