// A real browser (Debian's chromium through playwright-core) through Alias's other
// pages: the device pages (RFC 8628 §3.3), the form_post page of the implicit flow
// (OAuth 2.0 Form Post Response Mode) with and without JavaScript, and the sign-out
// confirmation of RP-initiated logout. None of them may trip the Content-Security-Policy.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import type { Browser, Page, Response } from 'playwright-core';
import { sqlite } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp, type Callbacks } from '../helpers/chromium.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const NO_CSP_ERRORS = 'no Content-Security-Policy errors in the console';

describe('a real browser through the device, form_post and logout pages', { skip: chromiumMissing }, () => {
  let alias: Alias;
  let browser: Browser;
  /** The client applications' web server on 127.0.0.1. */
  let rp: Callbacks;

  before(async () => {
    rp = await startCallbacks('127.0.0.1');
    alias = await startAlias(sqlite);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await alias?.close();
    await rp?.close();
  });

  const form = (body: Record<string, string>) => ({
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body),
  });

  async function verifyIdToken(idToken: string, clientId: string) {
    const jwks = createRemoteJWKSet(new URL(`${alias.issuer}/oauth2/jwks`));
    return (await jwtVerify(idToken, jwks, { issuer: alias.issuer, audience: clientId })).payload;
  }

  /** Fills in and sends Alias's sign-in form. */
  async function signIn(page: Page, user: { email: string; password: string }) {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('device pages: a sloppily typed code, sign-in, a warning consent, done; the device then gets tokens', async () => {
    const { client } = await alias.client({ name: 'Living-room TV', isPublic: true, redirectUris: [], grantTypes: [DEVICE] });
    const user = await alias.user({ nickname: 'Dee' });
    const started = await fetch(`${alias.issuer}/api/oauth2/device_authorization`, form({ client_id: client.id, scope: 'openid nickname' }));
    const start = await started.json() as Record<string, string>;
    assert.equal(started.status, 200, JSON.stringify(start));
    assert.equal(start.verification_uri, `${alias.issuer}/device`);
    assert.match(start.user_code!, /^[B-Z]{4}-[B-Z]{4}$/);

    const { context, page } = await openPage(browser);
    const problems = watchCsp(page);
    try {
      // verification_uri, not verification_uri_complete: the user types the code.
      const response = await page.goto(start.verification_uri!);
      assert.equal(response?.status(), 200);
      assert.ok(response?.headers()['content-security-policy'], 'pages carry a CSP');
      await page.getByRole('heading', { name: 'Connect a device' }).waitFor();
      const code = page.getByLabel('Code');
      assert.equal(await code.inputValue(), '', 'nothing pre-filled');
      await code.fill(start.user_code!.replace('-', '').toLowerCase());
      await page.getByRole('button', { name: 'Continue' }).click();

      await signIn(page, user);

      await page.getByRole('button', { name: 'Allow' }).waitFor();
      const warning = page.getByText('Continue only if you started this on your own device');
      assert.equal(await warning.isVisible(), true, 'the consent page warns about codes from someone else');
      assert.equal(await page.getByRole('heading', { name: 'Living-room TV wants to' }).isVisible(), true, 'the consent page names the client');
      assert.equal(await page.getByLabel('See your nickname').isChecked(), true);
      await page.getByRole('button', { name: 'Allow' }).click();

      await page.getByRole('heading', { name: 'Device connected' }).waitFor();
      assert.equal(await page.locator('input[name="user_code"]').count(), 0, 'the done page has no user_code field');
      assert.equal(await page.getByLabel('Code').count(), 0);

      const polled = await fetch(`${alias.issuer}/api/oauth2/token`, form({ grant_type: DEVICE, device_code: start.device_code!, client_id: client.id }));
      const tokens = await polled.json() as Record<string, string>;
      assert.equal(polled.status, 200, JSON.stringify(tokens));
      assert.ok(tokens.access_token, 'an access token');
      assert.ok(tokens.id_token, 'an ID token');
      const claims = await verifyIdToken(tokens.id_token, client.id);
      assert.equal(claims.nickname, 'Dee', 'the approved nickname scope');
      assert.deepEqual(problems, [], NO_CSP_ERRORS);
    } finally {
      await context.close();
    }
  });

  describe('implicit flow, response_mode=form_post', () => {
    const path = '/rp/form_post';
    let clientId: string;
    before(async () => {
      const { client } = await alias.client({ name: 'Form post app', redirectUris: [rp.url(path)], grantTypes: ['implicit'] });
      clientId = client.id;
    });
    const authorize = (state: string) => `${alias.issuer}/oauth2/authorize?` + new URLSearchParams({
      response_type: 'id_token', response_mode: 'form_post', client_id: clientId, redirect_uri: rp.url(path),
      scope: 'openid', nonce: 'n-' + state, state,
    }).toString();
    /** Alias's form_post page: the answer to the consent form, with a script nonce in its CSP. */
    const isFormPostPage = (r: Response) => r.url().startsWith(alias.issuer + '/') && r.request().method() === 'POST' &&
      /script-src 'nonce-[^']+'/.test(r.headers()['content-security-policy'] ?? '');

    /** Checks the fields the client's redirect URI received by POST. */
    async function checkPosted(arrival: Awaited<ReturnType<Callbacks['next']>>, state: string, problems: string[]) {
      assert.ok(arrival, `the browser posted to ${rp.url(path)}; console: ${problems.join(' | ')}`);
      assert.equal(arrival.method, 'POST');
      assert.match(arrival.contentType, /^application\/x-www-form-urlencoded/);
      assert.equal([...arrival.query].length, 0, 'nothing in the URL');
      assert.equal(arrival.form.get('state'), state);
      assert.equal(arrival.form.get('iss'), alias.issuer);
      assert.equal(arrival.form.get('access_token'), null, 'no access token through the front channel');
      const idToken = arrival.form.get('id_token');
      assert.ok(idToken, 'an ID token was posted');
      assert.equal((await verifyIdToken(idToken, clientId)).nonce, 'n-' + state);
    }

    it('with JavaScript, the page posts the ID token by itself under its nonce CSP', async () => {
      const user = await alias.user();
      const { context, page } = await openPage(browser);
      const problems = watchCsp(page);
      try {
        await page.goto(authorize('js-on'));
        await signIn(page, user);
        const formPostPage = page.waitForResponse(isFormPostPage);
        const posted = rp.next(path);
        await page.getByRole('button', { name: 'Allow' }).click();
        const answer = await formPostPage;
        assert.equal(answer.status(), 200);
        assert.match(answer.headers()['content-security-policy']!, new RegExp(`form-action ${rp.origin.replace(/[.]/g, '\\.')}(;|$)`));
        await checkPosted(await posted, 'js-on', problems);
        await page.waitForURL(rp.url(path));
        assert.deepEqual(problems, [], NO_CSP_ERRORS);
      } finally {
        await context.close();
      }
    });

    it('without JavaScript, the page shows a Continue button that posts the same fields', async () => {
      const user = await alias.user();
      const { context, page } = await openPage(browser, { javaScriptEnabled: false });
      const problems = watchCsp(page);
      try {
        await page.goto(authorize('js-off'));
        await signIn(page, user);
        const formPostPage = page.waitForResponse(isFormPostPage);
        await page.getByRole('button', { name: 'Allow' }).click();
        assert.equal((await formPostPage).status(), 200);
        const button = page.getByRole('button', { name: 'Continue' });
        await button.waitFor();
        // Playwright's text selectors skip <noscript>, so find the notice by its element.
        const notice = page.locator('noscript p');
        assert.equal(await notice.isVisible(), true, 'the <noscript> notice is shown');
        assert.equal(await notice.textContent(), 'JavaScript is off: press the button to continue.');
        await delay(300);
        assert.equal(rp.waiting(path), 0, 'nothing was posted before the button was pressed');
        assert.ok(page.url().startsWith(alias.issuer + '/'), `still on Alias's page, not ${page.url()}`);

        const posted = rp.next(path);
        await button.click();
        await checkPosted(await posted, 'js-off', problems);
        await page.waitForURL(rp.url(path));
        assert.deepEqual(problems, [], NO_CSP_ERRORS);
      } finally {
        await context.close();
      }
    });
  });

  it('logout: the confirmation page signs the user out, returns with state, and prompt=none then needs a login', async () => {
    const { client } = await alias.client({
      name: 'Logout app', redirectUris: [rp.url('/rp/cb')], postLogoutRedirectUris: [rp.url('/rp/bye')],
    });
    const user = await alias.user();
    const verifier = randomBytes(32).toString('base64url');
    const authorize = (state: string, extra: Record<string, string> = {}) => `${alias.issuer}/oauth2/authorize?` + new URLSearchParams({
      response_type: 'code', client_id: client.id, redirect_uri: rp.url('/rp/cb'), scope: 'openid', state,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256', ...extra,
    }).toString();
    const back = async (path: string) => {
      const arrival = await rp.next(path);
      assert.ok(arrival, `the browser reached ${rp.url(path)}`);
      assert.equal(arrival.method, 'GET');
      await page.waitForURL((u) => u.href.startsWith(rp.url(path)));
      return arrival.query;
    };

    const { context, page } = await openPage(browser);
    const problems = watchCsp(page);
    try {
      await page.goto(authorize('in'));
      await signIn(page, user);
      let arrived = back('/rp/cb');
      await page.getByRole('button', { name: 'Allow' }).click();
      let query = await arrived;
      assert.equal(query.get('state'), 'in');
      assert.ok(query.get('code'), 'signed in through the code flow');

      arrived = back('/rp/cb');
      await page.goto(authorize('silent-before', { prompt: 'none' }));
      query = await arrived;
      assert.equal(query.get('error'), null, 'the session is there before signing out');
      assert.ok(query.get('code'));

      await page.goto(`${alias.issuer}/oauth2/logout?` + new URLSearchParams({
        client_id: client.id, post_logout_redirect_uri: rp.url('/rp/bye'), state: 'xyz',
      }).toString());
      await page.getByRole('heading', { name: 'Sign out of Alias?' }).waitFor();
      assert.equal(await page.getByText('Logout app asks you to sign out.').isVisible(), true);
      assert.equal(await page.getByText(user.email).isVisible(), true);
      arrived = back('/rp/bye');
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      query = await arrived;
      assert.deepEqual([...query], [['state', 'xyz']]);

      arrived = back('/rp/cb');
      await page.goto(authorize('silent-after', { prompt: 'none' }));
      query = await arrived;
      assert.equal(query.get('error'), 'login_required', 'the session ended');
      assert.equal(query.get('state'), 'silent-after');
      assert.equal(query.get('code'), null);
      assert.deepEqual(problems, [], NO_CSP_ERRORS);
    } finally {
      await context.close();
    }
  });
});
