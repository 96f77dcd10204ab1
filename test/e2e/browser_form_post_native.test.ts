// form_post to a native app's private-use URI scheme (RFC 8252 §7.1) in a real browser
// (issue 16 item 11): the page's CSP must let the form post to `com.example.app:/cb`.
// `form-action null` (the opaque origin of such a URI) made Chromium refuse the post.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { chromiumMissing, launchChromium, openPage, watchCsp } from '../helpers/chromium.js';
import { formActionSource } from '../../src/authorize/response_modes/form_post.js';

const sqlite = databaseKinds().find((k) => k.name === 'sqlite')!;
const NATIVE = 'com.example.app:/cb';

describe('form-action of the form_post page', () => {
  it('the origin for http(s), the scheme for a private-use URI scheme', () => {
    assert.equal(formActionSource('https://rp.example/cb?x=1'), 'https://rp.example');
    assert.equal(formActionSource('http://127.0.0.1:8080/cb'), 'http://127.0.0.1:8080');
    assert.equal(formActionSource(NATIVE), 'com.example.app:');
    assert.equal(formActionSource('com.example.app:///cb'), 'com.example.app:');
  });
});

describe('a real browser: form_post to a native app', { skip: chromiumMissing }, () => {
  let alias: Alias;
  let browser: Browser;
  before(async () => {
    alias = await startAlias(sqlite);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await alias?.close();
  });

  async function signIn(page: Page, user: { email: string; password: string }) {
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await page.getByLabel('E-mail').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  it('the page posts to com.example.app:/cb without a CSP refusal', async () => {
    const { client } = await alias.client({ name: 'Native app', isPublic: true, redirectUris: [NATIVE], grantTypes: ['authorization_code'] });
    const user = await alias.user();
    const { context, page } = await openPage(browser);
    const problems = watchCsp(page);
    try {
      await page.goto(`${alias.issuer}/oauth2/authorize?` + new URLSearchParams({
        response_type: 'code', response_mode: 'form_post', client_id: client.id, redirect_uri: NATIVE, scope: 'openid',
        state: 'native', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
      }).toString());
      await signIn(page, user);
      const formPostPage = page.waitForResponse((r) => r.url().startsWith(alias.issuer + '/') && r.request().method() === 'POST' &&
        /script-src 'nonce-/.test(r.headers()['content-security-policy'] ?? ''));
      await page.getByRole('button', { name: 'Allow' }).click();
      const answer = await formPostPage;
      assert.equal(answer.status(), 200);
      const csp = answer.headers()['content-security-policy']!;
      assert.match(csp, /form-action com\.example\.app:(;|$)/, csp);
      // The page's script submits the form at once; give Chromium time to refuse it (or not).
      await delay(1500);
      assert.deepEqual(problems, [], 'no Content-Security-Policy refusal of the post to the app');
    } finally {
      await context.close();
    }
  });
});
