// A real browser (Debian's chromium through playwright-core) signs in through Alias's
// pages: labels, the login form, the consent checkboxes, the redirect back to a client
// listening on loopback, and a Content-Security-Policy that the pages never violate.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { sqlite } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp as watch, type Callbacks } from '../helpers/chromium.js';

describe('a real browser signs in through Alias', { skip: chromiumMissing }, () => {
  let alias: Alias;
  let browser: Browser;
  let callbacks: Callbacks;
  let redirectUri: string;
  /** The same callback server on the IPv6 loopback, when this host has one. */
  let callbacks6: Callbacks | undefined;
  let redirectUri6: string | undefined;
  /** The query string of the next request to a redirect URI. */
  const nextCallback = async () => {
    const arrival = await callbacks.next('/cb');
    assert.ok(arrival, `the browser reached ${redirectUri}`);
    return arrival.query;
  };

  before(async () => {
    callbacks = await startCallbacks('127.0.0.1');
    redirectUri = callbacks.url('/cb');
    try {
      callbacks6 = await startCallbacks('::1');
      redirectUri6 = callbacks6.url('/cb');
    } catch {
      // no IPv6 loopback here
    }
    alias = await startAlias(sqlite);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await alias?.close();
    await callbacks?.close();
    await callbacks6?.close();
  });

  it('logs in, unticks a scope on the consent page, and the token leaves it out', async () => {
    const { client, secret } = await alias.client({
      name: 'Browser app', redirectUris: [redirectUri], grantTypes: ['authorization_code', 'refresh_token'],
    });
    const user = await alias.user({ nickname: 'Bea' });
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const authorize = new URL('/oauth2/authorize', alias.issuer);
    authorize.search = new URLSearchParams({
      response_type: 'code', client_id: client.id, redirect_uri: redirectUri, scope: 'openid nickname offline_access',
      state, nonce: 'n-' + state, code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }).toString();

    const { context, page } = await openPage(browser);
    const problems = watch(page);
    try {
      const response = await page.goto(authorize.href);
      assert.equal(response?.status(), 200);
      assert.ok(page.url().startsWith(alias.issuer + '/'), `on Alias's login page, not ${page.url()}`);
      assert.ok(response?.headers()['content-security-policy'], 'pages carry a CSP');
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      // The stylesheet loaded under the CSP.
      assert.notEqual(await page.evaluate(() => getComputedStyle(document.body).fontFamily), '');

      // A wrong password shows the form again with a message.
      await page.getByLabel('E-mail').fill(user.email);
      await page.getByLabel('Password').fill('not the password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').waitFor();
      assert.equal(await page.getByLabel('E-mail').inputValue(), user.email, 'the e-mail is kept');

      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();

      // Consent: requested scopes ticked by default; the user unticks the nickname.
      const allow = page.getByRole('button', { name: 'Allow' });
      await allow.waitFor();
      const nickname = page.getByLabel('See your nickname');
      const offline = page.locator('input[type="checkbox"][name="scope"][value="offline_access"]');
      assert.equal(await nickname.isChecked(), true);
      assert.equal(await offline.isChecked(), true);
      assert.equal(await page.locator('input[type="checkbox"][value="openid"]').count(), 0, 'openid is not a checkbox');
      await nickname.uncheck();
      assert.equal(await nickname.isChecked(), false);

      const callback = nextCallback();
      await allow.click();
      const query = await callback;
      await page.waitForURL((u) => u.href.startsWith(redirectUri));
      assert.equal(query.get('state'), state);
      assert.equal(query.get('iss'), alias.issuer);
      assert.equal(query.get('error'), null, query.get('error_description') ?? '');
      const code = query.get('code');
      assert.ok(code, 'an authorization code came back');

      const res = await fetch(new URL('/api/oauth2/token', alias.issuer), {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: 'Basic ' + Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(secret!)}`).toString('base64'),
        },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
      });
      const body = await res.json() as Record<string, string>;
      assert.equal(res.status, 200, JSON.stringify(body));
      const scopes = body.scope!.split(' ');
      assert.ok(!scopes.includes('nickname'), `the unticked scope is left out: ${body.scope}`);
      assert.ok(scopes.includes('openid'));
      assert.ok(scopes.includes('offline_access'));
      assert.ok(body.refresh_token, 'offline_access was granted');
      const claims = JSON.parse(Buffer.from(body.id_token!.split('.')[1]!, 'base64url').toString());
      assert.equal(claims.nickname, undefined);
      assert.equal(claims.nonce, 'n-' + state);

      assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
    } finally {
      await context.close();
    }
  });

  it('a remembered grant skips login and consent in the same browser session', async () => {
    const { client } = await alias.client({ name: 'Second app', redirectUris: [redirectUri] });
    const user = await alias.user();
    const { context, page } = await openPage(browser);
    const problems = watch(page);
    try {
      const url = (state: string) => `${alias.issuer}/oauth2/authorize?` + new URLSearchParams({
        response_type: 'code', client_id: client.id, redirect_uri: redirectUri, scope: 'openid', state,
        code_challenge: createHash('sha256').update('v'.repeat(43)).digest('base64url'), code_challenge_method: 'S256',
      }).toString();
      await page.goto(url('one'));
      await page.getByLabel('E-mail').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const first = nextCallback();
      await page.getByRole('button', { name: 'Allow' }).click();
      assert.equal((await first).get('state'), 'one');

      const second = nextCallback();
      await page.goto(url('two'));
      const q = await second;
      assert.equal(q.get('state'), 'two');
      assert.ok(q.get('code'));
      await page.waitForURL((u) => u.href.startsWith(redirectUri));
      assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
    } finally {
      await context.close();
    }
  });

  // RFC 8252 §7.3 and the design: http redirect URIs on 127.0.0.1, [::1] and localhost.
  // The consent form's POST is answered with a redirect to the client, which the
  // page's CSP form-action must allow for every loopback form.
  it('the consent form may redirect to a native client on the IPv6 loopback', async (t) => {
    if (!redirectUri6) return t.skip('no IPv6 loopback on this host');
    const { client } = await alias.client({ name: 'Native app', isPublic: true, redirectUris: [redirectUri6] });
    const user = await alias.user();
    const { context, page } = await openPage(browser);
    const problems = watch(page);
    try {
      await page.goto(`${alias.issuer}/oauth2/authorize?` + new URLSearchParams({
        response_type: 'code', client_id: client.id, redirect_uri: redirectUri6, scope: 'openid', state: 'six',
        code_challenge: createHash('sha256').update('w'.repeat(43)).digest('base64url'), code_challenge_method: 'S256',
      }).toString());
      await page.getByLabel('E-mail').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const callback = callbacks6!.next('/cb', 5_000);
      await page.getByRole('button', { name: 'Allow' }).click();
      const arrived = await callback;
      assert.ok(arrived, `the browser reached ${redirectUri6}; console: ${problems.join(' | ')}`);
      assert.equal(arrived.query.get('state'), 'six');
      assert.ok(arrived.query.get('code'));
      assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
    } finally {
      await context.close();
    }
  });
});
