// A real browser (Debian's chromium through playwright-core) signs in through Alias's
// pages: labels, the login form, the consent checkboxes, the redirect back to a client
// listening on loopback, and a Content-Security-Policy that the pages never violate.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { sqlite } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';

const CHROMIUM = process.env.ALIAS_TEST_CHROMIUM ?? '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
if (missing && process.env.CI) throw new Error(`${missing}; CI must run the browser tests`);
if (missing) process.stderr.write(`\n!!! SKIPPING browser tests: ${missing}.\n\n`);

describe('a real browser signs in through Alias', { skip: missing }, () => {
  let alias: Alias;
  let browser: Browser;
  let callbacks: Server;
  let redirectUri: string;
  /** The same callback server on the IPv6 loopback, when this host has one. */
  let callbacks6: Server | undefined;
  let redirectUri6: string | undefined;
  /** Query strings the client's redirect URI received, in order, with waiters. */
  const received: URLSearchParams[] = [];
  const waiters: ((q: URLSearchParams) => void)[] = [];
  const nextCallback = () => new Promise<URLSearchParams>((resolve) => {
    const q = received.shift();
    if (q) resolve(q);
    else waiters.push(resolve);
  });

  before(async () => {
    const onCallback = (req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (url.pathname === '/cb') {
        const waiter = waiters.shift();
        if (waiter) waiter(url.searchParams);
        else received.push(url.searchParams);
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>App</title><p>Signed in.</p>');
    };
    const listen = (server: Server, host: string) => new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        resolve(typeof address === 'object' && address ? address.port : 0);
      });
    });
    callbacks = createServer(onCallback);
    redirectUri = `http://127.0.0.1:${await listen(callbacks, '127.0.0.1')}/cb`;
    try {
      const server = createServer(onCallback);
      redirectUri6 = `http://[::1]:${await listen(server, '::1')}/cb`;
      callbacks6 = server;
    } catch {
      // no IPv6 loopback here
    }
    alias = await startAlias(sqlite);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: 30_000,
    });
  });
  after(async () => {
    await browser?.close();
    await alias?.close();
    await new Promise((resolve) => callbacks?.close(resolve));
    if (callbacks6) await new Promise((resolve) => callbacks6!.close(resolve));
  });

  /**
   * Console messages about the Content-Security-Policy (a refused resource or form
   * action, or a policy the browser cannot parse) and page errors. Other console
   * errors (the 401 of a failed sign-in, a missing favicon) are expected.
   */
  function watch(page: Page) {
    const problems: string[] = [];
    page.on('console', (m: ConsoleMessage) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) {
        problems.push(`${m.type()}: ${m.text()} (${m.location().url || page.url()})`);
      }
    });
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    return problems;
  }

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

    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
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
    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
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
    const context = await browser.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    const problems = watch(page);
    try {
      await page.goto(`${alias.issuer}/oauth2/authorize?` + new URLSearchParams({
        response_type: 'code', client_id: client.id, redirect_uri: redirectUri6, scope: 'openid', state: 'six',
        code_challenge: createHash('sha256').update('w'.repeat(43)).digest('base64url'), code_challenge_method: 'S256',
      }).toString());
      await page.getByLabel('E-mail').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const callback = nextCallback();
      await page.getByRole('button', { name: 'Allow' }).click();
      const arrived = await Promise.race([callback, delay(5_000, undefined, { ref: false })]);
      assert.ok(arrived, `the browser reached ${redirectUri6}; console: ${problems.join(' | ')}`);
      assert.equal(arrived.get('state'), 'six');
      assert.ok(arrived.get('code'));
      assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
    } finally {
      await context.close();
    }
  });
});
