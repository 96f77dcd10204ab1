// Issue 15 §1 in a real browser: Chromium with the DevTools WebAuthn virtual authenticator
// (ctap2, internal, resident keys, user verification) over a CDP session. A person adds a
// passkey on /account, signs out, is signed in by the e-mail field's passkey autofill
// (conditional mediation), signs out, signs in with it alone from an app's authorization
// request, the app finishes the code flow and the ID token (verified by oauth4webapi
// against the JWKS) says amr [hwk|swk, user] and acr urn:alias:acr:mfa; then the passkey
// is renamed and removed (removal asks for the password again once the sign-in is old).
// The issuer is http://localhost:PORT: an IP address cannot be a WebAuthn RP ID.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import type { Browser } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp, type Callbacks } from '../helpers/chromium.js';
import { REAUTH_WINDOW_MS } from '../../src/accounts/reauth.js';
import { ACR_MFA } from '../../src/oauth/acr.js';

for (const kind of databaseKinds()) {
  describe(`passkeys in a real browser (${kind.name})`, { skip: chromiumMissing ?? kind.skip }, () => {
    let alias: Alias;
    let browser: Browser;
    let app: Callbacks;

    before(async () => {
      alias = await startAlias(kind, { issuerHost: 'localhost' });
      app = await startCallbacks();
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await app?.close();
      await alias?.close();
    });

    it('add a passkey, sign in with it alone to an app (ID token amr hwk|swk + user, acr mfa), rename and remove it', async () => {
      const user = await alias.user();
      const redirectUri = app.url('/cb');
      const { client: registered, secret } = await alias.client({ name: 'Passkey app', redirectUris: [redirectUri] });
      const { context, page } = await openPage(browser);
      const problems = watchCsp(page);
      try {
        const cdp = await context.newCDPSession(page);
        await cdp.send('WebAuthn.enable', { enableUI: false });
        const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: {
          protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
          automaticPresenceSimulation: true } });

        // 1. Sign in with the password and add a passkey (a fresh sign-in counts as recent).
        await page.goto(`${alias.issuer}/account`);
        await page.getByLabel('E-mail').fill(user.email);
        await page.getByLabel('Password').fill(user.password);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
        await page.getByLabel('Name for the new passkey (optional)').fill('Test key');
        await page.getByRole('button', { name: 'Add a passkey' }).click();
        await page.getByText('Passkey added.').waitFor();
        await page.getByText('Test key', { exact: true }).waitFor();
        const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
        assert.equal(credentials.length, 1);
        assert.equal(credentials[0]!.isResidentCredential, true, 'a discoverable credential');
        assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 1);

        // 2. Sign out.
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.waitForURL(/\/account\/logout$/);

        // 3. Conditional mediation: on the sign-in page the browser offers the passkey from
        // the e-mail field's autofill; the virtual authenticator answers it at once, so the
        // person is signed in without pressing anything.
        await page.goto(`${alias.issuer}/account`);
        await page.getByRole('heading', { name: 'Your Alias account' }).waitFor();
        const sessions = await alias.s.store.sessions.listByUser(user.id, alias.s.now());
        assert.ok(sessions.some((x) => x.amr.includes('user') && (x.amr.includes('hwk') || x.amr.includes('swk'))), 'signed in by the passkey');
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.waitForURL(/\/account\/logout$/);

        // 4. An app's authorization request; the passkey alone signs in.
        const verifier = oauth.generateRandomCodeVerifier();
        const authorize = new URL(`${alias.issuer}/oauth2/authorize`);
        authorize.search = new URLSearchParams({ response_type: 'code', client_id: registered.id, redirect_uri: redirectUri,
          scope: 'openid', state: 'st-1', nonce: 'n-1', code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256' }).toString();
        // The button path, deterministically: this browser claims no autofill support, so
        // conditional mediation (which a virtual authenticator may answer at once) stays off.
        await page.addInitScript(() => {
          (window as unknown as { PublicKeyCredential: { isConditionalMediationAvailable: () => Promise<boolean> } })
            .PublicKeyCredential.isConditionalMediationAvailable = async () => false;
        });
        await page.goto(authorize.href);
        assert.equal(await page.getByLabel('E-mail').getAttribute('autocomplete'), 'username webauthn', 'autofill offered where supported');
        await page.getByRole('button', { name: 'Use a passkey' }).click();
        await page.getByRole('button', { name: 'Allow' }).click();
        const arrival = await app.next('/cb');
        assert.ok(arrival, 'the browser came back to the app');

        // 5. The app finishes the code flow; oauth4webapi verifies the ID token against the JWKS.
        const as = await oauth.processDiscoveryResponse(new URL(alias.issuer),
          await oauth.discoveryRequest(new URL(alias.issuer), { [oauth.allowInsecureRequests]: true }));
        const client: oauth.Client = { client_id: registered.id };
        const params = oauth.validateAuthResponse(as, client, arrival!.url, 'st-1');
        const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.ClientSecretBasic(secret!), params, redirectUri, verifier,
          { [oauth.allowInsecureRequests]: true });
        const result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: 'n-1', requireIdToken: true });
        const claims = oauth.getValidatedIdTokenClaims(result)!;
        await oauth.validateApplicationLevelSignature(as, response, { [oauth.allowInsecureRequests]: true });
        const amr = claims.amr as string[];
        assert.ok(amr.includes('hwk') || amr.includes('swk'), `amr ${JSON.stringify(amr)} names the key`);
        assert.ok(amr.includes('user'), 'amr says the authenticator verified its user');
        assert.equal(claims.acr, ACR_MFA);
        const [stored] = await alias.s.store.passkeys.listByUser(user.id);
        assert.ok(stored!.lastUsedAt, 'last use recorded');

        // 6. Rename it on /account.
        await page.goto(`${alias.issuer}/account`);
        await page.getByLabel('New name for “Test key”').fill('Work laptop');
        await page.getByRole('button', { name: 'Rename' }).click();
        await page.getByText('Passkey renamed.').waitFor();
        await page.getByText('Work laptop', { exact: true }).waitFor();

        // 7. Remove it: the sign-in is old by now, so the password is asked for first.
        alias.advance(REAUTH_WINDOW_MS + 60_000);
        await page.getByRole('button', { name: 'Remove “Work laptop”' }).click();
        await page.getByRole('heading', { name: 'Confirm it’s you' }).waitFor();
        await page.getByLabel('Password').fill(user.password);
        await page.getByRole('button', { name: 'Continue' }).click();
        await page.getByRole('heading', { name: 'Passkeys' }).waitFor();
        assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 1, 'not removed by the re-authentication itself');
        await page.getByRole('button', { name: 'Remove “Work laptop”' }).click();
        await page.getByText('Passkey removed.').waitFor();
        assert.equal((await alias.s.store.passkeys.listByUser(user.id)).length, 0);
        assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
      } finally {
        await context.close();
      }
    });
  });
}
