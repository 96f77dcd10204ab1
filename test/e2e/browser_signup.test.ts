// Issue 14 §1–2 in a real browser (Chromium via playwright-core), on SQLite and PostgreSQL:
// an app's authorization request → sign-in page → "Create an account" → the sign-up
// form → the verification mail (real SMTP sink) → its link → back on the consent page →
// Allow → the code → tokens validated by oauth4webapi. And a sign-up with a taken
// address: the same page, the owner gets the "someone tried" mail, no second account.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import type { Browser } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp, type Callbacks } from '../helpers/chromium.js';

const PASSWORD = 'marble kettle orchard 7';

for (const kind of databaseKinds()) {
  describe(`sign-up in a real browser (${kind.name})`, { skip: chromiumMissing ?? kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    let browser: Browser;
    let callbacks: Callbacks;
    let as: oauth.AuthorizationServer;

    before(async () => {
      callbacks = await startCallbacks('127.0.0.1');
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
      alias.s.relayWorker.start(100);
      const issuer = new URL(alias.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await alias?.s.relayWorker.stop();
      await alias?.close();
      await smtp?.close();
      await callbacks?.close();
    });

    const mailTo = async (to: string) => {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const got = smtp.received.find((r) => r.envelope.to.includes(to));
        if (got) return got;
        if (Date.now() > deadline) throw new Error(`no mail to ${to}`);
        alias.s.accountMail.kick();
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    it('§1/§2 app → sign-in → "Create an account" → mail → link → consent → Allow → tokens (oauth4webapi)', async () => {
      const redirectUri = callbacks.url('/cb');
      const { client, secret } = await alias.client({ name: 'Recipe app', redirectUris: [redirectUri] });
      const { context, page } = await openPage(browser, { viewport: { width: 390, height: 844 } });
      const problems = watchCsp(page);
      try {
        const state = oauth.generateRandomState();
        const nonce = oauth.generateRandomNonce();
        const verifier = oauth.generateRandomCodeVerifier();
        const url = new URL(as.authorization_endpoint!);
        url.search = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: redirectUri, scope: 'openid nickname',
          state, nonce, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString();
        await page.goto(url.href);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        await page.getByRole('link', { name: 'Create an account' }).click();
        await page.getByRole('heading', { name: 'Create an account' }).waitFor();
        assert.match(await page.content(), /Recipe app/, 'the form names the app waiting');

        const email = `chromium-${Date.now()}@example.com`;
        await page.getByLabel('E-mail').fill(email);
        await page.getByLabel('Password').fill('password');
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.locator('#password-error').waitFor();
        assert.match(await page.locator('#password-error').innerText(), /too easy to guess/, 'a common password is refused with why');
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByLabel('Nickname (optional)').fill('Cook');
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.getByRole('heading', { name: 'Check your mail' }).waitFor();

        const mail = await mailTo(email);
        const link = /https?:\/\/\S+\/verify-email\/[A-Za-z0-9_-]+/.exec(mail.mail.text ?? '')?.[0];
        assert.ok(link, mail.mail.text);
        await page.goto(link);
        await page.getByRole('button', { name: 'Allow' }).waitFor();
        assert.match(await page.content(), /Recipe app/, 'back in the flow that sent them, on the consent page');
        const arrival = callbacks.next('/cb');
        await page.getByRole('button', { name: 'Allow' }).click();
        const got = (await arrival)!;

        const oclient: oauth.Client = { client_id: client.id };
        const params = oauth.validateAuthResponse(as, oclient, new URL(`${redirectUri}?${got.query}`), state);
        const response = await oauth.authorizationCodeGrantRequest(as, oclient, oauth.ClientSecretBasic(secret!), params, redirectUri, verifier,
          { [oauth.allowInsecureRequests]: true });
        const result = await oauth.processAuthorizationCodeResponse(as, oclient, response, { expectedNonce: nonce, requireIdToken: true });
        const claims = oauth.getValidatedIdTokenClaims(result)!;
        assert.equal(claims.nickname, 'Cook');
        assert.equal(claims.email_verified, undefined, 'the address state is never released to apps');
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });

    it('§1 a taken address: the same "check your mail" page, the owner gets the "someone tried" mail, no second account', async () => {
      const owner = await alias.user();
      const { context, page } = await openPage(browser);
      try {
        await page.goto(`${alias.issuer}/account`);
        await page.getByRole('link', { name: 'Create an account' }).click();
        await page.getByLabel('E-mail').fill(owner.email);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Create account' }).click();
        await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
        const mail = await mailTo(owner.email);
        assert.match(mail.mail.subject ?? '', /Someone tried to create an account/);
        assert.ok(mail.mail.text?.includes(`${alias.issuer}/forgot`));
        const user = await alias.s.store.users.getByEmail(owner.email);
        assert.equal(user!.id, owner.id, 'no second account');
      } finally {
        await context.close();
      }
    });
  });
}
