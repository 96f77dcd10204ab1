// Issue 4 in a real browser: sign in, open the account page, revoke a channel, and a
// following send on that channel is refused (403 insufficient_scope).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { sqlite } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp, type Callbacks } from '../helpers/chromium.js';

describe('the account page in a real browser', { skip: chromiumMissing }, () => {
  let alias: Alias;
  let browser: Browser;
  let callbacks: Callbacks;

  before(async () => {
    callbacks = await startCallbacks('127.0.0.1');
    alias = await startAlias(sqlite);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await alias?.close();
    await callbacks?.close();
  });

  it('revoking a channel on the account page makes the next send on it fail', async () => {
    const redirectUri = callbacks.url('/cb');
    const { client, secret } = await alias.client({ name: 'Newsletter app', redirectUris: [redirectUri],
      grantTypes: ['authorization_code', 'refresh_token'], channels: ['news:Product news', 'tips:Weekly tips'] });
    const user = await alias.user();
    const { context, page } = await openPage(browser);
    const problems = watchCsp(page);
    try {
      const authorize = new URL('/oauth2/authorize', alias.issuer);
      authorize.search = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: redirectUri,
        scope: 'openid contact offline_access', channels: 'news tips', state: 'st' }).toString();
      await page.goto(authorize.href);
      await page.getByLabel('E-mail').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const arrival = callbacks.next('/cb');
      await page.getByRole('button', { name: 'Allow' }).click();
      const code = (await arrival)!.query.get('code')!;
      const auth = 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64');
      const tokens = await (await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri }) })).json();
      const sub = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString()).sub;
      const send = (channel: string) => fetch(`${alias.issuer}/api/v1/messages`, { method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.access_token}` },
        body: JSON.stringify({ to: sub, channel, subject: `On ${channel}`, body: 'Hello' }) });
      assert.equal((await send('news')).status, 202, 'allowed before the revocation');

      await page.goto(`${alias.issuer}/account`);
      await page.getByRole('heading', { name: 'Newsletter app' }).waitFor();
      const newsRow = page.locator('li', { hasText: 'Messages: Product news' });
      await newsRow.getByRole('button', { name: 'Revoke' }).click();
      await page.getByRole('status').waitFor();
      assert.equal(await page.locator('li', { hasText: 'Messages: Product news' }).count(), 0, 'the channel is gone from the page');

      const refused = await send('news');
      assert.equal(refused.status, 403);
      assert.equal((await refused.json()).error, 'insufficient_scope');
      assert.equal((await send('tips')).status, 202, 'the other channel still works');
      assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
    } finally {
      await context.close();
    }
  });
});
