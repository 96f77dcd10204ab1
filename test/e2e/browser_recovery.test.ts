// Issue 14 §3 in a real browser (Chromium, 390 px wide): from the sign-in page of an
// authorization request, "Forgot your password?" → the mail (read from the SMTP sink) →
// the reset form → signed in with the new password. Rules checked: the reset path works
// without anything but the pages and the mail; it signs out every other browser and the
// old refresh token answers invalid_grant; pages fit 390 px with no CSP error.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp, type Callbacks } from '../helpers/chromium.js';

const NEW_PASSWORD = 'violet lantern orbit 58';

for (const kind of databaseKinds()) {
  describe(`password reset in a real browser (${kind.name})`, { skip: chromiumMissing ?? kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    let browser: Browser;
    let callbacks: Callbacks;

    before(async () => {
      callbacks = await startCallbacks('127.0.0.1');
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await alias?.close();
      await smtp?.close();
      await callbacks?.close();
    });

    const fits = async (page: Page) => assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390),
      `${page.url()} fits 390 px`);

    it('sign-in page → Forgot your password? → mail → new password → signed in; the other browser and the old refresh token are out', async () => {
      const redirectUri = callbacks.url('/cb');
      const { client, secret } = await alias.client({ name: 'Reader', redirectUris: [redirectUri], grantTypes: ['authorization_code', 'refresh_token'] });
      const user = await alias.user();
      const authorize = new URL('/oauth2/authorize', alias.issuer);
      authorize.search = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: redirectUri,
        scope: 'openid offline_access', state: 'st' }).toString();

      // Browser one: signed in to the app, holding a refresh token.
      const one = await openPage(browser);
      await one.page.goto(authorize.href);
      await one.page.getByLabel('E-mail').fill(user.email);
      await one.page.getByLabel('Password').fill(user.password);
      await one.page.getByRole('button', { name: 'Sign in' }).click();
      const arrival = callbacks.next('/cb');
      await one.page.getByRole('button', { name: 'Allow' }).click();
      const code = (await arrival)!.query.get('code')!;
      const auth = 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64');
      const token = (body: Record<string, string>) => fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams(body) });
      const tokens = await (await token({ grant_type: 'authorization_code', code, redirect_uri: redirectUri })).json() as Record<string, string>;
      assert.ok(tokens.refresh_token);

      // Browser two, 390 px wide: the person who forgot.
      const two = await openPage(browser, { viewport: { width: 390, height: 844 } });
      const problems = watchCsp(two.page);
      try {
        await two.page.goto(authorize.href);
        await two.page.getByRole('link', { name: 'Forgot your password?' }).click();
        await two.page.getByRole('heading', { name: 'Forgot your password?' }).waitFor();
        await fits(two.page);
        await two.page.getByLabel('E-mail').fill(user.email);
        await two.page.getByRole('button', { name: 'Mail me a link' }).click();
        await two.page.getByRole('status').waitFor();
        assert.match(await two.page.getByRole('status').innerText(), /If an Alias account has this address/);

        const deadline = Date.now() + 10_000;
        let mail;
        while (!(mail = smtp.received.find((m) => m.envelope.to.includes(user.email) && /Reset/.test(m.mail.subject ?? '')))) {
          assert.ok(Date.now() < deadline, 'the reset mail arrives');
          await alias.s.relayWorker.runOnce();
          await new Promise((r) => setTimeout(r, 50));
        }
        const link = /(http:\/\/\S+\/reset\/[A-Za-z0-9_-]+)/.exec(mail.mail.text ?? '')![1]!;
        await two.page.goto(link);
        await two.page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
        await fits(two.page);
        await two.page.getByLabel(/New password/).fill('password1');
        await two.page.getByRole('button', { name: 'Set new password' }).click();
        assert.match(await two.page.locator('#password-error').innerText(), /too easy to guess/, 'the reason next to the field');
        await two.page.getByLabel(/New password/).fill(NEW_PASSWORD);
        await two.page.getByRole('button', { name: 'Set new password' }).click();
        await two.page.getByRole('heading', { name: 'Password changed' }).waitFor();
        await two.page.getByRole('link', { name: 'Sign in with your new password' }).click();
        await two.page.getByLabel('E-mail').fill(user.email);
        await two.page.getByLabel('Password').fill(NEW_PASSWORD);
        await two.page.getByRole('button', { name: 'Sign in' }).click();
        await two.page.getByRole('heading', { name: 'Your Alias account' }).waitFor();
        await fits(two.page);
        assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');

        // Browser one is signed out; its app's refresh token is dead.
        await one.page.goto(`${alias.issuer}/account`);
        await one.page.getByRole('heading', { name: 'Sign in' }).waitFor();
        const refreshed = await token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
        assert.equal(refreshed.status, 400);
        assert.equal(((await refreshed.json()) as Record<string, string>).error, 'invalid_grant');
      } finally {
        await two.context.close();
        await one.context.close();
      }
    });
  });
}
