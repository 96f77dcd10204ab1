// Issue 15 §1 and §3 in a real browser: Chromium with the DevTools WebAuthn virtual
// authenticator (ctap2, internal, resident keys, user verification) over a CDP session,
// on SQLite and PostgreSQL, with a real SMTP sink for the mails.
// - Step-up with a passkey: a password sign-in to an app asking acr_values=urn:alias:acr:mfa
//   → "Use a passkey" → the ID token (oauth4webapi, against JWKS) says acr mfa, amr with
//   pwd, hwk|swk and user (OIDC Core §3.1.2.1 acr_values; RFC 8176 §2).
// - Re-authentication with a passkey on /account before removing one.
// - A --require-mfa app and a person with no second factor: the "two-step sign-in needed"
//   page adds a passkey and goes on to the app.
// - Sign-up with a passkey instead of a password → the verification mail → its link →
//   signed out, signed in again with the passkey alone; the account has no password, its
//   re-authentication offers only the passkey, and its last passkey cannot be removed.
// The issuer is http://localhost:PORT: an IP address cannot be a WebAuthn RP ID.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp, type Callbacks } from '../helpers/chromium.js';
import { REAUTH_WINDOW_MS } from '../../src/accounts/reauth.js';
import { ACR_MFA } from '../../src/oauth/acr.js';

const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** A page whose browser has a virtual authenticator that says yes at once (user verified). */
async function withAuthenticator(browser: Browser): Promise<{ context: BrowserContext; page: Page; problems: string[];
  credentials(): Promise<unknown[]> }> {
  const { context, page } = await openPage(browser);
  const problems = watchCsp(page);
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable', { enableUI: false });
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
    protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
    automaticPresenceSimulation: true } });
  // Buttons only: conditional mediation (which a virtual authenticator may answer at once) stays off.
  await page.addInitScript(() => {
    (window as unknown as { PublicKeyCredential: { isConditionalMediationAvailable: () => Promise<boolean> } })
      .PublicKeyCredential.isConditionalMediationAvailable = async () => false;
  });
  return { context, page, problems,
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials };
}

for (const kind of databaseKinds()) {
  describe(`passkeys for re-authentication, step-up and sign-up in a real browser (${kind.name})`, { skip: chromiumMissing ?? kind.skip }, () => {
    let alias: Alias;
    let browser: Browser;
    let app: Callbacks;
    let smtp: SmtpSink;
    let as: oauth.AuthorizationServer;

    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { issuerHost: 'localhost', env: { ALIAS_SMTP_URL: smtp.url } });
      alias.s.relayWorker.start(100);
      app = await startCallbacks();
      browser = await launchChromium();
      const issuer = new URL(alias.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    });
    after(async () => {
      await browser?.close();
      await app?.close();
      await alias?.s.relayWorker.stop();
      await alias?.close();
      await smtp?.close();
    });

    /** The link of the newest mail to `to` whose path starts with `prefix`. */
    async function mailLink(to: string, prefix: string): Promise<string> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const got = [...smtp.received].reverse().find((r) => r.envelope.to.includes(to));
        const link = got && new RegExp(`${alias.issuer}${prefix}[A-Za-z0-9_-]+`).exec(got.mail.text ?? '')?.[0];
        if (link) return link;
        if (Date.now() > deadline) throw new Error(`no mail to ${to} with ${prefix}`);
        alias.s.accountMail.kick();
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    /** Starts a code flow (PKCE) for `clientId` in `page`; returns what the token request needs. */
    async function authorize(page: Page, clientId: string, extra: Record<string, string> = {}) {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: app.url('/cb'), scope: 'openid',
        state, nonce, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra }).toString();
      await page.goto(url.href);
      return { verifier, state, nonce };
    }

    /** The app's side: the code from the callback, exchanged; the ID token's claims, verified by oauth4webapi. */
    async function idToken(clientId: string, secret: string, flow: { verifier: string; state: string; nonce: string }) {
      const arrival = await app.next('/cb');
      assert.ok(arrival, 'the browser came back to the app');
      const client: oauth.Client = { client_id: clientId };
      const params = oauth.validateAuthResponse(as, client, arrival!.url, flow.state);
      const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(secret), params, app.url('/cb'),
        flow.verifier, insecure);
      const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: flow.nonce, requireIdToken: true });
      return oauth.getValidatedIdTokenClaims(result)!;
    }

    async function passwordSignIn(page: Page, email: string, password: string) {
      await page.getByLabel('E-mail').fill(email);
      await page.getByLabel('Password').fill(password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    }

    it('§3 step-up with a passkey: password sign-in, acr_values mfa → "Use a passkey" → ID token acr mfa, amr pwd + hwk|swk + user; §1 re-authentication with it', async () => {
      const user = await alias.user();
      const { client, secret } = await alias.client({ name: 'Bank', redirectUris: [app.url('/cb')] });
      const { context, page, problems, credentials } = await withAuthenticator(browser);
      try {
        // A passkey, added on /account after a password sign-in.
        await page.goto(`${alias.issuer}/account`);
        await passwordSignIn(page, user.email, user.password);
        await page.getByRole('button', { name: 'Add a passkey' }).click();
        await page.getByText('Passkey added.').waitFor();
        assert.equal((await credentials()).length, 1);
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.waitForURL(/\/account\/logout$/);

        // The app asks for urn:alias:acr:mfa; the person signs in with the password only.
        const flow = await authorize(page, client.id, { acr_values: ACR_MFA });
        await passwordSignIn(page, user.email, user.password);
        await page.getByRole('heading', { name: 'Two-step sign-in' }).waitFor();
        await page.getByText('Use one of your passkeys to continue.').waitFor();
        assert.equal(await page.getByLabel('Code').count(), 0, 'no code form without an authenticator app');
        await page.getByRole('button', { name: 'Use a passkey' }).click();
        await page.getByRole('button', { name: 'Allow' }).click();
        const claims = await idToken(client.id, secret!, flow);
        assert.equal(claims.acr, ACR_MFA);
        const amr = claims.amr as string[];
        assert.ok(amr.includes('pwd'), `amr ${JSON.stringify(amr)} keeps the password`);
        assert.ok(amr.includes('hwk') || amr.includes('swk'), `amr ${JSON.stringify(amr)} names the key`);
        assert.ok(amr.includes('user'), 'the authenticator verified its user');

        // Re-authentication with the passkey: removing it needs a recent sign-in.
        await page.goto(`${alias.issuer}/account`);
        alias.advance(REAUTH_WINDOW_MS + 60_000);
        await page.getByRole('button', { name: /^Remove “/ }).click();
        await page.getByRole('heading', { name: 'Confirm it’s you' }).waitFor();
        await page.getByRole('button', { name: 'Use a passkey' }).click();
        await page.waitForURL(/\/account#passkeys$/);
        const sessions = await alias.s.store.sessions.listByUser(user.id, alias.s.now());
        const newest = sessions.sort((a, b) => b.authTime - a.authTime)[0]!;
        assert.ok(alias.s.now() - newest.authTime < 60_000, 'the passkey made the sign-in recent');
        assert.ok(newest.amr.includes('user'), 'marked with what the passkey proved');
        await page.getByRole('button', { name: /^Remove “/ }).click();
        await page.getByText('Passkey removed.').waitFor();
        assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 0);
        assert.deepEqual(problems, [], 'no Content-Security-Policy errors');
      } finally {
        await context.close();
      }
    });

    it('§3 a --require-mfa app, no second factor yet: "Two-step sign-in needed" adds a passkey and goes on; the ID token says mfa', async () => {
      const user = await alias.user();
      const { client, secret } = await alias.client({ name: 'Payroll', redirectUris: [app.url('/cb')], requireMfa: true });
      const { context, page, problems } = await withAuthenticator(browser);
      try {
        const flow = await authorize(page, client.id);
        await passwordSignIn(page, user.email, user.password);
        await page.getByRole('heading', { name: 'Two-step sign-in needed' }).waitFor();
        await page.getByRole('link', { name: 'Set up an authenticator app' }).waitFor();
        await page.getByRole('button', { name: 'Add a passkey' }).click();
        await page.getByRole('button', { name: 'Allow' }).click();
        const claims = await idToken(client.id, secret!, flow);
        assert.equal(claims.acr, ACR_MFA);
        assert.ok((claims.amr as string[]).includes('user'));
        assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 1);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });

    it('§1 sign-up with a passkey → verification mail → link → sign-in with the passkey alone; no password; the last passkey stays', async () => {
      const email = `pk-${Date.now()}@example.com`;
      const { context, page, problems, credentials } = await withAuthenticator(browser);
      try {
        await page.goto(`${alias.issuer}/signup`);
        await page.getByLabel('E-mail').fill(email);
        await page.getByRole('button', { name: 'Sign up with a passkey' }).click();
        await page.getByRole('heading', { name: 'Check your mail' }).waitFor();
        assert.equal((await credentials()).length, 1, 'the authenticator holds the new passkey');
        const user = await alias.s.store.users.getByEmail(email);
        assert.ok(user, 'the account exists');
        assert.equal(user.emailVerified, false, 'unverified until the link is opened');
        assert.equal(user.passwordHash, null, 'no password');

        await page.goto(await mailLink(email, '/verify-email/'));
        assert.equal((await alias.s.store.users.get(user.id))!.emailVerified, true);
        // The link confirms the address but signs nobody in: a session from it would claim a
        // password sign-in (amr pwd) for an account that has no password.
        await page.getByText('Sign in with your passkey to go on.').waitFor();
        await page.goto(`${alias.issuer}/account`);
        await page.getByRole('button', { name: 'Use a passkey' }).click();
        await page.getByRole('heading', { name: 'Your Alias account' }).waitFor();
        await page.getByRole('button', { name: 'Set a password' }).waitFor();
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.waitForURL(/\/account\/logout$/);

        // Signed in again by the passkey alone.
        await page.goto(`${alias.issuer}/account`);
        await page.getByRole('button', { name: 'Use a passkey' }).click();
        await page.getByRole('heading', { name: 'Your Alias account' }).waitFor();

        // Re-authentication offers only the passkey; the last passkey cannot be removed.
        alias.advance(REAUTH_WINDOW_MS + 60_000);
        await page.getByRole('button', { name: /^Remove “/ }).click();
        await page.getByRole('heading', { name: 'Confirm it’s you' }).waitFor();
        assert.equal(await page.getByLabel('Password').count(), 0, 'no password form for an account without a password');
        await page.getByRole('button', { name: 'Use a passkey' }).click();
        await page.waitForURL(/\/account#passkeys$/);
        await page.getByRole('button', { name: /^Remove “/ }).click();
        await page.getByText('This is your only way to sign in, so it stays.').waitFor();
        assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 1);
        assert.deepEqual(problems, []);
      } finally {
        await context.close();
      }
    });
  });
}
